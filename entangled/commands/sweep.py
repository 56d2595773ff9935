"""``entangled sweep CONFIGS.json --out DIR [--jobs N] [--executor local|dask] [--shard I/N]``:
run a list of run configs, resumably (also several sweeps sharing one directory)."""

from __future__ import annotations

import argparse

from entangled.commands import (add_json_argument, add_yes_argument, confirm_cost, text_stream,
                                write_json_output)

HELP = "run a list of run configs into a result directory (resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", metavar="CONFIGS.json",
                        help="JSON list of runs: flat RunConfig objects (fields of "
                             "entangled.train.RunConfig) or nested RunSpec objects")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="result directory: one <config-hash>.json per run")
    parser.add_argument("--jobs", type=int, default=1,
                        help="parallel worker processes of the local executor (default 1); "
                             "with several GPUs, worker k uses cuda:(k mod GPUs)")
    add_scaleout_arguments(parser)
    add_yes_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_json_argument(parser, "the sweep summary")


def add_scaleout_arguments(parser: argparse.ArgumentParser, *,
                           batching_default: str | None = "auto") -> None:
    """``--executor``, ``--scheduler``, ``--shard`` and ``--seed-batching`` (shared with
    ``entangled report``, whose default is the suite's own ``seed_batching``: ``None``)."""
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="where runs execute: local worker processes (default) or a Dask "
                             "cluster (pip install \"entangled[dask]\")")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler address, e.g. tcp://host:8786 (default: "
                             "$DASK_SCHEDULER_ADDRESS)")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="run only shard I of N (1 <= I <= N) of the runs; several hosts or "
                             "array jobs may share one result directory")
    default = ("the suite's seed_batching key, else auto" if batching_default is None
               else batching_default)
    parser.add_argument("--seed-batching", choices=("auto", "on", "off"),
                        default=batching_default,
                        help="train the runs that differ only in their seeds and skip mappings "
                             "as one batched model (torch.func.vmap; same result files, numbers "
                             "equal up to float rounding): on, off, or auto (on when the runs "
                             f"use CUDA); default: {default}")


def run(args: argparse.Namespace) -> int:
    from entangled.sweep import read_configs, run_sweep

    configs = read_configs(args.configs)
    confirm_cost(configs, args.out, yes=args.yes, workers=args.jobs, shard=args.shard)
    summary = run_sweep(configs, args.out, jobs=args.jobs, progress=not args.no_progress,
                        executor=args.executor, scheduler=args.scheduler, shard=args.shard,
                        seed_batching=args.seed_batching)
    out = text_stream(args.json)
    write_json_output(args.json, summary.to_dict())
    shard = f" (shard {summary.shard})" if summary.shard else ""
    print(f"{summary.total} runs{shard} in {summary.out_dir}: {summary.skipped} already done, "
          f"{summary.ran} run now, {summary.done_elsewhere} by another sweep "
          f"({len(summary.diverged)} diverged in total), "
          f"{len(summary.failed)} failed, {len(summary.corrupt)} invalid and "
          f"{len(summary.stale)} stale result files moved aside and rerun, "
          f"{len(summary.superseded)} superseded (earlier protocol, moved aside); "
          f"{summary.wall_time_s:.1f} s", file=out)
    for failure in summary.failed:
        print(f"  failed {failure['hash']} {failure['label']}: {failure['error']}", file=out)
    return 0 if summary.complete else 1
