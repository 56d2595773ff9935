"""How close a suite's training comes to the machine's arithmetic floor.

For a preset (``--preset``) or a suite file (``--suite``) this prints, per architecture:

* **FLOPs**, counted with ``torch.utils.flop_counter.FlopCounterMode``: one optimizer step
  (forward, loss, backward, gradient clipping, optimizer step) of each distinct run
  configuration (seed and learning rate set aside; they do not change the arithmetic) times
  the steps its runs take, plus the evaluations (validation passes, the final train and
  test passes: forward only) and the two metric snapshots. The counter counts matrix
  products and convolutions (``mm``, ``bmm``, ``addmm``, ``convolution`` and their backward,
  scaled dot-product attention); elementwise work (activations, normalisation, the
  optimizer's update, which it counts as 0) is not counted, so the fraction of peak below
  is a fraction of what the matrix units could do;
* the machine's **sgemm peak**: the best of several ``torch.matmul`` of two large float32
  matrices (``--peak-size``, default 2048) with ``torch.set_num_threads`` = 1 and = the
  cores used (``--jobs``);
* the **floor time**: FLOPs / peak (one-thread peak per worker-second; the sweep's FLOPs
  over ``--jobs`` cores' peak for the whole);
* the **wall time**: with ``--run`` (the default) a cold sweep of the suite's runs in a
  fresh directory with ``--jobs`` worker processes, timed here; with ``--results DIR`` the
  run files of an earlier sweep (a report's ``runs/``) instead, whose ``wall_time_s`` (each
  run's own time in its one-thread worker) are summed per architecture; the whole sweep's
  wall time then comes from the report's ``history.json`` when it has one;
* the **fraction of peak**: FLOPs / (wall time x peak);
* per architecture (its first run in the suite), one step's time and fraction of the
  one-thread peak at batch sizes 1 to 512: what per-step overhead costs at the suite's
  batch of 32 (``--scaling-only`` prints this table alone, in about a minute).

The machine's load (``os.getloadavg``) is printed before and after: on a shared machine the
wall times, and so the fractions, are only as good as the quiet they were taken in.

Usage::

    python benchmarks/bench_efficiency.py --preset quick              # cold sweep, 2 workers
    python benchmarks/bench_efficiency.py --preset quick --results reports/out/quick/runs
    python benchmarks/bench_efficiency.py --suite my_suite.toml --jobs 4
    python benchmarks/bench_efficiency.py --preset quick --scaling-only
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ARCH_ORDER = ("cnn", "vit", "rnn", "transformer")
EVAL_BATCH = 256


# ---------------------------------------------------------------------------- peak
def sgemm_peak(threads: int, size: int = 2048, repeats: int = 7) -> float:
    """Measured float32 matrix-product peak in FLOP/s: the fastest of ``repeats`` products
    of two ``size x size`` matrices (``2 size^3`` FLOPs each) with ``threads`` threads. One
    thread is timed in process CPU time (which other processes on the machine barely
    change, like the per-step times below); several threads in wall time."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=generator)
        b = torch.randn(size, size, generator=generator)
        torch.matmul(a, b)  # warm-up
        clock = time.process_time if threads == 1 else time.perf_counter
        best = float("inf")
        for _ in range(repeats):
            start = clock()
            torch.matmul(a, b)
            best = min(best, clock() - start)
    finally:
        torch.set_num_threads(previous)
    return 2.0 * size ** 3 / best


# ---------------------------------------------------------------------------- FLOPs
def flop_class(config) -> str:
    """Runs with equal keys do the same arithmetic per step: the configuration hash with
    the seeds and the learning rate set to fixed values."""
    from entangled.runs import RunSpec, as_spec, config_hash

    flat = as_spec(config).to_flat()
    flat.update(seed=0, skip_seed=0, lr=1e-3)
    return config_hash(RunSpec.from_flat(flat))


@dataclasses.dataclass
class ClassFlops:
    """Counted FLOPs of one run configuration."""

    arch: str
    step: int            # one optimizer step (forward, loss, backward, clip, optimizer)
    forward_example: float  # one example's eval-mode forward pass
    snapshot: int        # one metric snapshot
    n_train: int
    n_val: int
    n_test: int
    planned_steps: int
    eval_every: int
    metrics: bool


