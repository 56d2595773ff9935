"""Training-step overhead of every skip family relative to the identity skip.

For each architecture at its default size, one training step (forward, backward, Adam step)
on a fixed batch is timed for the identity skip and for every family (default parameters),
interleaved in the same run so that machine drift affects both alike. Every family runs
twice: "before" with the structured kernel forced (``method="structured"``, the behaviour
until the kernel was picked by size) and "after" with ``method="auto"`` (the dense product
below the family's measured crossover). Reported: the median step time in ms and the ratio
family / identity for both (target <= 1.05), and the **arithmetic floor** of "after": the
step's floating-point operations (matrix products and convolutions, counted by
``torch.utils.flop_counter.FlopCounterMode``) over the identity step's. A dense skip adds an
``n x n`` product per position (per time step in the RNN) that no kernel choice removes, so a
time ratio near the FLOP ratio means the skip costs what its arithmetic costs.

Usage::

    python benchmarks/bench_skip_overhead.py            # full (a few minutes)
    python benchmarks/bench_skip_overhead.py --quick    # smoke run (well under a minute)
    python benchmarks/bench_skip_overhead.py --threads 1 --arch rnn --family sparse
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from entangled.mappings import families
from entangled.nn import EntangledSkip
from entangled.nn.models import ARCHITECTURES, SkipSpec, build_model
from entangled.tasks import load_task

TASK_FOR = {"cnn": "digits", "vit": "digits", "transformer": "delayed_recall",
            "rnn": "delayed_recall"}
TARGET = 1.05
METHODS = {"before": "structured", "after": "auto"}


def make_step(arch: str, family: str, x: torch.Tensor, y: torch.Tensor, task,
              method: str = "auto"):
    """A closure doing one training step of a fresh model with skip ``family``, every
    ``EntangledSkip`` set to kernel ``method``."""
    model = build_model(arch, input_shape=task.input_shape, output_dim=task.output_dim,
                        skip=SkipSpec(family=family), seed=0)
    for module in model.modules():
        if isinstance(module, EntangledSkip):
            module.set_method(method)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        task.loss(model(x), y).backward()
        optimizer.step()
    return step


def count_flops(step) -> int:
    """Floating-point operations of one call of ``step`` (matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def time_steps(step, n: int) -> float:
    """Mean wall time of one step over ``n`` consecutive steps, in ms."""
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n * 1e3


def bench_arch(arch: str, fams: list[str], *, batch: int, repeats: int, steps: int,
               warmup: int) -> dict[str, tuple[float, float]]:
    task = load_task(TASK_FOR[arch], seed=0)
    x, y = task.x_train[:batch], task.y_train[:batch]
    steppers = {"identity": make_step(arch, "identity", x, y, task)}
    for fam in [f for f in fams if f != "identity"]:
        for when, method in METHODS.items():
            try:
                steppers[f"{fam} {when}"] = make_step(arch, fam, x, y, task, method)
            except ValueError as exc:  # e.g. a family that needs a user matrix
                print(f"  {arch}/{fam}: skipped ({exc})", file=sys.stderr)
    for step in steppers.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {f: [] for f in steppers}
    ratios: dict[str, list[float]] = {f: [] for f in steppers}
    for _ in range(repeats):  # interleave identity and family in every repeat
        for fam, step in steppers.items():
            if fam == "identity":
                continue
            t_id = time_steps(steppers["identity"], steps)
            t_f = time_steps(step, steps)
            times["identity"].append(t_id)
            times[fam].append(t_f)
            ratios[fam].append(t_f / t_id)
    flops = {fam: count_flops(step) for fam, step in steppers.items()}
    out = {"identity": (statistics.median(times["identity"]), 1.0, 1.0)}
    for fam in steppers:
        if fam != "identity":
            out[fam] = (statistics.median(times[fam]), statistics.median(ratios[fam]),
                        flops[fam] / flops["identity"])
    return out


def format_table(results: dict[str, dict[str, tuple[float, float]]], fams: list[str]) -> str:
    """One row per family: "after" step time, then the before -> after ratio per arch, and
    the FLOP ratio of "after" (the arithmetic floor of its time ratio)."""
    archs = list(results)
    header = (["family"] + [f"{a} ms" for a in archs]
              + [f"{a} ratio before -> after (FLOPs)" for a in archs])
    rows = []
    for fam in fams:
        after, before = (fam, fam) if fam == "identity" else (f"{fam} after", f"{fam} before")
        cells = [fam]
        cells += [f"{results[a][after][0]:.2f}" if after in results[a] else "n/a" for a in archs]
        cells += [f"{results[a][before][1]:.3f} -> {results[a][after][1]:.3f} "
                  f"({results[a][after][2]:.3f})" if after in results[a] else "n/a" for a in archs]
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run")
    parser.add_argument("--arch", action="append", choices=ARCHITECTURES, help="repeatable")
    parser.add_argument("--family", action="append", help="repeatable (default: all)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=None, help="default 7 (quick: 2)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timing (default 5; quick 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (2 if args.quick else 7)
    steps = args.steps or (2 if args.quick else 5)
    fams = ["identity"] + [f for f in (args.family or families()) if f != "identity"]
    archs = args.arch or list(ARCHITECTURES)
    start = time.perf_counter()
    results = {}
    for arch in archs:
        t0 = time.perf_counter()
        results[arch] = bench_arch(arch, fams, batch=args.batch, repeats=repeats, steps=steps,
                                   warmup=1 if args.quick else 3)
        print(f"  {arch}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    print(f"Training-step time (forward + backward + Adam step, batch {args.batch}, default "
          f"model sizes, median of {repeats} x {steps} steps, {torch.get_num_threads()} "
          f"thread(s), torch {torch.__version__}); ratio = family / identity in the same run; "
          f"before = structured kernel forced, after = method='auto' (target <= {TARGET:.2f})\n")
    print(format_table(results, [f for f in fams]))
    slow = [(a, f, r[f + " after"][1], r[f + " after"][2]) for a, r in results.items()
            for f in fams if f + " after" in r and r[f + " after"][1] > TARGET]
    over = ", ".join(f"{a}/{f} {x:.2f} (FLOPs {q:.2f})" for a, f, x, q in slow)
    print(f"\n{'all families within target' if not slow else 'over target: ' + over}"
          f"; total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
