"""``entangled sweep CONFIGS.json --out DIR [--jobs N]``: run a list of run configs, resumably."""

from __future__ import annotations

import argparse

HELP = "run a list of run configs into a result directory (resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", metavar="CONFIGS.json",
                        help="JSON list of RunConfig objects (fields of entangled.train.RunConfig)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="result directory: one <config-hash>.json per run")
    parser.add_argument("--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from entangled.sweep import read_configs, run_sweep

    configs = read_configs(args.configs)
    summary = run_sweep(configs, args.out, jobs=args.jobs, progress=not args.no_progress)
    print(f"{summary.total} runs in {summary.out_dir}: {summary.skipped} already done, "
          f"{summary.ran} run now ({len(summary.diverged)} diverged in total), "
          f"{len(summary.failed)} failed, {len(summary.corrupt)} corrupt files rerun; "
          f"{summary.wall_time_s:.1f} s")
    for failure in summary.failed:
        print(f"  failed {failure['hash']} {failure['label']}: {failure['error']}")
    return 0 if summary.complete else 1