def _count(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def count_class(config) -> ClassFlops:
    """Count the FLOPs of one step, one example's forward and one snapshot of ``config``."""
    import torch

    from entangled.metrics import snapshot
    from entangled.runs import as_spec
    from entangled.tasks import load_task
    from entangled.tasks.validation import with_validation
    from entangled.train import _make_optimizer, build_for, planned_steps

    spec = as_spec(config).resolve()
    budget = spec.budget
    task = with_validation(load_task(spec.task.name, seed=spec.seed, **dict(spec.task.options)),
                           spec.seed)
    model = build_for(spec, task)
    model.train()
    optimizer = _make_optimizer(budget, [p for p in model.parameters() if p.requires_grad])
    batch = min(budget.batch_size, task.n_train)
    x, y = task.x_train[:batch], task.y_train[:batch]

    def step() -> None:
        loss = task.loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if budget.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), budget.grad_clip)
        optimizer.step()

    step_flops = _count(step)
    model.eval()
    n_eval = min(EVAL_BATCH, task.x_val.shape[0])
    with torch.no_grad():
        forward = _count(lambda: model(task.x_val[:n_eval])) / n_eval
    model.train()
    x_metric, y_metric = task.x_val[:256], task.y_val[:256]
    snap = _count(lambda: snapshot(model, x_metric, y_metric, loss_fn=task.loss,
                                   accuracy_fn=task.accuracy)) if budget.metrics else 0
    return ClassFlops(arch=spec.arch.name, step=step_flops, forward_example=forward,
                      snapshot=snap, n_train=task.n_train, n_val=int(task.x_val.shape[0]),
                      n_test=int(task.x_test.shape[0]),
                      planned_steps=planned_steps(spec, task.n_train),
                      eval_every=budget.eval_every, metrics=budget.metrics)


def run_flops(counted: ClassFlops, steps: int | None = None, evaluations: int | None = None
              ) -> tuple[float, float]:
    """``(training FLOPs, evaluation + snapshot FLOPs)`` of one run of ``steps`` steps
    (default: the planned steps) with ``evaluations`` validation passes (default: one at
    step 0, every ``eval_every`` steps and at the end)."""
    steps = counted.planned_steps if steps is None else steps
    if evaluations is None:
        evaluations = 1 + steps // counted.eval_every + (steps % counted.eval_every != 0)
    examples = counted.n_val * evaluations + counted.n_train + counted.n_test
    other = counted.forward_example * examples + 2 * counted.snapshot
    return float(counted.step) * steps, other


# ---------------------------------------------------------------------------- per step
BATCH_SIZES = (1, 8, 32, 128, 512)


def step_scaling(config, batch_sizes=BATCH_SIZES, steps: int = 20) -> list[tuple[int, int, float]]:
    """``(batch size, FLOPs, CPU seconds)`` of one optimizer step of ``config``'s model (the
    run's own step: :class:`~entangled.train.FlatStepper`, clipping as budgeted) at each
    batch size, one thread, the median of ``steps`` steps after two warm-up steps. The time
    at batch 1 is almost all per-step overhead (Python, dispatch, small kernels); the slope
    is the arithmetic."""
    import statistics

    import torch

    from entangled.runs import as_spec
    from entangled.tasks import load_task
    from entangled.tasks.validation import with_validation
    from entangled.train import FlatStepper, build_for, intra_op_threads

    spec = as_spec(config).resolve()
    task = with_validation(load_task(spec.task.name, seed=0, **dict(spec.task.options)), 0)
    rows = []
    with intra_op_threads(1):
        for batch in batch_sizes:
            model = build_for(spec, task)
            model.train()
            stepper = FlatStepper([p for p in model.parameters() if p.requires_grad], spec.budget)
            generator = torch.Generator().manual_seed(0)

            def step() -> None:
                idx = torch.randint(0, task.n_train, (batch,), generator=generator)
                loss = task.loss(model(task.x_train[idx]), task.y_train[idx])
                stepper.zero_grad()
                loss.backward()
                stepper.step()

            flops = _count(step)
            times = []
            for _ in range(steps + 2):
                start = time.process_time()
                step()
                times.append(time.process_time() - start)
            rows.append((batch, flops, statistics.median(times[2:])))
    return rows


def scaling_table(configs, peak_1: float) -> None:
    """Per architecture (its first run in the suite), step time and fraction of the one-thread
    peak at several batch sizes."""
    seen = {}
    for config in configs:
        seen.setdefault(config.arch, config)
    print("\n| architecture | batch | MFLOP per step | CPU ms per step | fraction of 1-thread peak "
          "| batch 1's time / this time |")
    print("|---|---:|---:|---:|---:|---:|")
    for arch in sorted(seen, key=lambda a: (ARCH_ORDER + (a,)).index(a)):
        rows = step_scaling(seen[arch])
        overhead = rows[0][2]
        for batch, flops, seconds in rows:
            print(f"| {arch} | {batch} | {flops / 1e6:.1f} | {1e3 * seconds:.2f} "
                  f"| {flops / (seconds * peak_1):.1%} | {overhead / seconds:.0%} |", flush=True)


# ---------------------------------------------------------------------------- wall time
def cold_sweep(configs, jobs: int) -> tuple[float, Path]:
    """Run the configs' sweep cold in a fresh directory; return (wall seconds, run dir)."""
    from entangled.sweep import run_sweep

    root = Path(tempfile.mkdtemp(prefix="bench-efficiency-"))
    start = time.perf_counter()
    run_sweep(configs, root / "runs", jobs=jobs, progress=False)
    return time.perf_counter() - start, root / "runs"


