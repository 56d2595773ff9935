"""Bytes that one ``EntangledSkip`` adds to a ``state_dict``, per family: now, previously and
at first.

"now": what ``EntangledSkip.state_dict()`` holds — the mapping's description and the
SHA-256 of its structure tensors (JSON bytes in the extra state). "previous": the format
before that — the structure tensors that are not derived from others (permutation index, CSR
parts, ...; the matrix itself for orthogonal, sinkhorn and dense) plus the description. "first":
the dense float64 matrix plus every structure tensor. All against the size of one dense
float64 ``n x n`` matrix (default parameters, seed 0).

Usage::

    python benchmarks/bench_checkpoint_size.py              # n = 768 and 4096
    python benchmarks/bench_checkpoint_size.py --n 64 256
"""

from __future__ import annotations

import argparse
import json

import torch

from entangled.mappings import families, make_mapping
from entangled.nn import EntangledSkip


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def measure(family: str, n: int) -> tuple[int, int, int, int]:
    """(bytes now, bytes previously, bytes at first, bytes of the dense float64 matrix)."""
    mapping = make_mapping(family, n, seed=0)
    now = tensor_bytes(EntangledSkip(mapping, method="structured").state_dict().values())
    operands = mapping.operands()
    structure = tensor_bytes(t for name, t in operands.items()
                             if name not in type(mapping).derived_operands)
    description = len(json.dumps({"version": 1, "mapping": mapping.to_dict()}).encode())
    first = tensor_bytes(operands.values()) + 8 * n * n
    return now, structure + description, first, 8 * n * n


def size(nbytes: int) -> str:
    return f"{nbytes} B" if nbytes < 2**10 else (f"{nbytes / 2**10:.1f} KiB" if nbytes < 2**20
                                                  else f"{nbytes / 2**20:.1f} MiB")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[768, 4096])
    parser.add_argument("--family", nargs="+", default=None)
    args = parser.parse_args(argv)
    print("| n | family | state_dict now | previously | at first | now / dense matrix |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in args.n:
        for family in args.family or families():
            now, previous, first, dense = measure(family, n)
            print(f"| {n} | {family} | {size(now)} | {size(previous)} | {size(first)} "
                  f"| {100 * now / dense:.4f}% |", flush=True)


if __name__ == "__main__":
    main()
