"""``entangled export RUNS_DIR [--format csv|parquet] [--out FILE|-]``: one table row per run."""

from __future__ import annotations

import argparse

HELP = "write the runs of a result directory as one CSV or Parquet table (one row per run)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs_dir", metavar="RUNS_DIR",
                        help="a sweep's result directory (or a report directory with runs/)")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv",
                        help="csv (default) or parquet (needs the 'parquet' extra: pyarrow)")
    parser.add_argument("--out", metavar="FILE|-", default=None,
                        help="output file, '-' for stdout (default: RUNS_DIR/runs.<format>)")


def run(args: argparse.Namespace) -> int:
    from entangled.export import export

    export(args.runs_dir, args.out, format=args.format)
    return 0