def sweep_wall_from_history(results_dir: Path) -> float | None:
    """The sweep time of the report that wrote ``results_dir`` (its ``history.json``: the
    first invocation's ``sweep_s`` when recorded), else ``None``."""
    history = results_dir.parent / "history.json"
    try:
        entries = json.loads(history.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for entry in entries if isinstance(entries, list) else []:
        value = entry.get("sweep_s") if isinstance(entry, dict) else None
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return None


# ---------------------------------------------------------------------------- main
def machine_line(jobs: int) -> str:
    import torch

    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"torch {torch.__version__}, python {platform.python_version()}; {jobs} worker "
            f"process(es), 1 thread each")


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def main(argv=None) -> None:
    from entangled.reports.presets import get_preset, load_suite
    from entangled.sweep import load_results

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--preset", default="quick")
    where.add_argument("--suite", default=None, help="a suite TOML file")
    parser.add_argument("--results", default=None,
                        help="a directory of run files (a report's runs/) instead of a cold run")
    parser.add_argument("--jobs", type=int, default=max(1, os.cpu_count() or 1),
                        help="worker processes of the cold sweep, and the cores of the peak")
    parser.add_argument("--peak-size", type=int, default=2048)
    parser.add_argument("--keep", action="store_true", help="keep the cold sweep's directory")
    parser.add_argument("--scaling-only", action="store_true",
                        help="only the per-step table at several batch sizes (no sweep)")
    args = parser.parse_args(argv)

    suite = load_suite(args.suite) if args.suite else get_preset(args.preset)
    configs = suite.configs()
    print(machine_line(args.jobs))
    print(f"suite {suite.name!r}: {len(configs)} runs; before: {load_line()}", flush=True)

    peak_1 = sgemm_peak(1, args.peak_size)
    peak_n = sgemm_peak(args.jobs, args.peak_size) if args.jobs > 1 else peak_1
    print(f"sgemm peak ({args.peak_size}^2 float32): {peak_1 / 1e9:.1f} GFLOP/s on 1 thread "
          f"(CPU time), {peak_n / 1e9:.1f} GFLOP/s on {args.jobs} (wall time)", flush=True)

    if args.scaling_only:
        scaling_table(configs, peak_1)
        return

    classes: dict[str, ClassFlops] = {}
    class_of = {}
    for config in configs:
        key = flop_class(config)
        class_of[config.hash()] = key
        if key not in classes:
            classes[key] = count_class(config)
    print(f"counted {len(classes)} distinct run configurations", flush=True)

    if args.results:
        run_dir, sweep_wall = Path(args.results), None
        sweep_wall = sweep_wall_from_history(run_dir)
        source = f"result files in {run_dir}"
    else:
        print(f"cold sweep with {args.jobs} worker(s)...", flush=True)
        sweep_wall, run_dir = cold_sweep(configs, args.jobs)
        source = "a cold sweep timed here"
    after_load = load_line()
    results = {r.config_hash: r for r in load_results(run_dir)}

    per_arch: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for config in configs:
        digest = config.hash()
        counted = classes[class_of[digest]]
        result = results.get(digest)
        row = per_arch[counted.arch]
        row["runs"] += 1
        if result is None:
            row["missing"] += 1
            continue
        evaluations = len(result.curves.step)
        train, other = run_flops(counted, result.steps_done, evaluations)
        row["steps"] += result.steps_done
        row["train"] += train
        row["other"] += other
        row["wall"] += result.wall_time_s
    if not args.results and not args.keep:
        shutil.rmtree(run_dir.parent, ignore_errors=True)

    print(f"\nafter: {after_load}; wall times from {source}\n")
    header = ("| architecture | runs | steps | training TFLOP | evaluation + snapshots TFLOP "
              "| floor, 1 thread (s) | run time, summed (s) | fraction of 1-thread peak |")
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    total = defaultdict(float)
    for arch in sorted(per_arch, key=lambda a: (ARCH_ORDER + (a,)).index(a)):
        row = per_arch[arch]
        flops = row["train"] + row["other"]
        for key in ("runs", "steps", "train", "other", "wall", "missing"):
            total[key] += row[key]
        print(_row(arch, row, flops, peak_1))
    print(_row("all", total, total["train"] + total["other"], peak_1))
    if total["missing"]:
        print(f"\n{int(total['missing'])} run(s) had no result file and are left out.")
    flops = total["train"] + total["other"]
    scaling_table(configs, peak_1)
    if sweep_wall:
        print(f"\nwhole sweep: {flops / 1e12:.2f} TFLOP in {sweep_wall:.1f} s wall on "
              f"{args.jobs} worker(s); floor at the {args.jobs}-thread peak "
              f"{flops / peak_n:.1f} s; fraction of peak {flops / (sweep_wall * peak_n):.1%} "
              f"(training alone: {total['train'] / (sweep_wall * peak_n):.1%})")


def _row(label: str, row, flops: float, peak: float) -> str:
    wall = row["wall"]
    fraction = flops / (wall * peak) if wall else float("nan")
    return (f"| {label} | {int(row['runs'])} | {int(row['steps'])} | {row['train'] / 1e12:.2f} "
            f"| {row['other'] / 1e12:.2f} | {flops / peak:.1f} | {wall:.1f} | {fraction:.1%} |")


if __name__ == "__main__":
    sys.exit(main())
