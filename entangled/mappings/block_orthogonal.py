"""Sparse orthogonal mappings: block-diagonal Haar-random rotations of size ``b``.

.. math:: M = Q_1 \\oplus Q_2 \\oplus \\dots \\oplus Q_m,\\qquad Q_r \\sim \\mathrm{Haar}(SO(b_r))

on consecutive coordinate blocks of size ``b = block`` (the last block takes the remaining
``n mod b`` coordinates). Each block is drawn like the ``orthogonal`` family (QR of a
Gaussian with the sign fix, Mezzadri 2007) and its first column negated when its determinant
is -1, so it is Haar on the rotations SO(b) and ``det M = 1``; ``block = 1`` gives exactly
``I``. ``M`` keeps the identity's attributes that the default ``sparse`` loses: ``M^T M = I``
(all singular values and ``|eigenvalues|`` are 1, ``|det M| = 1``) with only ``n b`` nonzeros.

Eigenvalues are the union of the blocks' eigenvalues (each from its ``b x b`` block);
:meth:`apply` gathers each row's ``b`` stored entries and sums them, never dense.
"""

from __future__ import annotations

import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping, gathered_sum
from entangled.mappings.orthogonal import haar_orthogonal
from entangled.mappings.params import Param
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure


def haar_rotation(size: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-distributed ``(size, size)`` rotation (orthogonal, determinant +1), float64."""
    q = haar_orthogonal(size, generator)
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def block_sizes(n: int, block: int) -> list[int]:
    """Sizes of the consecutive diagonal blocks: ``block`` repeated, then ``n mod block``."""
    sizes = [block] * (n // block)
    return sizes + ([n % block] if n % block else [])


@register_family
class BlockOrthogonalMapping(Mapping):
    """Block-diagonal Haar rotations of size ``block``: orthogonal with ``n * block`` nonzeros."""

    family = "block_orthogonal"
    dense_below = {"cpu": 512}  # measured: benchmarks/bench_mappings.py --crossover
    summary = "sparse orthogonal: block-diagonal Haar rotations SO(block) (I at block = 1)"
    seeded = True
    structure = frozenset({Structure.ORTHOGONAL, Structure.SPARSE})
    parameters = (
        Param("block", "int", 4, low=1, high=256, identity_value=1, search_range=(1, 8),
              doc="size b of the diagonal blocks (the last one takes n mod b)"),
    )

    def uses_seed(self) -> bool:
        return min(self.params["block"], self.n) > 1

    def max_nonzeros(self) -> int:
        """``sum_r b_r^2`` over the diagonal blocks (at most ``n * block``)."""
        return sum(size * size for size in block_sizes(self.n, self.params["block"]))

    def blocks(self) -> list[torch.Tensor]:
        """The diagonal blocks ``Q_1, ..., Q_m`` (float64)."""
        generator = torch.Generator().manual_seed(self.seed)
        return [haar_rotation(size, generator) for size in block_sizes(self.n, self.params["block"])]

    def _build_matrix(self) -> torch.Tensor:
        return torch.block_diag(*self.blocks())

    def _operands(self) -> dict[str, torch.Tensor]:
        """Row i's stored entries: columns ``start(i) + 0..b-1`` and that row of its block
        (zero weights pad the short last block)."""
        width = min(self.params["block"], self.n)
        index = torch.zeros(self.n, width, dtype=torch.int64)
        weight = torch.zeros(self.n, width, dtype=torch.float64)
        start = 0
        for q in self.blocks():
            size = q.shape[0]
            index[start:start + size, :size] = torch.arange(start, start + size)
            weight[start:start + size, :size] = q
            start += size
        return {"index": index, "weight": weight}

    @staticmethod
    def _apply_operands(operands, x, dim):
        return gathered_sum(x, operands["index"], operands["weight"], dim, reduce_axis=1)

    def _exact_eigvals(self):
        return torch.cat([torch.linalg.eigvals(q) for q in self.blocks()])

    def _exact_singular_values(self):
        return torch.ones(self.n, dtype=torch.float64)

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """Orthogonal and block diagonal with blocks of some size ``b`` (the pinned ``block``)
        whose determinants are +1: zero outside the blocks, ``M^T M = I``."""
        m = _checks.square(matrix)
        n = m.shape[0]
        pinned = cls.pinned_params(params, n)
        if not _checks.is_orthogonal(m, tol):
            return False
        candidates = [pinned["block"]] if pinned is not None else range(1, n + 1)
        return any(rotation_blocks_fit(m, block, tol) for block in candidates)


def rotation_blocks_fit(m: torch.Tensor, block: int, tol: float) -> bool:
    """Whether ``m`` is zero outside the diagonal blocks of ``block_sizes(n, block)`` and each
    block has determinant +1."""
    n = m.shape[0]
    mask = torch.zeros(n, n, dtype=torch.bool)
    start = 0
    determinants = []
    for size in block_sizes(n, block):
        mask[start:start + size, start:start + size] = True
        determinants.append(float(torch.linalg.det(m[start:start + size, start:start + size])))
        start += size
    outside = m.masked_fill(mask, 0.0)
    return bool(outside.abs().max() <= tol) and all(abs(d - 1) <= 1e-6 for d in determinants)
