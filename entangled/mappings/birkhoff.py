"""mHC-lite: exact doubly stochastic mappings as convex combinations of permutations.

.. math:: M = \\sum_{r=1}^{k} a_r P_{\\pi_r}, \\qquad a \\sim \\mathrm{Dirichlet}(1, \\dots, 1)

with ``k`` uniformly random permutations ``pi_r`` (seeded). By Birkhoff-von Neumann every
doubly stochastic matrix has this form; ``M`` is doubly stochastic up to rounding, its
spectral norm is at most 1 and products of such mappings stay doubly stochastic.
:meth:`apply` is ``k`` gathers, never a dense product.
"""

from __future__ import annotations

import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping, gathered_sum
from entangled.mappings.params import Param
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure


@register_family
class BirkhoffMapping(Mapping):
    """Convex combination of ``k`` random permutations with Dirichlet(1) weights."""

    family = "birkhoff"
    dense_below = {"cpu": 256}  # measured: benchmarks/bench_mappings.py --crossover
    summary = "mHC-lite: exact convex combination of k permutations"
    seeded = True
    structure = frozenset({Structure.DOUBLY_STOCHASTIC})
    parameters = (
        Param("k", "int", 4, low=1, high=1024, identity_value=1, search_range=(1, 12),
              doc="number of permutations in the combination"),
    )

    def components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Permutation index vectors ``(k, n)`` (``(P_r x)_i = x_{index[r, i]}``) and weights ``(k,)``."""
        generator = torch.Generator().manual_seed(self.seed)
        k = self.params["k"]
        index = torch.stack([torch.randperm(self.n, generator=generator) for _ in range(k)])
        exponential = -torch.log1p(-torch.rand(k, generator=generator, dtype=torch.float64))
        return index, exponential / exponential.sum()

    def _build_matrix(self) -> torch.Tensor:
        index, weights = self.components()
        matrix = torch.zeros(self.n, self.n, dtype=torch.float64)
        rows = torch.arange(self.n)
        for perm, weight in zip(index, weights):
            matrix[rows, perm] += weight
        return matrix

    def _operands(self) -> dict[str, torch.Tensor]:
        index, weights = self.components()
        return {"index": index, "weights": weights}

    @staticmethod
    def _apply_operands(operands, x, dim):
        index, weights = operands["index"], operands["weights"]  # (k, n), (k,)
        return gathered_sum(x, index, weights[:, None].expand_as(index), dim, reduce_axis=0)

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """Doubly stochastic (the Birkhoff polytope); with ``k`` pinned, also at most ``k``
        nonzeros (entries above ``tol``) in every row and every column."""
        m = _checks.square(matrix)
        pinned = cls.pinned_params(params, m.shape[0])
        if not _checks.is_doubly_stochastic(m, tol):
            return False
        if pinned is None:
            return True
        support = m.abs() > tol
        k = pinned["k"]
        return bool(support.sum(0).max() <= k) and bool(support.sum(1).max() <= k)
