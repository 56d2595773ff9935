"""Haar-random orthogonal mappings.

.. math:: G_{ij} \\sim \\mathcal N(0, 1),\\quad G = QR,\\quad M = Q\\,\\mathrm{diag}(\\mathrm{sign}\\,R_{ii})

The sign fix makes ``M`` exactly Haar distributed on O(n) (Mezzadri 2007); without it QR
implementations bias the distribution.
"""

from __future__ import annotations

import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure


def haar_orthogonal(n: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-distributed ``(n, n)`` orthogonal float64 matrix drawn with ``generator``."""
    gaussian = torch.randn(n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    signs = torch.where(torch.diagonal(r) >= 0, 1.0, -1.0).to(torch.float64)
    return q * signs[None, :]


@register_family
class OrthogonalMapping(Mapping):
    """Haar-random orthogonal ``M`` (``M^T M = I``); all singular values and |eigenvalues| are 1."""

    family = "orthogonal"
    summary = "Haar-random orthogonal (QR with sign fix)"
    seeded = True
    structure = frozenset({Structure.ORTHOGONAL})

    def _build_matrix(self) -> torch.Tensor:
        return haar_orthogonal(self.n, torch.Generator().manual_seed(self.seed))

    def _exact_singular_values(self):
        return torch.ones(self.n, dtype=torch.float64)

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """``M^T M = I`` (the Haar measure charges all of O(n), so every orthogonal matrix —
        identity, permutations, rotations included — is a member)."""
        m = _checks.square(matrix)
        cls.pinned_params(params, m.shape[0])
        return _checks.is_orthogonal(m, tol)
