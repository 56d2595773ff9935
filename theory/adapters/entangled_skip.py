"""The project's own skip: a pre-activation residual block around :class:`EntangledSkip`.

.. math:: y = M x + \\tanh(W x + b)

With the branch silenced, the probed map must be ``M`` itself (to float64 rounding) and the
Kronecker residual 0 — a self-test of :func:`entangled.theory.probe.probe`.
"""

from __future__ import annotations

import torch
from torch import nn

from entangled.errors import InvalidParameterError
from entangled.mappings.base import Mapping
from entangled.nn.skip import EntangledSkip


class EntangledResidualBlock(nn.Module):
    """``y = skip(x) + branch(x)``: ``skip`` an :class:`EntangledSkip`, ``branch`` tanh(Linear)."""

    def __init__(self, mapping: Mapping, *, dim: int = -1, seed: int = 0):
        super().__init__()
        if not isinstance(mapping, Mapping):
            raise InvalidParameterError("mapping", type(mapping).__name__, "an entangled Mapping",
                                        context="EntangledResidualBlock")
        self.skip = EntangledSkip(mapping, dim=dim)
        self.dim = dim
        generator = torch.Generator().manual_seed(seed)
        linear = nn.Linear(mapping.n, mapping.n)
        with torch.no_grad():
            linear.weight.copy_(torch.randn(mapping.n, mapping.n, generator=generator)
                                / mapping.n ** 0.5)
            linear.bias.copy_(torch.randn(mapping.n, generator=generator))
        self.branch = nn.Sequential(linear, nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.branch(x.movedim(self.dim, -1)).movedim(-1, self.dim)
        return self.skip(x) + branch


def entangled_skip_spec(mapping: Mapping, *, batch: int = 2, seq: int = 3, seed: int = 0) -> dict:
    """Probe spec of :class:`EntangledResidualBlock` on a ``(batch, seq, n)`` input.

    The branch is silenced by a hook (``silence="branch"``); ``exposed`` is the mapping's own
    matrix, so the catalog's "equals the exposed matrix" claim is the self-test.
    """
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, seq, mapping.n, generator=generator, dtype=torch.float64)
    return {
        "block": EntangledResidualBlock(mapping, seed=seed),
        "input": x,
        "layout": "... f",
        "silence": "branch",
        "exposed": mapping.matrix(),
        "source": f"EntangledResidualBlock({mapping!r})",
        "description": "entangled.nn.EntangledSkip in y = M x + tanh(W x + b)",
    }
