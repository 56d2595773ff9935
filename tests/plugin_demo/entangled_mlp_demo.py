"""A third-party plugin, as a researcher would write it: one residual MLP architecture and
one task, registered through the entry-point groups ``entangled.architectures`` and
``entangled.tasks`` (see ``entangled_mlp_demo-0.1.dist-info/entry_points.txt``)."""

from dataclasses import dataclass

import torch
from torch import nn

from entangled.mappings.params import Param
from entangled.nn.blocks import EntangledModel, ResidualBlock
from entangled.nn.models import Architecture
from entangled.nn.skip import EntangledSkip
from entangled.tasks import Task, TaskData


@dataclass
class MLPConfig:
    width: int = 8
    depth: int = 2

    def validate(self):
        if not (isinstance(self.width, int) and self.width >= 1):
            raise ValueError(f"invalid width={self.width!r}; allowed: a positive integer")
        return self


class Branch(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.lin = nn.Linear(width, width)

    def forward(self, h):
        return torch.tanh(self.lin(h))


class ResidualMLP(EntangledModel):
    arch = "mlp_demo"

    def __init__(self, config, skip_spec, input_shape, output_dim):
        super().__init__(config=config, skip_spec=skip_spec, input_shape=input_shape,
                         output_dim=output_dim)
        size = 1
        for s in self.input_shape:
            size *= s
        self.inp = nn.Linear(size, config.width)
        self.residual_blocks = nn.ModuleList(
            ResidualBlock(EntangledSkip(skip_spec.mapping(config.width, l)), Branch(config.width))
            for l in range(config.depth))
        self.head = nn.Linear(config.width, output_dim)

    def embed(self, x):
        return self.inp(x.flatten(1))

    def readout(self, h):
        return self.head(h)


MLP = Architecture("mlp_demo", MLPConfig, ResidualMLP, input_kinds=("sequence",),
                   input_ranks=(2,), input_doc="a sequence shape (T, D)")


def load_first_bit(*, seed=0, n=64):
    """Sequences of T=4 bits; the target is the first bit (a time-variant task)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (2 * n, 4, 1), generator=g).float()
    y = x[:, 0, 0].long()
    return TaskData(name="first_bit", kind="sequence", x_train=x[:n], y_train=y[:n],
                    x_test=x[n:], y_test=y[n:], input_shape=(4, 1), output_dim=2,
                    chance_accuracy=0.5, memoryless_accuracy=0.5, time_structure="time-variant",
                    description="first bit of 4 (chance 0.5)", num_classes=2)


FIRST_BIT = Task("first_bit", kind="sequence", time_structure="time-variant", chance=0.5,
                 load=load_first_bit, options=(Param("n", "int", 64, low=2, high=10**5),))
