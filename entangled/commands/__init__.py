"""Subcommands of the ``entangled`` command that live in the core package, and the
conventions every command shares.

``--json FILE|-``: every command that produces data writes it as strict JSON to ``FILE``
(atomically), or to standard output for ``-``; the human-readable text then goes to standard
error so that the two never mix.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_json_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """The shared ``--json FILE|-`` option (``--json`` alone means ``-``)."""
    parser.add_argument("--json", metavar="FILE|-", nargs="?", const="-", default=None,
                        help=f"write {what} as JSON to FILE ('-' or no value: standard output)")


def write_json_output(target: str | None, data: Any) -> None:
    """Write ``data`` to ``target`` (a path, or ``-`` for standard output); no-op for None."""
    if target is None:
        return
    if target == "-":
        sys.stdout.write(json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")
        sys.stdout.flush()
        return
    from pathlib import Path

    from entangled.errors import InvalidParameterError
    from entangled.sweep import write_json_atomic

    path = Path(target)
    if path.is_dir():
        raise InvalidParameterError("--json", target, "a file path or '-' (this is a directory)")
    try:
        write_json_atomic(path, data)
    except OSError as exc:
        raise InvalidParameterError("--json", target, f"a writable file path or '-' ({exc.strerror})") from None


def text_stream(json_target: str | None):
    """Where human-readable text goes: stderr when JSON goes to stdout, else stdout."""
    return sys.stderr if json_target == "-" else sys.stdout
