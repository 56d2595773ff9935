"""Measure the per-architecture step rates behind ``entangled.cost`` and compare its estimate
of the built-in presets with their known cost.

For each architecture at its default size, batch size 64, one thread, on a task it runs in the
built-in suites, two runs of ``s`` and ``3 s`` steps are timed (process CPU time, the faster of
``--repeats`` tries, after one untimed warm-up): the difference gives the seconds per step, the
rest of the short run the per-run overhead (data, evaluations, metrics). Then it prints
``entangled.cost``'s estimate of every built-in preset.

Usage::

    python benchmarks/cost_rates.py [--steps 30] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

from entangled import cost
from entangled.reports.presets import get_preset, preset_names, run_configs
from entangled.sweep import plan
from entangled.train import RunConfig, fit

TASKS = {"cnn": "digits", "vit": "digits", "rnn": "delayed_recall", "transformer": "counting"}


def timed(arch: str, steps: int) -> float:
    config = RunConfig(arch=arch, task=TASKS[arch], family="orthogonal", steps=steps,
                       eval_every=max(1, steps // 2), batch_size=64, threads=1)
    start = time.process_time()
    fit(config)
    return time.process_time() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="s, the short run's steps")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"{'arch':<12} {'ms/step':>8} {'overhead s':>10} {'in entangled.cost':>18}")
    for arch in TASKS:
        timed(arch, args.steps)  # warm-up: imports, data, caches
        short = min(timed(arch, args.steps) for _ in range(args.repeats))
        long = min(timed(arch, 3 * args.steps) for _ in range(args.repeats))
        per_step = max(0.0, (long - short) / (2 * args.steps))
        overhead = max(0.0, short - per_step * args.steps)
        print(f"{arch:<12} {1000 * per_step:>8.2f} {overhead:>10.2f} "
              f"{1000 * cost.STEP_SECONDS[arch]:>15.2f} ms", flush=True)
    print(f"\n{'preset':<8} {'runs':>6} {'estimated CPU h':>16}   (limit "
          f"{cost.DEFAULT_LIMIT_CPU_HOURS:g} CPU h)")
    for name in preset_names():
        estimate = cost.estimate(plan(run_configs(get_preset(name))).values())
        print(f"{name:<8} {estimate.runs:>6} {estimate.cpu_hours:>16.2f}")


if __name__ == "__main__":
    main()
