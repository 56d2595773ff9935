"""Type-check the package as installed: ``mypy -p entangled`` on the installed layout.

mypy's settings are in pyproject.toml (``[tool.mypy]``). mypy reads modules by path and would
see ``theory/`` and ``reports/`` as top-level packages, so it runs on the layout of
``.ci/installed_layout.py`` (links, rebuilt in ``.mypy_layout/`` each time, which keeps mypy's
cache valid between runs); file names in its report are mapped back to the repository.
``make typecheck`` runs this; extra arguments go to mypy.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("installed_layout", ROOT / ".ci" / "installed_layout.py")
    assert spec is not None and spec.loader is not None
    layout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layout)
    where = layout.installed_layout(ROOT / ".mypy_layout")
    done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(ROOT / ".mypy_cache"), "-p", "entangled", *argv],
                          cwd=where, capture_output=True, text=True)
    for name, folder in layout.mapped_folders().items():
        done = done.__class__(done.args, done.returncode,
                              done.stdout.replace(f"entangled/{name}/", f"{folder.name}/"), done.stderr)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
