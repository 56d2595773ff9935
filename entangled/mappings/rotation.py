"""Block-diagonal 2x2 rotations: a continuous path of orthogonal maps away from ``I``.

.. math:: M = \\bigoplus_{k=0}^{\\lfloor n/2\\rfloor-1} R(\\theta) \\;(\\oplus\\, 1 \\text{ if n is odd}),
          \\qquad R(\\theta) = \\begin{pmatrix}\\cos\\theta & -\\sin\\theta\\\\ \\sin\\theta & \\cos\\theta\\end{pmatrix}

acting on coordinate pairs (0, 1), (2, 3), ... . ``theta = 0`` gives ``I``. Eigenvalues are
``e^{±i theta}`` per block (and 1 for the unpaired last coordinate); all singular values are 1.
"""

from __future__ import annotations

import math

import torch

from entangled.mappings import _checks
from entangled.mappings.base import Mapping, along
from entangled.mappings.params import Param
from entangled.mappings.registry import register_family
from entangled.mappings.structure import Structure


@register_family
class RotationMapping(Mapping):
    """2x2 rotation blocks by ``theta`` on consecutive coordinate pairs."""

    family = "rotation"
    dense_below = {"cpu": 256}  # measured: benchmarks/bench_mappings.py --crossover
    derived_operands = frozenset({"swap"})
    summary = "block-diagonal 2x2 rotations by theta (identity at theta = 0)"
    structure = frozenset({Structure.ORTHOGONAL, Structure.SPARSE})
    parameters = (
        Param("theta", "float", math.pi / 4, identity_value=0.0,
              search_range=(-math.pi, math.pi), doc="rotation angle in radians"),
    )

    def max_nonzeros(self) -> int:
        """Four entries per 2x2 block, one for the last coordinate when ``n`` is odd."""
        return 4 * (self.n // 2) + self.n % 2

    @property
    def blocks(self) -> int:
        return self.n // 2

    def _cos_sin(self) -> torch.Tensor:
        theta = self.params["theta"]
        return torch.tensor([math.cos(theta), math.sin(theta)], dtype=torch.float64)

    def _build_matrix(self) -> torch.Tensor:
        c, s = self._cos_sin().tolist()
        matrix = torch.eye(self.n, dtype=torch.float64)
        idx = torch.arange(self.blocks) * 2
        matrix[idx, idx] = c
        matrix[idx, idx + 1] = -s
        matrix[idx + 1, idx] = s
        matrix[idx + 1, idx + 1] = c
        return matrix

    def _operands(self) -> dict[str, torch.Tensor]:
        """``y = cos * x + sin * x[swap]``: ``swap`` exchanges each pair (2k, 2k+1),
        ``cos = (c, c, ..., [1])`` and ``sin = (-s, s, -s, s, ..., [0])``."""
        c, s = self._cos_sin().tolist()
        paired = 2 * self.blocks
        swap = torch.arange(self.n)
        swap[0:paired:2] += 1
        swap[1:paired:2] -= 1
        cos = torch.full((self.n,), c, dtype=torch.float64)
        sin = torch.zeros(self.n, dtype=torch.float64)
        sin[0:paired:2], sin[1:paired:2] = -s, s
        cos[paired:] = 1.0
        return {"swap": swap, "cos": cos, "sin": sin}

    @staticmethod
    def _apply_operands(operands, x, dim):
        cos = along(operands["cos"], x.ndim, dim)
        sin = along(operands["sin"], x.ndim, dim)
        return torch.addcmul(x * cos, x.index_select(dim, operands["swap"]), sin)

    def _exact_eigvals(self):
        theta = self.params["theta"]
        per_block = torch.tensor([complex(math.cos(theta), math.sin(theta)),
                                  complex(math.cos(theta), -math.sin(theta))],
                                 dtype=torch.complex128)
        values = per_block.repeat(self.blocks)
        if self.n % 2:
            values = torch.cat((values, torch.ones(1, dtype=torch.complex128)))
        return values

    def _exact_singular_values(self):
        return torch.ones(self.n, dtype=torch.float64)

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """The block rotation for some ``theta`` (for the given ``theta`` when pinned)."""
        m = _checks.square(matrix)
        n = m.shape[0]
        pinned = cls.pinned_params(params, n)
        if pinned is not None:
            return _checks.close_to(m, cls(n, **pinned).dense(), tol)
        if n == 1:
            return _checks.close_to(m, torch.ones(1, 1, dtype=m.dtype), tol)
        c, s = float(m[0, 0]), float(m[1, 0])
        if abs(c * c + s * s - 1) > tol:
            return False
        theta = math.atan2(s, c)
        return _checks.close_to(m, cls(n, theta=theta).dense(), tol)
