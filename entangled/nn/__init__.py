"""Torch modules with entangled skips: ``EntangledSkip`` and the CNN / ViT / Transformer / RNN.

Build a model with :func:`build_model`; every model exposes its residual applications
uniformly (``model.residual_blocks``, ``model.run(x)``, ``model.embed``/``run_stack``/
``readout``) for :mod:`entangled.metrics`.
"""

from entangled.nn.skip import EntangledSkip
from entangled.nn.blocks import (Application, EntangledModel, ResidualBlock, SkipSpec, SpatialSkip,
                                 StackRun)
from entangled.nn.transformer import explicit_attention
from entangled.nn.models import (
    ARCHITECTURES,
    CNNConfig,
    RNNConfig,
    TransformerConfig,
    ViTConfig,
    build_model,
    config_for,
)

__all__ = [
    "ARCHITECTURES",
    "Application",
    "CNNConfig",
    "EntangledModel",
    "EntangledSkip",
    "RNNConfig",
    "ResidualBlock",
    "SkipSpec",
    "SpatialSkip",
    "StackRun",
    "TransformerConfig",
    "ViTConfig",
    "build_model",
    "config_for",
    "explicit_attention",
]
