"""The tree is ruff-clean under the project's configuration (pyproject.toml, [tool.ruff]).

CI also runs ``make lint`` before the tests; this test makes a plain ``pytest`` run catch a
lint finding before landing. ruff comes with the ``dev`` extra; without it the test is skipped,
except in CI (``CI`` set), which installs the extra.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff_or_skip() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")
    found = str(beside) if beside.exists() else shutil.which("ruff")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must lint, but ruff (the dev extra) is not installed")
        pytest.skip("ruff is not installed: pip install -e '.[dev]'")
    return [found]


def test_ruff_finds_nothing_in_the_repository():
    done = subprocess.run([*ruff_or_skip(), "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_configuration_flags_a_real_bug(tmp_path):
    """Known bad input: an unused import and a mutable default argument are findings."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("import os\n\n\ndef f(x=[]):\n    return x\n")
    done = subprocess.run([*ruff_or_skip(), "check", "--no-cache", "--output-format", "concise", "bad.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "F401" in done.stdout and "B006" in done.stdout


#: The modules exempt from mypy (pyproject.toml, "Typing debt") on 2026-12-06. The list only
#: shrinks: lower this number when you fix a module, never raise it.
TYPING_DEBT_MODULES = 13


def test_the_typing_debt_only_shrinks_and_names_real_modules():
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    exempt = [name for override in mypy.get("overrides", []) if override.get("ignore_errors")
              for name in override["module"]]
    assert len(exempt) <= TYPING_DEBT_MODULES, "a module was added to the typing debt: fix its errors instead"
    folders = {"entangled.theory": ROOT / "theory", "entangled.reports": ROOT / "reports"}
    for name in exempt:
        prefix = next(p for p in folders if name.startswith(p + "."))
        path = folders[prefix].joinpath(*name[len(prefix) + 1:].split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), name


@pytest.mark.slow  # mypy over the whole package: seconds with its cache, a minute without
def test_mypy_finds_nothing_in_the_installed_package():
    """`make typecheck` as CI runs it (before the tests, which warms the cache for this one)."""
    try:
        import mypy  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must type-check, but mypy (the dev extra) is not installed")
        pytest.skip("mypy is not installed: pip install -e '.[dev]'")
    done = subprocess.run([sys.executable, str(ROOT / ".ci" / "typecheck.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
