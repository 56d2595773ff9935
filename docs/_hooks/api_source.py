"""MkDocs hook: let mkdocstrings read ``entangled.theory`` and ``entangled.reports`` statically.

The repository installs ``theory/`` and ``reports/`` as ``entangled.theory`` and
``entangled.reports`` (a setuptools package-dir mapping). griffe, which mkdocstrings uses to
read the source, finds subpackages only inside their parent's folder, so this hook builds the
installed layout as a tree of symbolic links in a temporary directory and points the Python
handler at it. Nothing is imported: the API reference is read from the source.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]
#: Subpackages that live outside ``entangled/``: import name below ``entangled`` -> folder.
MAPPED = {"theory": ROOT / "theory", "reports": ROOT / "reports"}
_source: Path | None = None


def installed_layout(target: Path) -> Path:
    """Build ``target/entangled`` as installed (links into the repository) and return ``target``."""
    package = target / "entangled"
    package.mkdir(parents=True)
    for entry in (ROOT / "entangled").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (package / name).symlink_to(folder)
    return target


@event_priority(100)  # before mkdocstrings reads its handlers' options
def on_config(config, **kwargs):
    global _source
    _source = installed_layout(Path(tempfile.mkdtemp(prefix="entangled-api-")))
    source = _source
    handlers = config.plugins["mkdocstrings"].config.handlers
    handlers.setdefault("python", {})["paths"] = [str(source)]
    return config


def on_shutdown(**kwargs):
    if _source is not None:
        shutil.rmtree(_source, ignore_errors=True)
