"""``entangled conformance RESULT.json ... --out DIR``: probe results side by side.

Combines the JSON results of several ``entangled probe --json`` runs (different packages,
releases, classes or dtypes) into one self-contained page ``DIR/index.html``: package,
version and class of each implementation, and every claim's verdict with its number
(:mod:`entangled.theory.probe.conformance`).

Exit status: 0 when the page is written, 2 for a missing, unreadable or foreign RESULT file.
"""

from __future__ import annotations

import argparse
import sys

HELP = "combine entangled probe --json results into one conformance page"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULT",
                        help="JSON files written by entangled probe --json")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="directory of the page (DIR/index.html; created)")
    parser.add_argument("--title", default="Conformance of residual mixing implementations",
                        help="the page's title")


def run(args: argparse.Namespace) -> int:
    from entangled.theory.probe.conformance import (
        conformance_data,
        load_result,
        write_conformance,
    )
    from entangled.theory.probe.mapping import ProbeError

    try:
        results = [load_result(path) for path in args.results]
        data = conformance_data(results, list(args.results), title=args.title)
    except ProbeError as exc:
        print(f"entangled conformance: error: {exc}", file=sys.stderr)
        return 2
    path = write_conformance(args.out, data)
    print(f"{len(results)} results, {len(data['rows'])} claims: page written to {path}")
    return 0
