"""Tests of the pytest plugin (entry point entangled.pytest_plugin, items in
entangled.theory.pytest_plugin) with pytester, outside the repository."""

import textwrap

# pytester runs pytest in-process and afterwards drops the modules the inner run imported;
# torch cannot be imported twice in one process, so import the stack here, before any run.
import entangled
import entangled.theory.cli_verify
import entangled.theory.engine
import entangled.theory.loader  # noqa: F401

pytest_plugins = ["pytester"]

CLAIMS = '''
from entangled.theory import conjecture


@conjecture(families=["rotation", "permutation"], n=(1, 8))
def unit_singular_values(m):
    """Rotations and permutations are isometries."""
    return float((m.singular_values() - 1).abs().max())


@conjecture(families=["orthogonal"], n=(1, 10))
def at_most_three(m):
    """Wrong on purpose: n <= 3."""
    return m.n <= 3


@conjecture(families=["identity"], expected="falsified", n=(1, 10))
def identity_at_most_three(m):
    """Believed false, and it is."""
    return m.n <= 3
'''


def _write_claims(pytester):
    claims_dir = pytester.mkdir("claims")
    path = claims_dir / "user_claims.py"
    path.write_text(textwrap.dedent(CLAIMS))
    return path


def test_conjectures_option_collects_items_with_readable_ids(pytester):
    path = _write_claims(pytester)
    result = pytester.runpytest("--conjectures", str(path), "--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "*conjecture[[]user_claims.unit_singular_values-rotation[]]",
        "*conjecture[[]user_claims.unit_singular_values-permutation[]]",
        "*conjecture[[]user_claims.at_most_three-orthogonal[]]",
        "*conjecture[[]user_claims.identity_at_most_three-identity[]]",
        "4 tests collected*",
    ])
    assert result.ret == 0


def test_verdicts_become_passes_and_failures_with_snippet(pytester):
    path = _write_claims(pytester)
    result = pytester.runpytest("--conjectures", str(path), "--conjecture-examples", "10")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "*verdict 'falsified', expected 'holds'*",
        "*counterexample: {'family': 'orthogonal', 'n': 4*",
        "*python -c 'import entangled as E;*at_most_three(E.make_mapping(\"orthogonal\", 4))))'",
    ])


def test_plugin_is_inert_without_options(pytester):
    _write_claims(pytester)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)
    assert "conjecture[" not in result.stdout.str()


def test_broken_conjecture_file_fails_with_traceback(pytester):
    broken = pytester.path / "broken_claims.py"
    broken.write_text("raise RuntimeError('cannot import me')\n")
    result = pytester.runpytest("--conjectures", str(broken))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*could not load conjectures*", "*cannot import me*"])


def test_ini_catalog_only_on_default_paths(pytester):
    pytester.makeini("[pytest]\nconjecture_catalog = true\n")
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    default = pytester.runpytest("--collect-only", "-q")
    assert "conjecture[spectral." in default.stdout.str()
    explicit = pytester.runpytest("--collect-only", "-q", "test_plain.py")
    assert "conjecture[" not in explicit.stdout.str()
    forced = pytester.runpytest("--collect-only", "-q", "test_plain.py", "--conjecture-catalog")
    assert "conjecture[spectral." in forced.stdout.str()


OWN_THEORY_TEST = '''
import sys
from pathlib import Path

from theory import ANSWER


def test_own_theory_package(pytestconfig):
    assert ANSWER == 42
    assert Path(sys.modules["theory"].__file__).parent == Path(__file__).parent / "theory"
    assert pytestconfig.getoption("conjectures") == []  # entangled's plugin is loaded
    assert "entangled.theory.pytest_plugin" not in sys.modules and "entangled.theory.engine" not in sys.modules
'''


def test_unrelated_project_with_its_own_theory_package_passes(tmp_path):
    """Issue 14 item 1: the entry point imports nothing of entangled's ``theory`` until asked,
    so a project with its own top-level ``theory`` package runs its tests unchanged."""
    import os
    import subprocess
    import sys

    (tmp_path / "theory").mkdir()
    (tmp_path / "theory" / "__init__.py").write_text("ANSWER = 42\n")
    (tmp_path / "test_own.py").write_text(OWN_THEORY_TEST)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "test_own.py"], cwd=tmp_path, capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
