"""Dense mappings: a user's own matrix, or unconstrained random mixing.

With ``matrix`` given (:func:`from_matrix`), ``M`` is that matrix. Without it, ``M`` is the
seeded unconstrained perturbation of the identity used by Hyper-Connections-style mixing,

.. math:: M = I + \\frac{\\sigma}{\\sqrt n} G,\\qquad G_{ij} \\sim \\mathcal N(0, 1),

with ``sigma = scale`` (``scale = 0`` gives ``I``; ``scale`` is ignored when ``matrix`` is
given). Nothing about its spectrum or gain is constrained — the baseline that mHC's
projections are compared against.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from entangled.mappings.base import Mapping
from entangled.mappings.params import as_float64_matrix
from entangled.errors import InvalidParameterError
from entangled.mappings.params import Param
from entangled.mappings.registry import register_family


@register_family
class DenseMapping(Mapping):
    """An arbitrary finite square matrix."""

    family = "dense"
    summary = "a user's own matrix (from_matrix), else I + scale * G / sqrt(n)"
    parameters = (
        Param("scale", "float", 0.5, low=0.0, high=1e6, identity_value=0.0,
              search_range=(0.0, 2.0),
              doc="sigma of the random perturbation (ignored when matrix is given)"),
        Param("matrix", "matrix", None, doc="the (n, n) matrix itself, or None for random"),
    )

    def _validate(self) -> None:
        matrix = self.params["matrix"]
        if matrix is not None and len(matrix) != self.n:
            raise InvalidParameterError(
                "matrix", f"<({len(matrix)}, {len(matrix)}) array>",
                f"an (n, n) array with n={self.n}", context=self.family,
            )

    def uses_seed(self) -> bool:
        return self.params["matrix"] is None and self.params["scale"] > 0

    def _build_matrix(self) -> torch.Tensor:
        if self.params["matrix"] is not None:
            return torch.tensor(self.params["matrix"], dtype=torch.float64)
        generator = torch.Generator().manual_seed(self.seed)
        gaussian = torch.randn(self.n, self.n, generator=generator, dtype=torch.float64)
        return torch.eye(self.n, dtype=torch.float64) + self.params["scale"] / math.sqrt(self.n) * gaussian

    @classmethod
    def contains(cls, matrix, /, tol: float = 1e-9, **params) -> bool:
        """Every finite square matrix is a dense mapping (a user's own ``matrix``; the
        Gaussian perturbation also has every matrix in its support). With parameters pinned:
        ``matrix`` given, that matrix; ``scale = 0``, the identity; any other ``scale``,
        every matrix."""
        m = as_float64_matrix(matrix)
        pinned = cls.pinned_params(params, m.shape[0])
        if pinned is None:
            return True
        if pinned["matrix"] is not None:
            target = torch.tensor(pinned["matrix"], dtype=torch.float64)
        elif pinned["scale"] == 0:
            target = torch.eye(m.shape[0], dtype=torch.float64)
        else:
            return True
        return bool((m - target).abs().max() <= tol)

    @classmethod
    def member_set_is_open(cls, params: dict) -> bool:
        return not params or (params["matrix"] is None and params["scale"] != 0)


def from_matrix(matrix: Any) -> DenseMapping:
    """Wrap a square, finite, non-empty 2-D array-like as a ``"dense"`` mapping."""
    tensor = as_float64_matrix(matrix, name="matrix")
    return DenseMapping(tensor.shape[0], matrix=tensor.tolist())
