"""The identity skip ``M = I`` of the standard residual block."""

from __future__ import annotations

import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure


@register_family
class IdentityMapping(Mapping):
    """``M = I``: every eigenvalue and singular value is 1; :meth:`apply` returns its input."""

    family = "identity"
    summary = "M = I, the standard residual skip"
    structure = frozenset({Structure.PERMUTATION, Structure.SYMMETRIC, Structure.SPARSE})

    def max_nonzeros(self) -> int:
        return self.n

    def _build_matrix(self) -> torch.Tensor:
        return torch.eye(self.n, dtype=torch.float64)

    def _operands(self) -> dict[str, torch.Tensor]:
        return {}

    @staticmethod
    def _apply_operands(operands, x, dim):
        return x

    def _exact_eigvals(self):
        return torch.ones(self.n, dtype=torch.complex128)

    def _exact_singular_values(self):
        return torch.ones(self.n, dtype=torch.float64)

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """``M = I``."""
        m = _checks.square(matrix)
        cls.pinned_params(params, m.shape[0])
        return _checks.close_to(m, torch.eye(m.shape[0], dtype=m.dtype), tol)
