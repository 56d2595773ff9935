"""Seed-batched training (:func:`entangled.batched.fit_batch`) against one run at a time
(:func:`entangled.train.fit`), on the ``quick`` preset's own run groups.

For each architecture/task of ``quick``, one group of runs that differ only in their seeds
(one variant, at the fixed learning rate, with its metric snapshots) is trained both ways in
this process, alternating, ``--repeats`` times; the table gives the median wall time of the
whole group, the ratio unbatched/batched (above 1: batching is faster) and the largest
relative difference between the two ways' validation-loss curves and the mean absolute
difference of their test accuracies (float rounding, amplified by training; see the
``entangled.batched`` docstring).

``--sizes 1 5 16``: instead, the time per run of batches of each size (runs of the group's
variants and seeds mixed, as ``seed_batching = "on"`` batches them), one batch per size and
group, against one run trained alone; budgets cut to ``--steps`` (default 200) steps. It
ends with the rates of ``entangled.cost.BATCHED_STEP_SECONDS`` fitted to the run alone and
the largest batch.

Usage: python benchmarks/bench_seed_batch.py [--seeds 5] [--repeats 3] [--device cpu]
       python benchmarks/bench_seed_batch.py --sizes 1 5 16 [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def groups(seeds: int, device: str):
    """One group per (arch, task) of quick: its orthogonal variant at the fixed lr."""
    import dataclasses

    from entangled.reports import presets

    chosen = {}
    for config in presets.run_configs(presets.get_preset("quick")):
        key = (config.arch, config.task)
        if config.family == "orthogonal" and config.metrics and key not in chosen:
            chosen[key] = config
    return {key: [dataclasses.replace(config, seed=s, skip_seed=s, device=device)
                  for s in range(seeds)] for key, config in chosen.items()}


def test_accuracy_difference(single, batched) -> float:
    """Mean |test accuracy (alone) - test accuracy (batched)| over the runs, in pp."""
    gaps = [abs(a.test_accuracy - b.test_accuracy) * 100 for a, b in zip(single, batched)
            if a.test_accuracy is not None and b.test_accuracy is not None]
    return sum(gaps) / len(gaps) if gaps else float("nan")


def largest_difference(single, batched) -> float:
    worst = 0.0
    for a, b in zip(single, batched):
        for x, y in zip(a.curves.val_loss, b.curves.val_loss):
            if x is not None and y is not None:
                worst = max(worst, abs(x - y) / max(abs(x), 1e-12))
    return worst


def mixed_group(arch: str, task: str, count: int, steps: int, device: str) -> list:
    """``count`` runs of ``quick``'s group on (arch, task) at its fixed rate: its variants in
    turn, each with the next seed, budgets cut to ``steps``, no metric snapshots."""
    import dataclasses
    import itertools

    from entangled.reports import presets

    configs = [c for c in presets.run_configs(presets.get_preset("quick"))
               if (c.arch, c.task) == (arch, task)]
    fixed = [c for c in configs if c.lr == configs[0].lr]
    variants = list(dict.fromkeys((c.family, tuple(sorted(c.params.items()))) for c in fixed))
    base = fixed[0]
    out = []
    for index, (family, params) in zip(range(count), itertools.cycle(variants)):
        out.append(dataclasses.replace(base, family=family, params=dict(params), seed=index,
                                       skip_seed=index, steps=steps, metrics=False,
                                       device=device))
    return out


def batch_sizes(sizes: list[int], steps: int, device: str) -> None:
    """Print the time per run of one batch of each size, per group of ``quick``."""
    from entangled.batched import fit_batch
    from entangled.cost import size_factor
    from entangled.reports import presets
    from entangled.runs import as_spec
    from entangled.train import fit

    pairs = list(dict.fromkeys((c.arch, c.task)
                               for c in presets.run_configs(presets.get_preset("quick"))))
    print("| arch | task | alone (s per run) | " + " | ".join(f"batch of {n}" for n in sizes)
          + " |")
    print("|---|---|---:|" + "---:|" * len(sizes))
    rates = {}
    for arch, task in pairs:
        fit(mixed_group(arch, task, 1, 5, device)[0])  # warm-up
        start = time.perf_counter()
        fit(mixed_group(arch, task, 1, steps, device)[0])
        alone = time.perf_counter() - start
        cells = []
        for size in sizes:
            configs = mixed_group(arch, task, size, steps, device)
            start = time.perf_counter()
            fit_batch(configs)
            per_run = (time.perf_counter() - start) / size
            cells.append(f"{per_run:.2f} ({alone / per_run:.2f}x)")
            if size == sizes[-1] and size > 1:
                factor = size_factor(as_spec(configs[0]).resolve())
                rates[(arch, task)] = batched_rates(alone, per_run, size, steps * factor)
        print(f"| {arch} | {task} | {alone:.2f} | " + " | ".join(cells) + " |", flush=True)
    print(f"\nentangled.cost.BATCHED_STEP_SECONDS, (shared, own) s per step fitted to one run "
          f"alone and a batch of {sizes[-1]}, at size factor 1:")
    for (arch, task), (shared, own) in rates.items():
        print(f"    ({arch!r}, {task!r}): ({shared:.5f}, {own:.5f}),")


def batched_rates(alone: float, per_run: float, size: int, steps: int) -> tuple[float, float]:
    """``(shared, own)`` seconds per step such that a run's step in a batch of ``n`` costs
    ``shared / n + own``, through ``alone`` (n = 1) and ``per_run`` (n = ``size``), the
    seconds per run of ``steps`` steps (steps times the size factor: rates at factor 1)."""
    shared = max(0.0, (alone - per_run) * size / (size - 1))
    own = max(0.0, alone - shared)
    return shared / steps, own / steps


def main() -> None:
    import torch

    from entangled.batched import fit_batch
    from entangled.train import fit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="time per run at these batch sizes instead")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    device = args.device
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, torch {torch.__version__}, device {device}, "
          f"1 intra-op thread per run\n")
    if args.sizes:
        batch_sizes(args.sizes, args.steps, device)
        return
    rows = []
    for (arch, task), configs in groups(args.seeds, device).items():
        one, many, diff, gap = [], [], 0.0, 0.0
        fit(configs[0])  # warm-up (imports, allocator)
        for _ in range(args.repeats):
            start = time.perf_counter()
            single = [fit(config) for config in configs]
            one.append(time.perf_counter() - start)
            start = time.perf_counter()
            batched = fit_batch(configs)
            many.append(time.perf_counter() - start)
            diff = max(diff, largest_difference(single, batched))
            gap = test_accuracy_difference(single, batched)
        steps = sum(r.steps_done for r in single)
        rows.append((arch, task, len(configs), steps, statistics.median(one),
                     statistics.median(many), diff, gap))
        print(f"  {arch}/{task}: {statistics.median(one):.2f} s vs {statistics.median(many):.2f} s",
              flush=True)
    print("\n| arch | task | seeds | steps (all seeds) | one at a time (s) | batched (s) "
          "| speed-up | max rel. diff of val loss | mean abs. diff of test acc. (pp) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for arch, task, seeds, steps, one, many, diff, gap in rows:
        print(f"| {arch} | {task} | {seeds} | {steps} | {one:.2f} | {many:.2f} | {one / many:.2f}x "
              f"| {diff:.1e} | {gap:.2f} |")
    total_one, total_many = sum(r[4] for r in rows), sum(r[5] for r in rows)
    print(f"| all | | | | {total_one:.2f} | {total_many:.2f} | {total_one / total_many:.2f}x "
          f"| | |")


if __name__ == "__main__":
    main()
