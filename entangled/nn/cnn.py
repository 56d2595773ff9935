"""Pre-activation residual CNN with entangled skips (He et al. 2016, "Identity mappings").

.. math:: h_0 = \\mathrm{conv}_{stem}(x), \\qquad
          h_{l+1} = M_l h_l + W_{l,2} * \\mathrm{relu}(\\mathrm{bn}(W_{l,1} *
          \\mathrm{relu}(\\mathrm{bn}(h_l)))), \\qquad
          y = \\mathrm{linear}(\\mathrm{avgpool}(\\mathrm{relu}(\\mathrm{bn}(h_L))))

Nothing is applied after the sum, so the skip path is exactly ``M h``. The stem convolution
(``C_in -> width``) is the only width change and plays the role of the projection shortcut:
it is not entangled. Every block keeps the width and the resolution (3x3 convolutions with
padding 1), so ``M`` is ``width x width`` (channel mixing, a fixed 1x1 convolution) or, with
``SkipSpec.spatial``, ``M_H ⊗ M_W`` on the ``H x W`` positions (see :class:`SpatialSkip`).
With the identity family the model is exactly a pre-activation ResNet.

The same model takes 1-D signals ``(C, L)`` (MNIST-1D): the convolutions and batch norms are
then 1-D (``Conv1d``, ``BatchNorm1d``, kernel ``kernel_size``, ``same`` padding), the stream is
``(B, width, L)``, the readout averages over the ``L`` positions, and the spatial skip is one
``L x L`` mapping ``M_L`` along the positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from entangled.errors import InvalidParameterError
from entangled.nn.blocks import (EntangledModel, ResidualBlock, SkipSpec, SpatialSkip,
                                 check_config_fields)
from entangled.nn.skip import EntangledSkip


@dataclass
class CNNConfig:
    """Residual CNN size.

    Attributes
    ----------
    width : int
        Channels of the residual stream (``n`` of the channel skip mappings); default 16.
    depth : int
        Number of residual blocks (= residual applications); default 4.
    kernel_size : int
        Odd kernel size of the branch convolutions (``same`` padding); default 3.
    """

    width: int = 16
    depth: int = 4
    kernel_size: int = 3

    def validate(self) -> "CNNConfig":
        check_config_fields(self, {"width": ("posint", None), "depth": ("posint", None),
                                   "kernel_size": ("posint", None)}, "CNNConfig")
        if self.kernel_size % 2 == 0:
            raise InvalidParameterError("kernel_size", self.kernel_size, "an odd integer >= 1",
                                        context="CNNConfig")
        return self


#: convolution and batch-norm classes by the number of spatial axes (1: signals, 2: images)
LAYERS = {1: (nn.Conv1d, nn.BatchNorm1d), 2: (nn.Conv2d, nn.BatchNorm2d)}


class PreActBranch(nn.Module):
    """``f(h) = conv(relu(bn(conv(relu(bn(h))))))`` at constant width (no bias).

    ``spatial_dims``: 2 for ``(B, width, H, W)`` images (default), 1 for ``(B, width, L)``.
    """

    def __init__(self, width: int, kernel_size: int, spatial_dims: int = 2):
        super().__init__()
        conv, norm = LAYERS[spatial_dims]
        pad = kernel_size // 2
        self.bn1 = norm(width)
        self.conv1 = conv(width, width, kernel_size, padding=pad, bias=False)
        self.bn2 = norm(width)
        self.conv2 = conv(width, width, kernel_size, padding=pad, bias=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.conv1(torch.relu(self.bn1(h)))
        return self.conv2(torch.relu(self.bn2(h)))


class ResidualCNN(EntangledModel):
    """Pre-activation residual CNN on ``(C, H, W)`` images (residual stream
    ``(B, width, H, W)``) or ``(C, L)`` signals (stream ``(B, width, L)``)."""

    arch = "cnn"

    def __init__(self, config: CNNConfig, skip_spec: SkipSpec, input_shape, output_dim: int):
        super().__init__(config=config, skip_spec=skip_spec, input_shape=input_shape,
                         output_dim=output_dim)
        channels, *positions = self.input_shape
        self.spatial_dims = len(positions)
        conv, norm = LAYERS[self.spatial_dims]
        c = config
        self.stem = conv(channels, c.width, c.kernel_size, padding=c.kernel_size // 2, bias=False)
        blocks = []
        for l in range(c.depth):
            skip: nn.Module
            if skip_spec.spatial and self.spatial_dims == 2:
                skip = SpatialSkip(skip_spec.mapping(positions[0], l),
                                   skip_spec.mapping(positions[1], l))
            elif skip_spec.spatial:
                skip = EntangledSkip(skip_spec.mapping(positions[0], l), dim=-1)
            else:
                skip = EntangledSkip(skip_spec.mapping(c.width, l), dim=1)
            blocks.append(ResidualBlock(skip, PreActBranch(c.width, c.kernel_size,
                                                           self.spatial_dims)))
        self.residual_blocks = nn.ModuleList(blocks)
        self.bn_out = norm(c.width)
        self.head = nn.Linear(c.width, output_dim)

    def skip_axes(self) -> tuple[int, ...]:
        if self.skip_spec.spatial:
            return tuple(range(2, 2 + self.spatial_dims))
        return (1,)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x)

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        pooled = torch.relu(self.bn_out(h)).mean(dim=tuple(range(2, 2 + self.spatial_dims)))
        return self.head(pooled)
