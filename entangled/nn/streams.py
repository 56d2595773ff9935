"""A multi-stream (Hyper-Connection style) sequence Transformer: the skip mixes *streams*.

The residual state is ``n`` streams of width ``d`` per token, ``h`` of shape
``(B, T, n, d)``. Every residual application (attention, then MLP, per layer) is

.. math:: h_{l+1} = (M_l \\otimes I_d)\\, h_l + \\mathbf 1_n\\, f_l\\Big(\\tfrac1n \\sum_i h_l^{(i)}\\Big)

— the branch reads the mean of the streams (a fixed ``H_pre``), its output is written to every
stream (``H_post = 1``), and the fixed ``n x n`` skip mapping ``M_l`` of the run's family mixes
the streams (``H_res``): ``identity`` is a plain residual (all streams stay copies of one),
``dense`` an unconstrained mixing like Hyper-Connections, ``sinkhorn`` mHC's projection,
``circulant`` circulant mHC. The embedding is copied into every stream (HC's initialisation);
the readout is the mean of the streams at the last token, then LayerNorm and a linear head.

The mixings are fixed matrices, as every skip of this project: the architecture compares the
*structure* of stream mixing at equal compute, not mixings learned during training (literature
claim 47, ``reports/suites/literature/lit47_stream_lm.toml``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from entangled.errors import InvalidParameterError
from entangled.nn.blocks import EntangledModel, ResidualBlock, SkipSpec, check_config_fields
from entangled.nn.skip import EntangledSkip
from entangled.nn.transformer import MLPBranch, SelfAttentionBranch


@dataclass
class StreamConfig:
    """Multi-stream Transformer size.

    Attributes
    ----------
    dim : int
        Width ``d`` of each stream; default 32.
    streams : int
        Number ``n`` of residual streams (the size of the skip mappings); default 4.
    depth : int
        Layers; each has 2 residual applications (attention, MLP); default 2.
    heads : int
        Attention heads (must divide ``dim``); default 2.
    mlp_ratio : float
        MLP hidden width ``= round(mlp_ratio * dim)``; default 2.0.
    causal : bool
        Causal attention (default True: a language model reading left to right).
    """

    dim: int = 32
    streams: int = 4
    depth: int = 2
    heads: int = 2
    mlp_ratio: float = 2.0
    causal: bool = True

    def validate(self) -> "StreamConfig":
        name = type(self).__name__
        check_config_fields(self, {"dim": ("posint", None), "streams": ("posint", None),
                                   "depth": ("posint", None), "heads": ("posint", None),
                                   "mlp_ratio": ("posfloat", None), "causal": ("bool", None)},
                            name)
        if self.dim % self.heads:
            raise InvalidParameterError("heads", self.heads, f"a divisor of dim={self.dim}",
                                        context=name)
        return self


class StreamBranch(nn.Module):
    """``f`` on the mean of the ``n`` streams, written back to every stream:
    ``(B, T, n, d) -> (B, T, n, d)``."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.inner(h.mean(dim=-2)).unsqueeze(-2).expand_as(h)


class StreamTransformer(EntangledModel):
    """Transformer on ``(T, D_in)`` sequences with ``n`` residual streams mixed by the skips."""

    arch = "stream_lm"

    def __init__(self, config: StreamConfig, skip_spec: SkipSpec, input_shape, output_dim: int):
        super().__init__(config=config, skip_spec=skip_spec, input_shape=input_shape,
                         output_dim=output_dim)
        tokens, features = self.input_shape
        hidden = max(1, round(config.mlp_ratio * config.dim))
        self.token_embed = nn.Linear(features, config.dim)
        self.pos = nn.Parameter(torch.randn(1, tokens, config.dim) * 0.02)
        blocks = []
        for layer in range(config.depth):
            for offset, inner in enumerate((
                    SelfAttentionBranch(config.dim, config.heads, config.causal),
                    MLPBranch(config.dim, hidden))):
                mapping = skip_spec.mapping(config.streams, 2 * layer + offset)
                blocks.append(ResidualBlock(EntangledSkip(mapping, dim=-2), StreamBranch(inner)))
        self.residual_blocks = nn.ModuleList(blocks)
        self.ln_out = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, self.output_dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.token_embed(x) + self.pos
        return h.unsqueeze(-2).expand(*h.shape[:-1], self.config.streams, h.shape[-1]).clone()

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln_out(h[:, -1].mean(dim=-2)))

    def skip_axes(self) -> tuple[int, ...]:
        return (-2,)
