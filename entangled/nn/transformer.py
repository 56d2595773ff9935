"""Pre-LayerNorm sequence Transformer with entangled skips (the ViT reuses its layers).

Each layer has two residual applications, both entangled with ``M`` acting on the embedding
dimension of the ``(B, T, dim)`` residual stream:

.. math:: x \\leftarrow M_{2k} x + \\mathrm{attn}(\\mathrm{LN}(x)), \\qquad
          x \\leftarrow M_{2k+1} x + \\mathrm{mlp}(\\mathrm{LN}(x))

``h_0 = W_{in} x + p`` (linear token embedding plus learned positions), readout
``y = W_{out}\\, \\mathrm{pool}(\\mathrm{LN}(h_L))`` with ``pool`` the mean over tokens or the
last token. With the identity family it is exactly a standard pre-LN Transformer encoder.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from entangled.errors import InvalidParameterError
from entangled.nn.blocks import EntangledModel, ResidualBlock, SkipSpec, check_config_fields
from entangled.nn.skip import EntangledSkip

POOLS = ("mean", "last")


@contextlib.contextmanager
def explicit_attention(model: nn.Module):
    """Within the block, the attention layers of ``model`` (and only those) compute
    ``softmax(q k^T / sqrt(d)) v`` explicitly.

    Same result as the fused ``scaled_dot_product_attention`` (the default, faster), but with
    functorch batching rules, so ``torch.func.jacrev``/``vmap`` run vectorised (the metrics'
    Jacobian uses it). The switch is an attribute of each attention module, restored on
    exit: no process-wide state, so other models and threads are unaffected.
    """
    layers = [m for m in model.modules() if isinstance(m, SelfAttentionBranch)]
    previous = [m.explicit for m in layers]
    for m in layers:
        m.explicit = True
    try:
        yield
    finally:
        for m, before in zip(layers, previous):
            m.explicit = before


@dataclass
class TransformerConfig:
    """Sequence Transformer size.

    Attributes
    ----------
    dim : int
        Embedding width (``n`` of the skip mappings); default 32.
    depth : int
        Layers; each has 2 residual applications (attention, MLP); default 2.
    heads : int
        Attention heads (must divide ``dim``); default 2 (attention over up to 64 tokens is
        the main cost).
    mlp_ratio : float
        MLP hidden width ``= round(mlp_ratio * dim)``; default 2.0.
    pool : str
        ``"mean"`` over tokens (default) or ``"last"`` token, before the linear head.
    causal : bool
        Causal attention mask (default False: every token attends to every token).
    """

    dim: int = 32
    depth: int = 2
    heads: int = 2
    mlp_ratio: float = 2.0
    pool: str = "mean"
    causal: bool = False

    def validate(self) -> "TransformerConfig":
        name = type(self).__name__
        check_config_fields(self, {"dim": ("posint", None), "depth": ("posint", None),
                                   "heads": ("posint", None), "mlp_ratio": ("posfloat", None),
                                   "pool": ("choice", POOLS), "causal": ("bool", None)}, name)
        if self.dim % self.heads:
            raise InvalidParameterError("heads", self.heads, f"a divisor of dim={self.dim}",
                                        context=name)
        return self


class SelfAttentionBranch(nn.Module):
    """``f(x) = W_o\\, \\mathrm{softmax}(q k^T / \\sqrt{d_h})\\, v`` on ``LN(x)`` (multi-head)."""

    def __init__(self, dim: int, heads: int, causal: bool = False):
        super().__init__()
        self.heads = heads
        self.causal = causal
        self.explicit = False  # see explicit_attention
        self.ln = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(self.ln(x)).split(dim, dim=-1)
        shape = (batch, tokens, self.heads, dim // self.heads)
        q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))
        if self.explicit:
            scores = (q / math.sqrt(dim // self.heads)) @ k.transpose(-2, -1)
            if self.causal:
                mask = torch.ones(tokens, tokens, dtype=torch.bool, device=x.device).triu(1)
                scores = scores.masked_fill(mask, float("-inf"))
            y = torch.softmax(scores, dim=-1) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.proj(y.transpose(1, 2).reshape(batch, tokens, dim))


class MLPBranch(nn.Module):
    """``f(x) = W_2\\, \\mathrm{gelu}(W_1 \\mathrm{LN}(x) + b_1) + b_2``."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.ln(x))))


def transformer_blocks(config: TransformerConfig, skip_spec: SkipSpec) -> nn.ModuleList:
    """``2 * depth`` residual blocks: attention then MLP, each with its own mapping."""
    hidden = max(1, round(config.mlp_ratio * config.dim))
    blocks = []
    for layer in range(config.depth):
        for offset, branch in enumerate((
            SelfAttentionBranch(config.dim, config.heads, config.causal),
            MLPBranch(config.dim, hidden),
        )):
            index = 2 * layer + offset
            blocks.append(ResidualBlock(EntangledSkip(skip_spec.mapping(config.dim, index)),
                                        branch))
    return nn.ModuleList(blocks)


class TokenModel(EntangledModel):
    """Shared part of the Transformer and the ViT: pre-LN blocks, LN, pooling, linear head."""

    token_embed: nn.Module  # set by the subclass

    def _build_stack(self, config: TransformerConfig, tokens: int):
        self.pos = nn.Parameter(torch.randn(1, tokens, config.dim) * 0.02)
        self.residual_blocks = transformer_blocks(config, self.skip_spec)
        self.ln_out = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, self.output_dim)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, D_in)`` token features of the input."""
        return x

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.token_embed(self.tokens(x)) + self.pos

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        h = self.ln_out(h)
        pooled = h.mean(dim=1) if self.config.pool == "mean" else h[:, -1]
        return self.head(pooled)


class SequenceTransformer(TokenModel):
    """Transformer encoder on ``(T, D_in)`` sequences; residual stream ``(B, T, dim)``."""

    arch = "transformer"

    def __init__(self, config: TransformerConfig, skip_spec: SkipSpec, input_shape,
                 output_dim: int):
        super().__init__(config=config, skip_spec=skip_spec, input_shape=input_shape,
                         output_dim=output_dim)
        tokens, features = self.input_shape
        self.token_embed = nn.Linear(features, config.dim)
        self._build_stack(config, tokens)
