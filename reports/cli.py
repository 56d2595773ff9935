"""``entangled report``: run a suite and write the self-contained HTML report."""

from __future__ import annotations

import argparse

from reports.presets import PRESETS

HELP = "run a suite and write the self-contained HTML report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick",
                        help="smoke (~1 min, CI), quick (default, F1-F3 in ~10 min on 2 cores) or full")
    parser.add_argument("--out", default=None,
                        help="output directory (default: reports/out/<preset> under the current directory)")
    parser.add_argument("--conjectures", nargs="+", default=[], metavar="PATH",
                        help="extra conjecture files, directories or modules for the ledger")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel training workers (default: number of CPUs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from entangled.errors import InvalidParameterError
    from reports.build import build_report

    if args.jobs is not None and args.jobs < 1:
        raise InvalidParameterError("--jobs", args.jobs, "a positive integer")
    index = build_report(args.preset, args.out, conjecture_paths=args.conjectures,
                         jobs=args.jobs, progress=not args.no_progress)
    print(index.resolve())
    return 0
