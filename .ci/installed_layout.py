"""The package as it is installed, laid out as symbolic links: ``DIR/entangled`` with the
repository's ``theory/`` and ``reports/`` as ``entangled/theory`` and ``entangled/reports``.

pyproject.toml maps those folders into the package (``[tool.setuptools.package-dir]``); tools
that read source files by path (mypy, griffe for the API reference) find a subpackage only
inside its parent's folder, so they are pointed at this layout instead of the repository.
``python .ci/installed_layout.py DIR`` builds it (replacing DIR's ``entangled``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def mapped_folders() -> dict[str, Path]:
    """Subpackages of ``entangled`` that live outside ``entangled/``: name -> folder."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_dir = config["tool"]["setuptools"]["package-dir"]
    return {name.removeprefix("entangled."): ROOT / folder for name, folder in package_dir.items()
            if name.startswith("entangled.") and "." not in name.removeprefix("entangled.")}


def installed_layout(target: Path) -> Path:
    """Build ``target/entangled`` as installed (links into the repository); return ``target``."""
    package = target / "entangled"
    if package.is_symlink() or package.is_file():
        package.unlink()
    elif package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    for entry in (ROOT / "entangled").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in mapped_folders().items():
        (package / name).symlink_to(folder)
    return target


if __name__ == "__main__":
    print(installed_layout(Path(sys.argv[1]).resolve()))
