"""mHC's Sinkhorn-Knopp projection (DeepSeek, arXiv 2512.24880).

.. math:: P^{(0)} = \\exp(W / \\tau),\\; W_{ij} \\sim \\mathcal N(0, 1);\\qquad
          P^{(t+1)} = C\\big(R(P^{(t)})\\big),\\qquad M = P^{(K)}

where ``R`` divides every row by its sum and ``C`` every column by its sum; one iteration is
one row and one column normalisation. ``M`` is positive and its columns sum to 1 (the last
step); its rows sum to 1 only approximately, with an error that falls as ``iters`` grows —
finitely many iterations are *not* exactly doubly stochastic (mHC-lite, arXiv 2601.05732).
``iters = 0`` is the unnormalised ``exp(W / tau)``. Computed in the log domain, in float64;
:meth:`SinkhornMapping.matrix_in` computes the same projection in another dtype.

:func:`published_default_logits` gives the initialisation published for mHC-style mixing
(0 on the diagonal, -8 off it; with temperature 0.05 the off-diagonal ``exp(-160) ~ 1e-70``
underflows to exactly 0 in float32): ``m.matrix_in(dtype, logits=...)`` projects it with the
mapping's ``iters`` and ``temperature``.
"""

from __future__ import annotations

import torch

from entangled.mappings.base import Mapping
from entangled.mappings import _checks
from entangled.mappings.params import Param
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure, When


PUBLISHED_OFF_DIAGONAL = -8.0
PUBLISHED_TEMPERATURE = 0.05


def published_default_logits(n: int) -> torch.Tensor:
    """The published mHC-style initialisation of the mixing logits, float64: 0 on the diagonal,
    -8 off it (used with temperature 0.05): ``m.matrix_in(dtype, logits=...)`` for a mapping
    ``make_mapping("sinkhorn", n, temperature=0.05)``."""
    off = torch.full((n, n), PUBLISHED_OFF_DIAGONAL, dtype=torch.float64)
    return off.fill_diagonal_(0.0)


def sinkhorn_log(log_p: torch.Tensor, iters: int) -> torch.Tensor:
    """``iters`` alternating row/column normalisations of ``exp(log_p)``, in the log domain."""
    for _ in range(iters):
        log_p = log_p - torch.logsumexp(log_p, dim=1, keepdim=True)
        log_p = log_p - torch.logsumexp(log_p, dim=0, keepdim=True)
    return log_p


@register_family
class SinkhornMapping(Mapping):
    """Sinkhorn-Knopp projection of ``exp(W / temperature)`` with ``iters`` iterations."""

    family = "sinkhorn"
    summary = "mHC: Sinkhorn-Knopp projection of exp(W/temperature), iters iterations"
    seeded = True
    structure = frozenset({Structure.NONNEGATIVE})
    #: every iteration ends with a column normalisation
    structure_when = (When(Structure.COLUMN_STOCHASTIC, iters=(1, None)),)
    parameters = (
        Param("iters", "int", 20, low=0, high=10_000, search_range=(0, 50),
              doc="number of (row, column) normalisation pairs"),
        Param("temperature", "float", 1.0, low=0.0, exclusive_low=True,
              search_range=(0.05, 4.0), doc="tau in exp(W / tau)"),
    )

    def logits(self) -> torch.Tensor:
        """The logits ``W ~ N(0, 1)`` (float64) drawn from the seed."""
        generator = torch.Generator().manual_seed(self.seed)
        return torch.randn(self.n, self.n, generator=generator, dtype=torch.float64)

    def matrix_in(self, dtype: torch.dtype, logits: torch.Tensor | None = None) -> torch.Tensor:
        """The projection with this mapping's ``iters`` and ``temperature``, computed in
        ``dtype`` from ``logits`` (default :meth:`logits`), cast to ``dtype``: autograd-safe,
        so gradients w.r.t. the logits can be taken. ``matrix_in(torch.float64)`` is
        :meth:`matrix`."""
        w = (self.logits() if logits is None else logits).to(dtype)
        return torch.exp(sinkhorn_log(w / self.params["temperature"], self.params["iters"]))

    def _build_matrix(self) -> torch.Tensor:
        return self.matrix_in(torch.float64)

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """With ``iters >= 1`` pinned: strictly positive with columns summing to 1 (the last
        step of every iteration). With ``iters = 0`` pinned, or nothing pinned (the union over
        ``iters`` includes ``exp(W / tau)``): any strictly positive matrix.

        Row sums are 1 only in the limit: after finitely many iterations their error depends
        on ``W`` and ``tau``, so rows are not checked. Entries that underflow to 0 at tiny
        temperatures make a computed member fail the positivity test.
        """
        m = _checks.square(matrix)
        pinned = cls.pinned_params(params, m.shape[0])
        if not bool(m.min() > 0):
            return False
        if pinned is None or pinned["iters"] == 0:
            return True
        return _checks.close_to(m.sum(0), torch.ones(m.shape[0], dtype=m.dtype), tol)

    @classmethod
    def member_set_is_open(cls, params: dict) -> bool:
        return not params or params["iters"] == 0
