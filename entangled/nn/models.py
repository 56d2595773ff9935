"""Model registry: ``build_model(arch, input_shape=..., output_dim=..., skip=SkipSpec(...))``.

>>> from entangled.nn.models import SkipSpec, build_model
>>> model = build_model("cnn", input_shape=(1, 8, 8), output_dim=10,
...                     skip=SkipSpec("sparse", {"density": 0.1}), seed=0)
>>> model(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])

Input shapes (per example, without the batch axis):

========== ====================================================
arch        input_shape
========== ====================================================
cnn         image ``(C, H, W)`` or 1-D signal ``(C, L)``
vit         image ``(C, H, W)`` (cut into patches) or patches ``(P, D)``
transformer sequence ``(T, D_in)`` (patches are sequences too)
rnn         sequence ``(T, D_in)``
========== ====================================================
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import torch

from entangled.errors import InvalidParameterError
from entangled.mappings.params import is_integer
from entangled.nn.blocks import EntangledModel, ResidualBlock, SkipSpec, StackRun, Application
from entangled.nn.cnn import CNNConfig, ResidualCNN
from entangled.nn.rnn import RNNConfig, ResidualRNN
from entangled.nn.transformer import SequenceTransformer, TransformerConfig
from entangled.nn.vit import ViTConfig, VisionTransformer

ARCHITECTURES = ("cnn", "vit", "transformer", "rnn")

CONFIGS = {"cnn": CNNConfig, "vit": ViTConfig, "transformer": TransformerConfig,
           "rnn": RNNConfig}
MODELS = {"cnn": ResidualCNN, "vit": VisionTransformer, "transformer": SequenceTransformer,
          "rnn": ResidualRNN}
INPUT_RANKS = {"cnn": (3, 2), "vit": (3, 2), "transformer": (2,), "rnn": (2,)}
INPUT_DOC = {
    "cnn": "an image shape (C, H, W) or a signal shape (C, L)",
    "vit": "an image shape (C, H, W) or a patch shape (P, D)",
    "transformer": "a sequence shape (T, D_in)",
    "rnn": "a sequence shape (T, D_in)",
}


def check_arch(arch: Any) -> str:
    """Return ``arch`` if it is one of :data:`ARCHITECTURES`, else raise."""
    if arch not in ARCHITECTURES:
        raise InvalidParameterError("arch", arch, "one of " + ", ".join(ARCHITECTURES))
    return arch


def config_for(arch: str, overrides: dict | None = None):
    """The default config of ``arch`` with ``overrides`` applied, validated.

    Raises
    ------
    InvalidParameterError
        For an unknown arch, an unknown key (the message lists the fields) or a bad value.
    """
    cls = CONFIGS[check_arch(arch)]
    overrides = dict(overrides or {})
    fields = [f.name for f in dataclasses.fields(cls)]
    for key in overrides:
        if key not in fields:
            raise InvalidParameterError("config key", key,
                                        f"fields of {cls.__name__}: " + ", ".join(fields),
                                        context=f"arch {arch!r}")
    return cls(**overrides).validate()


def check_input_shape(arch: str, input_shape: Any) -> tuple[int, ...]:
    """Validate the per-example input shape for ``arch``."""
    allowed = INPUT_DOC[arch] + " of positive integers"
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (shape is None or len(shape) not in INPUT_RANKS[arch]
            or not all(is_integer(s) and s >= 1 for s in shape)):
        raise InvalidParameterError("input_shape", input_shape, allowed,
                                    context=f"arch {arch!r}")
    return tuple(int(s) for s in shape)


def build_model(arch: str, *, input_shape: Sequence[int], output_dim: int,
                skip: SkipSpec | None = None, config: Any = None, seed: int = 0
                ) -> EntangledModel:
    """Build a model whose skips are the mappings of ``skip``, deterministically from ``seed``.

    Parameters
    ----------
    arch : one of :data:`ARCHITECTURES`.
    input_shape : shape of one example (see the module docstring).
    output_dim : number of outputs (classes).
    skip : the skip mappings (default ``SkipSpec()``: identity, a standard residual model).
    config : the arch's config dataclass, a dict of overrides, or None for the defaults.
    seed : seed of the weight initialisation (the global RNG is left untouched).

    Returns
    -------
    EntangledModel
        ``model(x) -> (B, output_dim)``; ``model.residual_blocks``, ``model.run(x)``, ...
    """
    arch = check_arch(arch)
    shape = check_input_shape(arch, input_shape)
    if not is_integer(output_dim) or output_dim < 1:
        raise InvalidParameterError("output_dim", output_dim, "a positive integer (>= 1)",
                                    context=f"arch {arch!r}")
    if not is_integer(seed) or not 0 <= seed < 2**63:
        raise InvalidParameterError("seed", seed, "an integer in [0, 2**63)",
                                    context="build_model")
    skip = SkipSpec() if skip is None else skip
    if isinstance(skip, dict):
        skip = SkipSpec.from_dict(skip)
    if not isinstance(skip, SkipSpec):
        raise InvalidParameterError("skip", skip, "a SkipSpec", context="build_model")
    if skip.spatial and arch != "cnn":
        raise InvalidParameterError("skip.spatial", True,
                                    "False for arch {!r} (spatial mixing is CNN only)".format(arch),
                                    context="build_model")
    if config is None or isinstance(config, dict):
        config = config_for(arch, config)
    elif not isinstance(config, CONFIGS[arch]):
        raise InvalidParameterError("config", config,
                                    f"a {CONFIGS[arch].__name__}, a dict of overrides or None",
                                    context=f"arch {arch!r}")
    else:
        config.validate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return MODELS[arch](config, skip, shape, int(output_dim))


__all__ = [
    "ARCHITECTURES", "Application", "CNNConfig", "EntangledModel", "RNNConfig", "ResidualBlock",
    "SkipSpec", "StackRun", "TransformerConfig", "ViTConfig", "build_model", "check_arch",
    "config_for",
]
