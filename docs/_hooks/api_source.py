"""MkDocs hook: let mkdocstrings read ``entangled.theory`` and ``entangled.reports`` statically.

The repository installs ``theory/`` and ``reports/`` as ``entangled.theory`` and
``entangled.reports`` (a setuptools package-dir mapping). griffe, which mkdocstrings uses to
read the source, finds subpackages only inside their parent's folder, so this hook builds the
installed layout as links in a temporary directory (``.ci/installed_layout.py``) and points the
Python handler at it. Nothing is imported: the API reference is read from the source.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("installed_layout", ROOT / ".ci" / "installed_layout.py")
assert _spec is not None and _spec.loader is not None
layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layout)
_source: Path | None = None


@event_priority(100)  # before mkdocstrings reads its handlers' options
def on_config(config, **kwargs):
    global _source
    _source = layout.installed_layout(Path(tempfile.mkdtemp(prefix="entangled-api-")))
    handlers = config.plugins["mkdocstrings"].config.handlers
    handlers.setdefault("python", {})["paths"] = [str(_source)]
    return config


def on_shutdown(**kwargs):
    if _source is not None:
        shutil.rmtree(_source, ignore_errors=True)
