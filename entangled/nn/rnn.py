"""Residual RNN with an entangled recurrent skip: ``h_{t+1} = M h_t + f(h_t, x_t)``.

.. math:: h_0 = 0, \\qquad
          h_{t+1} = M h_t + \\tanh(W_h \\,\\mathrm{LN}(h_t) + W_x x_t + b),
          \\quad t = 0, \\dots, T-1, \\qquad
          y = W_{out}\\, \\mathrm{LN}(h_T) + b_{out}

The cell is **pre-norm** by default: a LayerNorm on the branch input, as in the CNN's and
ViT's residual branches, so the branch sees a state of unit scale however far ``h_t`` has
accumulated. Without it (``RNNConfig(cell_norm=False)``, kept as an ablation) the cell is
``h_{t+1} = M h_t + tanh(W_h h_t + u_t)``: with ``M = I`` the state grows with ``t`` and most
pre-activations saturate, which slows the identity's training and not the orthogonal one's
(issue 11: the findings use the pre-norm cell).

There is one :class:`ResidualBlock` (the cell, ``model.residual_blocks[0]``) with one mapping
``M`` (``n = hidden``), applied at every time step: for the metrics the residual
*applications* are the ``T`` time steps (application ``t`` maps ``h_t`` to ``h_{t+1}``), and
lesioning application ``t`` drops ``f`` at step ``t`` only. The input projection
``u_t = W_x x_t + b`` is computed for all steps at once and passed to the cell as context.
With the identity family it is exactly the standard residual RNN ``h_{t+1} = h_t + f(h_t, x_t)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from entangled.mappings.base import Mapping
from entangled.nn.blocks import EntangledModel, ResidualBlock, SkipSpec, check_config_fields
from entangled.nn.skip import EntangledSkip


@dataclass
class RNNConfig:
    """Residual RNN size.

    Attributes
    ----------
    hidden : int
        Hidden state size (``n`` of the recurrent skip mapping); default 64.
    readout_norm : bool
        LayerNorm on ``h_T`` before the linear head (default True; the state of an
        accumulating residual RNN grows with ``T``).
    cell_norm : bool
        Pre-norm cell: LayerNorm on the branch input ``h_t`` (default True, the cell the
        report's findings use); ``False`` is the un-normalised ablation.
    """

    hidden: int = 64
    readout_norm: bool = True
    cell_norm: bool = True

    def validate(self) -> "RNNConfig":
        check_config_fields(self, {"hidden": ("posint", None), "readout_norm": ("bool", None),
                                   "cell_norm": ("bool", None)}, "RNNConfig")
        return self


class RecurrentBranch(nn.Module):
    """``f(h_t, u_t) = tanh(W_h N(h_t) + u_t)`` with ``u_t = W_x x_t + b`` precomputed and
    ``N`` a LayerNorm (pre-norm cell) or the identity (``norm=False``)."""

    def __init__(self, hidden: int, norm: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(hidden) if norm else nn.Identity()
        self.recurrent = nn.Linear(hidden, hidden, bias=False)

    def preactivation(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The argument of the tanh, ``W_h N(h_t) + u_t`` (for saturation metrics)."""
        return self.recurrent(self.norm(h)) + u

    def forward(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.preactivation(h, u))


class ResidualRNN(EntangledModel):
    """Residual RNN on ``(T, D_in)`` sequences; state ``(B, hidden)``; ``T`` applications."""

    arch = "rnn"

    def __init__(self, config: RNNConfig, skip_spec: SkipSpec, input_shape, output_dim: int):
        super().__init__(config=config, skip_spec=skip_spec, input_shape=input_shape,
                         output_dim=output_dim)
        self.steps, features = self.input_shape
        self.input_proj = nn.Linear(features, config.hidden)
        cell = ResidualBlock(EntangledSkip(skip_spec.mapping(config.hidden, 0)),
                             RecurrentBranch(config.hidden, norm=config.cell_norm))
        self.residual_blocks = nn.ModuleList([cell])
        self.ln_out = nn.LayerNorm(config.hidden) if config.readout_norm else nn.Identity()
        self.head = nn.Linear(config.hidden, output_dim)

    @property
    def cell(self) -> ResidualBlock:
        return cast(ResidualBlock, self.residual_blocks[0])

    @property
    def num_applications(self) -> int:
        return self.steps

    def application_mappings(self) -> list[Mapping]:
        return [self.cell.mapping] * self.steps

    def applications(self, x: torch.Tensor):
        # unbind, not u[:, t]: the backward of T selections would build (and add) T zero
        # tensors of u's full size (quadratic in T); unbind's backward is one stack, with
        # the same gradient values
        u = self.input_proj(x)  # (B, T, hidden)
        return [(self.cell, (u_t,)) for u_t in u.unbind(1)]

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.config.hidden)

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln_out(h))
