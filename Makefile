# Two commands on a fresh machine (each sets up what it needs, idempotently):
#
#   make report [ARGS="--preset smoke --out DIR"]   run the main job, print where the page is
#   make test   [ARGS="-k probe"]                    run the test suite exactly as CI does
#
# Both create the project's virtual environment .venv if it is missing, install torch when none
# is present, then the package with the extras below, saying what each step installs (pip's
# own lines follow). Variables: PYTHON (interpreter to build .venv from, default python3), VENV
# (default .venv), TORCH (the torch requirement installed when torch is missing), TORCH_INDEX
# (an index to take torch from, e.g. PyTorch's CPU-only wheels
# https://download.pytorch.org/whl/cpu; empty: pip's configured index), EXTRAS (the extras
# installed), ARGS (passed through to the command).
#
# Which torch build you get is decided by the index, not by the version pin: on Linux x86_64
# PyPI's torch wheel is the CUDA build (it pulls several GB of nvidia-* packages); with
# TORCH_INDEX=https://download.pytorch.org/whl/cpu it is the CPU build (a few hundred MB). On
# macOS, Windows and Linux aarch64 PyPI's wheel has no CUDA packages and the option changes
# nothing.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
EXTRAS ?= dev,probe,dask,docs
ARGS ?=
comma := ,

# The test command of the README and of .ci/run (keep the three identical).
TEST_COMMAND = HYPOTHESIS_PROFILE=ci $(VENV)/bin/python -m pytest -q

.PHONY: help report test test-fast lint typecheck docs env check-python
.DEFAULT_GOAL := help

help:
	@sed -n '1,20p' Makefile | sed 's/^# \{0,1\}//'

report: env
	$(VENV)/bin/entangled report $(ARGS)

test: env
	$(TEST_COMMAND) $(ARGS)

# The inner loop: the suite without the tests marked slow, browser or dask (docs/development.md
# says how long it takes). `make test` stays the full suite CI runs.
test-fast: env
	$(TEST_COMMAND) -m "not slow and not browser and not dask" $(ARGS)

# Lint (ruff, configured in pyproject.toml); CI runs it before the tests.
lint: env
	$(VENV)/bin/ruff check .

# Types (mypy, configured in pyproject.toml) on the package as installed (.ci/typecheck.py).
typecheck: env
	$(VENV)/bin/python .ci/typecheck.py

# The documentation site, built strictly (broken links, anchors or references fail) into site/.
docs: env
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

env: $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null || { \
	    echo "entangled needs Python >= 3.10: '$(PYTHON)' is missing or older."; \
	    echo "Install it (Debian/Ubuntu: sudo apt-get install python3 python3-venv) or run make PYTHON=/path/to/python3.X"; \
	    exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	    echo "'$(PYTHON)' has no working venv module (ensurepip is missing)."; \
	    echo "Install it (Debian/Ubuntu: sudo apt-get install python3-venv) or run make PYTHON=/path/to/python3.X"; \
	    exit 1; }

# Rebuilt when pyproject.toml changes or when EXTRAS asks for other extras.
# pip runs with --progress-bar off (a log file gets no bar) and without --quiet: every package
# it collects and installs is a line, so a long install is never silent.
PIP = $(VENV)/bin/python -m pip install --progress-bar off --disable-pip-version-check
ifeq ($(TORCH_INDEX),)
TORCH_FROM = pip's configured index
TORCH_PIP_ARGS =
TORCH_HINT = echo "      (from PyPI on Linux x86_64 that is the CUDA build, several GB; for the CPU build: make $(MAKECMDGOALS) TORCH_INDEX=https://download.pytorch.org/whl/cpu)"
else
TORCH_FROM = $(TORCH_INDEX)
TORCH_PIP_ARGS = --index-url '$(TORCH_INDEX)'
TORCH_HINT = true
endif
$(VENV)/.installed-%: pyproject.toml | check-python
	@test -x $(VENV)/bin/python || { echo "make: creating the virtual environment $(VENV) with $(PYTHON)"; \
	    $(PYTHON) -m venv $(VENV); }
	@if $(VENV)/bin/python -c 'import torch' 2>/dev/null; then \
	    echo "make: keeping the torch already in $(VENV) ($$($(VENV)/bin/python -c 'import torch; print(torch.__version__)'))"; \
	else \
	    echo "make: installing $(TORCH) from $(TORCH_FROM) (the largest download)"; \
	    $(TORCH_HINT); \
	    $(PIP) $(TORCH_PIP_ARGS) '$(TORCH)'; \
	fi
	@echo "make: installing entangled (editable) with the extras [$(EXTRAS)] and their dependencies"
	$(PIP) -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "make: $(VENV) is ready"
