"""Vision Transformer with entangled skips on the embedding dimension.

An image ``(C, H, W)`` is cut into non-overlapping ``patch x patch`` patches, row-major, each
flattened to ``C * patch * patch`` features (channel-major inside a patch); an input that is
already ``(P, D)`` patches is used as is. Then ``h_0 = W_{in} \\text{patches} + p`` and the
pre-LN layers of :mod:`entangled.nn.transformer`, both sub-blocks entangled:

.. math:: x \\leftarrow M x + \\mathrm{attn}(\\mathrm{LN}(x)), \\qquad
          x \\leftarrow M x + \\mathrm{mlp}(\\mathrm{LN}(x))

Readout: mean over patches of ``LN(h_L)`` (or the last patch), then a linear head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from entangled.errors import InvalidParameterError
from entangled.nn.blocks import SkipSpec, check_config_fields
from entangled.nn.transformer import POOLS, TokenModel, TransformerConfig


@dataclass
class ViTConfig(TransformerConfig):
    """ViT size (the fields of :class:`TransformerConfig` plus the patch size).

    Attributes
    ----------
    dim, depth, mlp_ratio, pool, causal
        As in :class:`TransformerConfig` (defaults 32, 2, 2.0, "mean", False).
    heads : int
        Attention heads; default 4 (16 patches are cheap).
    patch : int
        Side of the square patches cut from ``(C, H, W)`` images; default 2 (16 patches of
        4 pixels on 8x8 digits). Ignored for inputs that are already patches ``(P, D)``.
    """

    heads: int = 4
    patch: int = 2

    def validate(self) -> "ViTConfig":
        super().validate()
        check_config_fields(self, {"patch": ("posint", None)}, "ViTConfig")
        return self


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """``(B, C, H, W) -> (B, (H/p)(W/p), C p p)``: row-major patches, channel-major inside."""
    batch, channels, height, width = x.shape
    x = x.reshape(batch, channels, height // patch, patch, width // patch, patch)
    x = x.permute(0, 2, 4, 1, 3, 5)
    return x.reshape(batch, (height // patch) * (width // patch), channels * patch * patch)


class VisionTransformer(TokenModel):
    """ViT on ``(C, H, W)`` images or ``(P, D)`` patches; residual stream ``(B, P, dim)``."""

    arch = "vit"

    def __init__(self, config: ViTConfig, skip_spec: SkipSpec, input_shape, output_dim: int):
        super().__init__(config=config, skip_spec=skip_spec, input_shape=input_shape,
                         output_dim=output_dim)
        if len(self.input_shape) == 3:
            channels, height, width = self.input_shape
            if height % config.patch or width % config.patch:
                raise InvalidParameterError(
                    "patch", config.patch,
                    f"a divisor of the image height {height} and width {width}",
                    context="ViTConfig")
            tokens = (height // config.patch) * (width // config.patch)
            features = channels * config.patch**2
        else:
            tokens, features = self.input_shape
        self.token_embed = nn.Linear(features, config.dim)
        self._build_stack(config, tokens)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        return patchify(x, self.config.patch) if x.ndim == 4 else x


__all__ = ["POOLS", "ViTConfig", "VisionTransformer", "patchify"]
