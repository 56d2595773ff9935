"""Bytes that one ``EntangledSkip`` adds to a ``state_dict``, per family, now and before.

"now": what ``EntangledSkip.state_dict()`` holds (the structure's tensors and the mapping's
description). "before": what it held until descriptions were saved — the dense float64
matrix plus every structure tensor (the dense families' matrix twice). Both against the
size of one dense float64 ``n x n`` matrix (default parameters, seed 0).

Usage::

    python benchmarks/bench_checkpoint_size.py              # n = 768 and 4096
    python benchmarks/bench_checkpoint_size.py --n 64 256
"""

from __future__ import annotations

import argparse

import torch

from entangled.mappings import families, make_mapping
from entangled.nn import EntangledSkip


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def measure(family: str, n: int) -> tuple[int, int, int]:
    """(bytes now, bytes before, bytes of the dense float64 matrix)."""
    mapping = make_mapping(family, n, seed=0)
    now = tensor_bytes(EntangledSkip(mapping, method="structured").state_dict().values())
    before = tensor_bytes(mapping.operands().values()) + 8 * n * n
    return now, before, 8 * n * n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[768, 4096])
    parser.add_argument("--family", nargs="+", default=None)
    args = parser.parse_args(argv)
    print("| n | family | state_dict now | before | now / dense matrix |")
    print("|---:|---|---:|---:|---:|")
    for n in args.n:
        for family in args.family or families():
            now, before, dense = measure(family, n)
            print(f"| {n} | {family} | {now / 2**20:.3f} MiB | {before / 2**20:.1f} MiB "
                  f"| {100 * now / dense:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
