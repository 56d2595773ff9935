"""Structure-aware vs dense: ``eigvals`` and ``apply`` of the mapping families.

Prints two Markdown tables (median of several runs, seconds and speed-ups measured in the
same run):

* exact ``eigvals`` (cycle decomposition / DFT / closed form) vs ``torch.linalg.eigvals`` of the
  dense matrix, with the matched distance between the two eigenvalue multisets;
* ``apply`` (gather / sparse CSR / banded or FFT convolution / 2x2 blocks / k gathers) vs the
  dense product ``x @ M^T`` on a batch of 64 float32 vectors.

Targets (issue 2): exact eigvals of permutation, circulant and rotation >= 100x faster than
dense at n = 2048 and equal within 1e-8; apply of permutation, sparse (density <= 0.05) and
circulant faster than dense at n >= 1024.

Usage: python benchmarks/bench_mappings.py [--sizes 256 1024 2048 4096] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

import entangled as E

EIG_FAMILIES = {
    "permutation": {},
    "circulant": {},
    "rotation": {},
}
APPLY_FAMILIES = {
    "permutation": {},
    "sparse (density 0.05)": {"family": "sparse", "density": 0.05},
    "sparse (density 0.01)": {"family": "sparse", "density": 0.01},
    "circulant (h=1, narrow kernel)": {"family": "circulant", "bandwidth": 1.0},
    "circulant (h=n/16, wide kernel)": {"family": "circulant", "bandwidth": "n/16"},
    "rotation": {},
    "birkhoff (k=4)": {"family": "birkhoff", "k": 4},
}


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (also fills caches such as the operands)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def multiset_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Max distance of the optimal matching (n <= 2048), else the Hausdorff distance."""
    if len(a) <= 2048:
        cost = np.abs(a[:, None] - b[None, :])
        rows, cols = linear_sum_assignment(cost)
        return float(cost[rows, cols].max())
    pa, pb = np.c_[a.real, a.imag], np.c_[b.real, b.imag]
    return float(max(cKDTree(pb).query(pa)[0].max(), cKDTree(pa).query(pb)[0].max()))


def build(label: str, spec: dict, n: int):
    spec = dict(spec)
    family = spec.pop("family", label)
    params = {k: (n / 16 if v == "n/16" else v) for k, v in spec.items()}
    return E.make_mapping(family, n, seed=0, **params)


def eig_table(sizes, repeats):
    rows = []
    for n in sizes:
        for family in EIG_FAMILIES:
            m = build(family, EIG_FAMILIES[family], n)
            dense = m.matrix()
            exact_time = median_time(lambda: E.make_mapping(m.family, n, **m.params).eigvals(), repeats)
            dense_repeats = 3 if n <= 2048 else 1
            dense_time = median_time(lambda: torch.linalg.eigvals(dense), dense_repeats)
            distance = multiset_distance(m.eigvals().numpy(), torch.linalg.eigvals(dense).numpy())
            rows.append((n, family, exact_time, dense_time, dense_time / exact_time, distance))
            print(f"  eig n={n} {family}: {dense_time / exact_time:.0f}x", flush=True)
    return rows


def apply_table(sizes, repeats, batch=64):
    rows = []
    generator = torch.Generator().manual_seed(0)
    for n in sizes:
        x = torch.randn(batch, n, generator=generator)
        for label, spec in APPLY_FAMILIES.items():
            m = build(label, spec, n)
            dense = m.matrix().float()
            structured = median_time(lambda: m.apply(x, method="structured"), repeats * 4)
            baseline = median_time(lambda: torch.nn.functional.linear(x, dense), repeats * 4)
            error = float((m.apply(x, method="structured")
                           - torch.nn.functional.linear(x, dense)).abs().max())
            rows.append((n, label, structured, baseline, baseline / structured, error))
    return rows


CROSSOVER_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)


def skip_step_time(skip, x: torch.Tensor, repeats: int) -> float:
    """Median time of forward + backward of ``EntangledSkip`` on ``x`` (a training step's
    share of the skip)."""
    def step():
        x.grad = None
        skip(x).sum().backward()
    return median_time(step, repeats)


def crossover_table(repeats: int, batch: int = 64):
    """Per family: forward + backward time of the structured kernel and of the dense product
    at each size; the crossover is the smallest size from which structured stays faster."""
    from entangled.nn import EntangledSkip

    rows, crossovers = [], {}
    for family in E.families():
        if family in ("identity", "orthogonal", "sinkhorn", "dense"):
            continue  # no structured kernel other than the dense product
        crossover = None
        for n in CROSSOVER_SIZES:
            m = E.make_mapping(family, n, seed=0)
            x = torch.randn(batch, n, requires_grad=True)
            times = {method: skip_step_time(EntangledSkip(m, method=method).float(), x, repeats)
                     for method in ("structured", "dense")}
            faster = times["structured"] <= times["dense"]
            crossover = (crossover or n) if faster else None
            rows.append((family, n, times["structured"], times["dense"]))
            print(f"  {family} n={n}: structured/dense {times['structured'] / times['dense']:.2f}",
                  flush=True)
        crossovers[family] = crossover
    return rows, crossovers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 2048, 4096])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--crossover", action="store_true",
                        help="only measure the dense/structured crossover of apply per family")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} threads, "
          f"torch {torch.__version__}, python {platform.python_version()}\n")
    if args.crossover:
        rows, crossovers = crossover_table(args.repeats * 4)
        print("\n### EntangledSkip forward + backward, batch 64 float32: structured vs dense\n")
        print("| family | n | structured (ms) | dense (ms) | structured / dense |")
        print("|---|---:|---:|---:|---:|")
        for family, n, structured, dense in rows:
            print(f"| {family} | {n} | {structured * 1e3:.3f} | {dense * 1e3:.3f} "
                  f"| {structured / dense:.2f} |")
        print("\ncrossover (dense_below, cpu): " + ", ".join(
            f"{f}={c if c is not None else '> ' + str(CROSSOVER_SIZES[-1])}"
            for f, c in crossovers.items()))
        return

    apply_rows = apply_table(args.sizes, args.repeats)
    eig_rows = eig_table(args.sizes, args.repeats)

    print("\n### eigvals: exact from structure vs dense torch.linalg.eigvals\n")
    print("| n | family | exact (ms) | dense (ms) | speed-up | max matched distance |")
    print("|---|---|---:|---:|---:|---:|")
    for n, family, exact, dense, ratio, distance in eig_rows:
        print(f"| {n} | {family} | {exact * 1e3:.2f} | {dense * 1e3:.0f} | {ratio:.0f}x | {distance:.1e} |")

    print("\n### apply on a batch of 64 float32 vectors: structure-aware vs dense x @ M^T\n")
    print("| n | family | structured (ms) | dense (ms) | speed-up | max abs difference |")
    print("|---|---|---:|---:|---:|---:|")
    for n, label, structured, dense, ratio, error in apply_rows:
        print(f"| {n} | {label} | {structured * 1e3:.3f} | {dense * 1e3:.3f} | {ratio:.1f}x | {error:.1e} |")


if __name__ == "__main__":
    main()
