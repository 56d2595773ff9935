"""Packaging: SPDX license, bounded optional dependencies, and lower bounds that CI installs."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def load_min_versions():
    spec = importlib.util.spec_from_file_location("min_versions", ROOT / ".ci" / "min_versions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lower_bound_pins_known_answers():
    pins = load_min_versions().lower_bound_pins(
        ["numpy>=1.24", "hypothesis>=6.100.0", "dask[distributed]>=2024.1", "tomli; python_version<'3.11'",
         "mnist1d>=0.0.2.post1,<0.1"])
    assert pins == ["numpy==1.24.*", "hypothesis==6.100.0", "dask==2024.1.*", "mnist1d==0.0.2.post1"]


def test_every_core_dependency_states_a_lower_bound_that_ci_pins():
    pins = load_min_versions().lower_bound_pins(PROJECT["dependencies"])
    named = {p.split("==")[0].lower() for p in pins}
    for requirement in PROJECT["dependencies"]:
        name = requirement.split(">=")[0].split("[")[0].split(";")[0].strip().lower()
        if ";" in requirement and "python_version" in requirement:
            continue  # a backport only some Pythons install
        assert name in named, f"{requirement!r} has no '>=' lower bound for CI to test"


def test_license_is_an_spdx_expression_and_the_file_ships():
    assert PROJECT["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_probe_extra_admits_the_releases_the_adapter_reads():
    """The probe extra does not exclude releases users have: no upper bound (a new release that
    moves the mHC layout gets a clear error from the adapter, tests/test_probe.py), and the
    lower bound is the first release with mHC (0.3; 0.3.x and 0.4.x module layouts are read)."""
    (requirement,) = [r for r in PROJECT["optional-dependencies"]["probe"] if r.startswith("hyper-connections")]
    assert requirement.replace(" ", "") == "hyper-connections>=0.3"


def test_digits_ship_with_the_package_and_scikit_learn_is_no_core_dependency():
    """Issue 14 item 9: the 8x8 digits are read from a file in the package; scikit-learn only
    cross-checks them in the tests (dev extra)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for name in data["entangled"]:
        assert (ROOT / "entangled" / name).is_file(), name
    assert "tasks/data/digits.csv.gz" in data["entangled"]
    assert not [r for r in PROJECT["dependencies"] if r.lower().startswith("scikit-learn")]
    assert any(r.startswith("scikit-learn>=") for r in PROJECT["optional-dependencies"]["dev"])
    assert "CC BY 4.0" in (ROOT / "entangled" / "tasks" / "data" / "DIGITS.md").read_text()


def _setuptools_config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _source_dir(package, package_dir):
    """The repository folder of ``package`` under setuptools' ``package-dir`` (longest prefix)."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in package_dir:
            return ROOT / package_dir[prefix] / Path(*parts[cut:])
    return ROOT / Path(*parts)


def test_one_top_level_import_name_and_every_package_listed():
    """Issue 24 item 5: the only top-level package installed is ``entangled``; the repository's
    theory/ and reports/ folders are installed under it, and every folder holding an
    ``__init__.py`` is in the package list (so none is left out of the wheel)."""
    config = _setuptools_config()
    packages, package_dir = config["packages"], config["package-dir"]
    assert {p.split(".")[0] for p in packages} == {"entangled"}
    assert package_dir == {"entangled.theory": "theory", "entangled.reports": "reports"}
    on_disk = set()
    for top, name in (("entangled", "entangled"), ("theory", "entangled.theory"),
                      ("reports", "entangled.reports")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            on_disk.add(".".join([name, *rel.parts]))
    assert set(packages) == on_disk
    for package in packages:
        assert (_source_dir(package, package_dir) / "__init__.py").is_file(), package


def test_the_package_never_imports_the_old_top_level_names():
    """No module of the three folders imports ``theory`` or ``reports`` as a top-level name
    (which would only work from the repository root and would load a second copy)."""
    import ast

    offenders = []
    for top in ("entangled", "theory", "reports"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                              if n.split(".")[0] in ("theory", "reports")]
    assert offenders == []


def _init_version() -> str:
    """The ``__version__`` literal of entangled/__init__.py (read, not imported)."""
    import ast

    tree = ast.parse((ROOT / "entangled" / "__init__.py").read_text(encoding="utf-8"))
    values = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
              and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
              and isinstance(node.value, ast.Constant)]
    assert len(values) == 1, "entangled/__init__.py must assign __version__ one string literal"
    return values[0]


def test_the_version_is_written_once():
    """pyproject.toml reads the version from entangled.__version__ (no second copy), and the
    command prints that same string."""
    from entangled.cli import version

    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert _setuptools_config()["dynamic"]["version"] == {"attr": "entangled.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", _init_version())
    assert version() == _init_version()


@pytest.mark.slow
def test_the_wheel_ships_py_typed_and_the_single_sourced_version(tmp_path):
    """Build the wheel as a release would (setuptools from this environment, no download)."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} is older than the build requires (77)")
    import subprocess
    import zipfile

    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("entangled-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"entangled-{_init_version()}.dist-info/METADATA").decode()
    assert "entangled/py.typed" in names
    assert f"\nVersion: {_init_version()}\n" in metadata
    assert {"entangled/theory/__init__.py", "entangled/reports/__init__.py"} <= names
