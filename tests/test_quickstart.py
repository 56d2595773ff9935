"""The Quickstart's two commands, the Makefile behind them and .ci/run cannot drift apart."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_quickstart_is_two_make_commands():
    assert quickstart_commands() == ["make report", "make test"]


def test_ci_runs_the_readme_test_command_and_the_report_command():
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in ci.splitlines() if not line.strip().startswith("#")]
    assert "make test" in lines
    assert any(line.startswith("make report") and "--preset smoke" in line for line in lines)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_sets_up_the_environment_then_runs_pytest_with_the_ci_profile(tmp_path):
    venv = tmp_path / "venv"
    dry = subprocess.run(["make", "-n", "test", f"VENV={venv}", "ARGS=-k quick"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    steps = dry.splitlines()
    creates = next(i for i, s in enumerate(steps) if "-m venv" in s)
    installs_torch = next(i for i, s in enumerate(steps) if "torch==" in s)
    installs_pkg = next(i for i, s in enumerate(steps) if 'pip install' in s and ' -e ".[' in s)
    runs = next(i for i, s in enumerate(steps) if s.startswith("HYPOTHESIS_PROFILE="))
    assert creates < installs_torch < installs_pkg < runs
    assert steps[runs] == f"HYPOTHESIS_PROFILE=ci {venv}/bin/python -m pytest -q -k quick"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_says_what_it_installs_and_offers_the_cpu_wheel_index(tmp_path):
    """No silent install: each step announces itself, pip is not --quiet; the torch step names
    PyTorch's CPU wheel index and uses it when TORCH_INDEX is given."""
    venv = tmp_path / "venv"
    dry = subprocess.run(["make", "-n", "test", f"VENV={venv}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "--quiet" not in dry and "-q " not in dry.split("HYPOTHESIS_PROFILE")[0]
    assert "installing torch==" in dry and "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in dry
    assert "installing entangled (editable) with the extras [dev,probe,dask" in dry
    assert "--index-url" not in dry
    cpu = subprocess.run(["make", "-n", "test", f"VENV={venv}",
                          "TORCH_INDEX=https://download.pytorch.org/whl/cpu"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "--index-url 'https://download.pytorch.org/whl/cpu' 'torch==" in cpu


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_refuses_a_missing_python_with_a_message(tmp_path):
    done = subprocess.run(["make", "test", f"VENV={tmp_path / 'venv'}", "PYTHON=/nonexistent/python3"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0
    assert "needs Python >= 3.10" in done.stdout + done.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_fast_is_the_ci_command_without_the_registered_slow_markers(tmp_path):
    """``make test-fast`` runs the README's test command, deselecting exactly the markers that
    pyproject.toml registers for it (slow, browser, dask); ``make test`` deselects nothing."""
    import sys

    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    registered = [m.split(":")[0] for m in ini["markers"]]
    assert registered == ["slow", "browser", "dask"] and "--strict-markers" in ini["addopts"]
    venv = tmp_path / "venv"
    dry = subprocess.run(["make", "-n", "test-fast", f"VENV={venv}"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    run = next(s for s in dry if s.startswith("HYPOTHESIS_PROFILE="))
    assert run == (f"HYPOTHESIS_PROFILE=ci {venv}/bin/python -m pytest -q "
                   f"-m \"{' and '.join('not ' + m for m in registered)}\" ")
