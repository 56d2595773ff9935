# Two commands on a fresh machine (each sets up what it needs, idempotently):
#
#   make report [ARGS="--preset smoke --out DIR"]   run the main job, print where the page is
#   make test   [ARGS="-k probe"]                    run the test suite exactly as CI does
#
# Both create the project's virtual environment .venv if it is missing, install a CPU build of
# torch when none is present (an unpinned install could pull a multi-GB CUDA build), then the
# package with the extras below. Variables: PYTHON (interpreter to build .venv from, default
# python3), VENV (default .venv), TORCH (the torch requirement installed when torch is missing),
# EXTRAS (the extras installed), ARGS (passed through to the command).

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
EXTRAS ?= dev,probe,dask,docs
ARGS ?=
comma := ,

# The test command of the README and of .ci/run (keep the three identical).
TEST_COMMAND = HYPOTHESIS_PROFILE=ci $(VENV)/bin/python -m pytest -q

.PHONY: help report test test-fast lint typecheck docs env check-python
.DEFAULT_GOAL := help

help:
	@sed -n '1,5p' Makefile | sed 's/^# \{0,1\}//'

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
$(VENV)/.installed-%: pyproject.toml | check-python
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -c 'import torch' 2>/dev/null || $(VENV)/bin/python -m pip install --quiet '$(TORCH)'
	$(VENV)/bin/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	@touch $@
