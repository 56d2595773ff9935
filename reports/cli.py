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
    from entangled.commands.sweep import add_scaleout_arguments

    add_scaleout_arguments(parser)  # --executor, --scheduler, --shard


def run(args: argparse.Namespace) -> int:
    from entangled.errors import InvalidParameterError
    from reports.build import build_report, train_shard

    if args.jobs is not None and args.jobs < 1:
        raise InvalidParameterError("--jobs", args.jobs, "a positive integer")
    if args.shard:
        summary = train_shard(args.preset, args.out, args.shard, jobs=args.jobs,
                              progress=not args.no_progress, executor=args.executor,
                              scheduler=args.scheduler)
        print(f"shard {summary.shard}: {summary.total} runs, {summary.skipped} already done, "
              f"{summary.ran} run now, {summary.done_elsewhere} by another sweep, "
              f"{len(summary.failed)} failed. Once every shard is done, `entangled report "
              f"--preset {args.preset}` with the same --out renders the page.")
        return 0 if summary.complete else 1
    index = build_report(args.preset, args.out, conjecture_paths=args.conjectures,
                         jobs=args.jobs, progress=not args.no_progress,
                         executor=args.executor, scheduler=args.scheduler)
    print(index.resolve())
    return 0
