"""Issue 24: the only top-level import name installed is ``entangled``, so a user's project with
its own ``theory`` and ``reports`` packages, or PyPI's ``reports`` (0.4.1, a top-level
``reports``) installed beside us, collides with nothing: the user's tests, ``pytest
--conjecture-catalog`` and every ``entangled`` subcommand still work there.

(CI installs the real ``reports==0.4.1`` before ``make report --preset smoke`` and the suite:
``.ci/run``.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _user_project(root: Path) -> Path:
    """A project with top-level ``theory`` and ``reports`` packages and a test of its own."""
    (root / "theory").mkdir()
    (root / "theory" / "__init__.py").write_text("ANSWER = 42\n")
    (root / "reports").mkdir()
    (root / "reports" / "__init__.py").write_text("def title():\n    return 'my reports'\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_mine.py").write_text(textwrap.dedent("""
        import reports
        import theory

        def test_my_packages_are_mine():
            assert theory.ANSWER == 42 and reports.title() == "my reports"
    """))
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    return root


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={**environment, **env})


def test_a_project_with_its_own_theory_and_reports_runs_its_tests_and_the_catalog(tmp_path):
    project = _user_project(tmp_path)
    out = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--conjecture-catalog",
                "--conjecture-examples", "2", "-k", "mine or orthogonality_error_vanishes"],
               project)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    # the user's test and the catalog's orthogonality check on every orthogonal family
    from entangled.theory.conjectures.norms import orthogonality_error_vanishes

    checks = len(orthogonality_error_vanishes.__conjecture__.searched_families())
    assert checks >= 5 and f"{1 + checks} passed" in out.stdout, out.stdout[-2000:]


def test_every_subcommand_is_there_beside_top_level_theory_and_reports(tmp_path):
    project = _user_project(tmp_path)
    out = _run(["-m", "entangled", "--help"], project, PYTHONPATH=str(project))
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("    ")}
    assert {"families", "train", "sweep", "verify", "probe", "report"} <= listed
    code = ("import theory, reports, entangled.theory.engine, entangled.reports.build; "
            "print(theory.ANSWER, reports.title(), entangled.reports.build.__name__)")
    out = _run(["-c", code], project, PYTHONPATH=str(project))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["42", "my", "reports", "entangled.reports.build"]
    out = _run(["-m", "entangled", "report", "--help"], project, PYTHONPATH=str(project))
    assert out.returncode == 0 and "--preset" in out.stdout, out.stderr
