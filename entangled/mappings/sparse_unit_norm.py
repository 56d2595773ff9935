"""Sparse perturbations of the identity rescaled to spectral norm (or radius) 1.

.. math:: A = I + s\\, G,\\qquad M = A / \\|A\\|_2 \\;(\\texttt{rescale="norm"})
          \\quad\\text{or}\\quad M = A / \\rho(A) \\;(\\texttt{rescale="radius"})

``G`` has, in every row, ``k = max(1, round(density (n - 1)))`` off-diagonal entries (``k = 0``
only for ``density = 0`` or ``n = 1``) at uniformly drawn columns with weights
``N(0, 1) / sqrt(k)`` (rows of norm about 1). Unlike the default ``sparse`` (a convex mix
with a nonnegative ``S``, whose ``||M||_2`` exceeds 1 and whose smallest singular values
collapse at small ``k``), ``M`` keeps a unit gain: ``||M||_2 = 1`` (norm) or largest
``|eigenvalue| = 1`` (radius), exactly up to rounding, with ``n (k + 1)`` nonzeros;
``strength = 0`` or ``density = 0`` gives ``I``. The rescaling factor comes from the
singular values (eigenvalues) of the dense ``A`` at construction; :meth:`apply` is a gather
of each row's stored entries.
"""

from __future__ import annotations

import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping, gathered_sum
from entangled.mappings.params import Param
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure
from entangled.mappings.sparse import off_diagonal_columns, off_diagonal_count as perturbation_count


@register_family
class SparseUnitNormMapping(Mapping):
    """``(I + s G) / ||I + s G||`` with ``G`` sparse Gaussian: a unit-gain sparse mapping."""

    family = "sparse_unit_norm"
    dense_below = {"cpu": 2048}  # measured: benchmarks/bench_mappings.py --crossover
    summary = "sparse perturbation of I rescaled to spectral norm (or radius) 1"
    seeded = True
    structure = frozenset({Structure.SPARSE})
    parameters = (
        Param("density", "float", 0.05, low=0.0, high=1.0, identity_value=0.0,
              doc="fraction of off-diagonal entries of G per row that are nonzero (>= 1 entry)"),
        Param("strength", "float", 0.5, low=0.0, high=10.0, identity_value=0.0,
              search_range=(0.0, 2.0), doc="scale s of the perturbation G"),
        Param("rescale", "choice", "norm", choices=("norm", "radius"), identity_value="norm",
              doc="divide by the spectral norm or by the spectral radius of I + s G"),
    )

    def uses_seed(self) -> bool:
        return self.params["strength"] > 0 and perturbation_count(self.n, self.params["density"]) > 0

    def max_nonzeros(self) -> int:
        """``n (k + 1)``: the diagonal and ``k`` perturbed entries per row."""
        return self.n * (perturbation_count(self.n, self.params["density"]) + 1)

    def _unscaled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """ELL form of ``A = I + s G``: each row's columns (diagonal first) and weights."""
        n, strength = self.n, self.params["strength"]
        k = perturbation_count(n, self.params["density"]) if strength > 0 else 0
        generator = torch.Generator().manual_seed(self.seed)
        columns = off_diagonal_columns(n, k, generator)
        gaussian = torch.randn(n, k, generator=generator, dtype=torch.float64)
        index = torch.cat((torch.arange(n)[:, None], columns), dim=1)
        weight = torch.cat((torch.ones(n, 1, dtype=torch.float64),
                            strength * gaussian / max(k, 1) ** 0.5), dim=1)
        return index, weight

    def scale(self) -> float:
        """``||A||_2`` or ``rho(A)`` (1 for ``A = I``)."""
        index, weight = self._unscaled()
        if index.shape[1] == 1:
            return 1.0
        dense = torch.zeros(self.n, self.n, dtype=torch.float64)
        dense[torch.arange(self.n)[:, None].expand_as(index), index] = weight
        if self.params["rescale"] == "norm":
            return float(torch.linalg.matrix_norm(dense, ord=2))
        return float(torch.linalg.eigvals(dense).abs().max())

    def _operands(self) -> dict[str, torch.Tensor]:
        index, weight = self._unscaled()
        return {"index": index, "weight": weight / self.scale()}

    @staticmethod
    def _apply_operands(operands, x, dim):
        return gathered_sum(x, operands["index"], operands["weight"], dim, reduce_axis=1)

    def _build_matrix(self) -> torch.Tensor:
        operands = self._operands()
        index, weight = operands["index"], operands["weight"]
        matrix = torch.zeros(self.n, self.n, dtype=torch.float64)
        matrix[torch.arange(self.n)[:, None].expand_as(index), index] = weight
        return matrix

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """A positive constant diagonal, the same number ``k`` of off-diagonal nonzeros
        (exactly nonzero) in every row (``k`` from the pinned density), and spectral norm 1 (``rescale="norm"``)
        or spectral radius 1 (``"radius"``) up to ``tol``; ``k = 0`` only for ``I``."""
        m = _checks.square(matrix)
        n = m.shape[0]
        pinned = cls.pinned_params(params, n)
        diagonal = torch.diagonal(m)
        if _checks.close_to(m, torch.eye(n, dtype=m.dtype), tol):
            return pinned is None or pinned["strength"] <= tol or perturbation_count(
                n, pinned["density"]) == 0
        counts = ((m - torch.diag(diagonal)) != 0).sum(1)
        k = int(counts[0])
        if bool((counts != k).any()):
            return False
        if pinned is not None:
            expected = (perturbation_count(n, pinned["density"])
                        if pinned["strength"] > 0 else 0)
            if k != expected:
                return False
        if k == 0:
            return _checks.close_to(m, torch.eye(n, dtype=m.dtype), tol)
        if not (bool(diagonal.min() > tol) and _checks.close_to(diagonal, diagonal[0].expand(n), tol)):
            return False
        norm = abs(float(torch.linalg.matrix_norm(m, ord=2)) - 1) <= tol
        radius = abs(float(torch.linalg.eigvals(m).abs().max()) - 1) <= 1e3 * tol
        modes = (pinned["rescale"],) if pinned is not None else ("norm", "radius")
        return ("norm" in modes and norm) or ("radius" in modes and radius)
