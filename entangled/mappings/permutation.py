"""Permutation mappings: ``(M x)_i = x_{p(i)}``, i.e. ``M_{i, p(i)} = 1``.

``kind="random"`` draws ``p`` uniformly from the symmetric group (seeded);
``kind="shift"`` is the cyclic shift ``p(i) = (i + shift) mod n`` (``shift=0`` is ``I``).

Eigenvalues: the permutation splits into cycles; a cycle of length L contributes the L-th
roots of unity ``e^{2 pi i k / L}``, k = 0..L-1. All singular values are 1.
"""

from __future__ import annotations

import numpy as np
import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping
from entangled.mappings.params import Param
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure


def cycle_lengths(perm: np.ndarray) -> list[int]:
    """Lengths of the cycles of the permutation ``i -> perm[i]``."""
    seen = np.zeros(len(perm), dtype=bool)
    lengths = []
    for start in range(len(perm)):
        if seen[start]:
            continue
        length, i = 0, start
        while not seen[i]:
            seen[i] = True
            i = perm[i]
            length += 1
        lengths.append(length)
    return lengths


def roots_of_unity(order: int) -> torch.Tensor:
    """The ``order``-th roots of unity ``e^{2 pi i k / order}``, k = 0..order-1 (complex128)."""
    angles = 2 * torch.pi * torch.arange(order, dtype=torch.float64) / order
    return torch.polar(torch.ones_like(angles), angles)


@register_family
class PermutationMapping(Mapping):
    """A permutation matrix, random or a cyclic shift."""

    family = "permutation"
    summary = "random or cyclic-shift permutation"
    structure = frozenset({Structure.PERMUTATION, Structure.SPARSE})
    parameters = (
        Param("kind", "choice", "random", choices=("random", "shift"), identity_value="shift",
              doc="'random' (uniform, seeded) or 'shift' (cyclic shift by `shift`)"),
        Param("shift", "int", 1, low=-(2**62), high=2**62, identity_value=0,
              search_range=(-8, 8), doc="shift of kind='shift' (taken mod n)"),
    )

    def uses_seed(self) -> bool:
        return self.params["kind"] == "random"

    def permutation(self) -> torch.Tensor:
        """The index vector ``p`` (int64) with ``(M x)_i = x_{p[i]}``."""
        if self.params["kind"] == "shift":
            return (torch.arange(self.n) + self.params["shift"] % self.n) % self.n
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed))

    def max_nonzeros(self) -> int:
        return self.n

    def _build_matrix(self) -> torch.Tensor:
        matrix = torch.zeros(self.n, self.n, dtype=torch.float64)
        matrix[torch.arange(self.n), self.permutation()] = 1.0
        return matrix

    def _operands(self) -> dict[str, torch.Tensor]:
        return {"index": self.permutation()}

    @staticmethod
    def _apply_operands(operands, x, dim):
        return x.index_select(dim, operands["index"])

    def cycle_lengths(self) -> list[int]:
        """Cycle lengths of the permutation (they sum to n)."""
        return cycle_lengths(self.permutation().numpy())

    def _exact_eigvals(self):
        return torch.cat([roots_of_unity(length) for length in self.cycle_lengths()])

    def _exact_singular_values(self):
        return torch.ones(self.n, dtype=torch.float64)

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """A 0/1 matrix with one 1 per row and column; with ``kind="shift"`` pinned, the
        cyclic shift by the pinned ``shift``."""
        m = _checks.square(matrix)
        pinned = cls.pinned_params(params, m.shape[0])
        if pinned is not None and pinned["kind"] == "shift":
            return _checks.close_to(m, cls(m.shape[0], **pinned).dense(), tol)
        binary = (m - m.round()).abs().max() <= tol and bool(((m.round() == 0) | (m.round() == 1)).all())
        ones = torch.ones(m.shape[0], dtype=m.dtype)
        return bool(binary) and _checks.close_to(m.sum(0), ones, tol) and _checks.close_to(m.sum(1), ones, tol)
