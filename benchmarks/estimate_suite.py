"""Estimate how long a suite takes on this machine from a few short timed runs.

For every distinct *cost class* of the suite's ``[[runs]]`` groups (architecture, model
overrides, task with its sequence length, batch size, steps; the shuffled MNIST-1D variants
cost as much as the plain ones) it trains the group's first variant with
:func:`entangled.train.fit`, one thread, at ``s`` and ``3 s`` steps (``s = max(20, steps // 20)``),
evaluating as often as the full budget does, after one untimed warm-up run. Each time is the
process CPU time of the run (the smaller of two tries), which load from other processes
barely changes. The two times give a line ``t(steps) = a + b * steps`` (``a``: data, metrics,
evaluations; ``b``: one step), extrapolated to the group's steps and multiplied by its runs
(variants x seeds x learning rates). The sweep runs one single-threaded run per worker process, so on ``W``
idle cores the suite takes about the total divided by ``W``.

Usage::

    python benchmarks/estimate_suite.py --preset full
    python benchmarks/estimate_suite.py --suite my_suite.toml --workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from entangled.train import fit
from entangled.reports.presets import get_preset, load_suite


def cost_key(run) -> tuple:
    """Groups that cost the same per run: same arch, model, task (ignoring which MNIST-1D
    variant and which F3 family at a given length), batch size and steps."""
    task = run.task.replace("_shuffled", "")
    if "length" in run.task_options:
        task = f"sequence[length={run.task_options['length']}]"
    return (run.arch, tuple(sorted(run.model.items())), task,
            run.budget.get("batch_size"), run.budget.get("steps"))


def timed(config, steps: int, total_steps: int) -> float:
    """CPU seconds of ``config`` trained for ``steps`` steps (one thread) with the evaluations
    scaled so that the run evaluates as often as the full budget does. CPU time, not wall
    time: other processes on a shared machine barely change it, and on an idle machine a
    one-thread run's wall time is about its CPU time."""
    eval_every = config.eval_every or total_steps
    evaluations = max(1, total_steps // eval_every)
    short = dataclasses.replace(config, steps=steps, eval_every=max(1, steps // evaluations),
                                threads=1)
    start = time.process_time()
    fit(short)
    return time.process_time() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--preset", default="full")
    where.add_argument("--suite", default=None, help="a suite TOML file")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes the sweep would use (default 2)")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite) if args.suite else get_preset(args.preset)
    measured: dict[tuple, tuple[float, float]] = {}
    rows = []
    print(f"{'group':<58} {'runs':>5} {'steps':>5} {'fixed s':>7} {'ms/step':>7} {'s/run':>7} "
          f"{'hours':>6}", flush=True)
    for run in suite.runs:
        config = next(c for c in suite.configs()
                      if c.arch == run.arch and c.task == run.task and c.model == run.model
                      and c.task_options == run.task_options)
        steps = config.steps
        key = cost_key(run)
        if key not in measured:
            short = max(20, steps // 20)
            timed(config, short, steps)  # warm-up: imports, data generation and caches
            # the fastest of two tries: other processes on the machine only ever add time
            t1 = min(timed(config, short, steps) for _ in range(2))
            t3 = min(timed(config, 3 * short, steps) for _ in range(2))
            per_step = max(0.0, (t3 - t1) / (2 * short))
            measured[key] = (max(0.0, t1 - per_step * short), per_step)
        fixed, per_step = measured[key]
        seconds = fixed + per_step * steps
        runs = len(run.variants) * len(suite.seeds) * len(run.learning_rates)
        label = (f"{run.arch}{run.model or ''} {run.task}"
                 f"{run.task_options or ''}")[:58]
        rows.append((label, runs, seconds))
        print(f"{label:<58} {runs:>5} {steps:>5} {fixed:>7.1f} {1000 * per_step:>7.1f} "
              f"{seconds:>7.1f} {runs * seconds / 3600:>6.2f}",
              flush=True)
    total = sum(runs * s for _, runs, s in rows)
    print(f"total: {sum(r for _, r, _ in rows)} runs, {total / 3600:.1f} CPU hours "
          f"(one thread per run), about {total / 3600 / args.workers:.1f} h wall on "
          f"{args.workers} idle cores")


if __name__ == "__main__":
    main()
