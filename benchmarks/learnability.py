"""Which generated sequence tasks are learnt at a given budget, by which skip mapping.

Runs :func:`entangled.train.fit` (one thread) for every task of the F3 grid (or the given
tasks) and every ``--family``, and prints test accuracy beside the task's chance and
memoryless levels. A task counts as *learnt* by a mapping when its test accuracy exceeds the
larger of the two levels by ``--margin`` (default 0.1).

Usage::

    python benchmarks/learnability.py --lengths 20 --steps 1000
    python benchmarks/learnability.py --tasks parity adding --lengths 20 --family identity
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from entangled.tasks.sequences import f3_task_grid
from entangled.train import RunConfig, fit


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="rnn")
    parser.add_argument("--tasks", nargs="*", default=None,
                        help="task names at their default options (default: the F3 grid)")
    parser.add_argument("--lengths", nargs="*", type=int, default=[20])
    parser.add_argument("--family", nargs="*", default=["identity", "orthogonal"])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument("--model", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = {k: json.loads(v) for k, _, v in (p.partition("=") for p in args.model)}
    if args.tasks:
        grid = [(name, {"length": t}) for name in args.tasks for t in args.lengths]
    else:
        grid = f3_task_grid(tuple(args.lengths))
    print(f"{'task':<16} {'options':<44} {'family':<11} {'chance':>6} {'memless':>7} "
          f"{'test':>6} {'learnt':>6} {'s':>5}")
    for name, options in grid:
        for family in args.family:
            start = time.perf_counter()
            r = fit(RunConfig(arch=args.arch, task=name, family=family, task_options=options,
                              model=model, steps=args.steps, batch_size=args.batch_size,
                              lr=args.lr, seed=args.seed, eval_every=args.steps,
                              metrics=False, device="cpu"))
            acc = r.test_accuracy if r.test_accuracy is not None else float("nan")
            learnt = acc > max(r.chance_accuracy, r.memoryless_accuracy) + args.margin
            print(f"{name:<16} {json.dumps(options):<44} {family:<11} {r.chance_accuracy:>6.3f} "
                  f"{r.memoryless_accuracy:>7.3f} {acc:>6.3f} {'yes' if learnt else 'no':>6} "
                  f"{time.perf_counter() - start:>5.0f}", flush=True)


if __name__ == "__main__":
    main()
