"""Architecture registry and ``build_model(arch, input_shape=..., output_dim=..., skip=SkipSpec(...))``.

>>> from entangled.nn.models import SkipSpec, build_model
>>> model = build_model("cnn", input_shape=(1, 8, 8), output_dim=10,
...                     skip=SkipSpec("sparse", {"density": 0.1}), seed=0)
>>> model(torch.zeros(2, 1, 8, 8)).shape
torch.Size([2, 10])

Architectures are registered with :func:`register_architecture` (built-ins below; plugins
through the entry-point group ``entangled.architectures``). Input shapes of the built-ins
(per example, without the batch axis):

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
from typing import Any, Callable, Sequence, cast

import torch

from entangled.errors import InvalidParameterError
from entangled.mappings.params import is_integer
from entangled.nn.blocks import EntangledModel, ResidualBlock, SkipSpec, StackRun, Application
from entangled.nn.cnn import CNNConfig, ResidualCNN
from entangled.nn.rnn import RNNConfig, ResidualRNN
from entangled.nn.streams import StreamConfig, StreamTransformer
from entangled.nn.transformer import SequenceTransformer, TransformerConfig
from entangled.nn.vit import ViTConfig, VisionTransformer
from entangled.registry import Registry

#: the built-in architectures, in registration order (plugins add to :func:`architectures`)
ARCHITECTURES = ("cnn", "vit", "transformer", "rnn")
#: input kinds a task can declare (image: ``(C, H, W)``; signal: ``(C, L)``; patches:
#: ``(P, D)``; sequence: ``(T, D)``)
INPUT_KINDS = ("image", "signal", "patches", "sequence")
ENTRY_POINT_GROUP = "entangled.architectures"


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One registered architecture.

    Attributes
    ----------
    name : the name used by ``build_model``, ``RunConfig(arch=...)`` and ``--arch``.
    config : the config dataclass (defaults for every field, a ``validate()`` method that
        returns the config or raises an :class:`~entangled.errors.EntangledError`).
    model : ``model(config, skip_spec, input_shape, output_dim) -> EntangledModel``.
    input_kinds : the task input kinds it accepts (a subset of :data:`INPUT_KINDS`).
    input_ranks : accepted lengths of the per-example input shape.
    input_doc : the accepted input shapes in words (used in error messages).
    summary : one line for listings.
    """

    name: str
    config: type
    model: Callable[..., EntangledModel]
    input_kinds: tuple[str, ...]
    input_ranks: tuple[int, ...]
    input_doc: str
    summary: str = ""


def _architecture_of_plugin(name: str, loaded: Any) -> Architecture | None:
    return loaded if isinstance(loaded, Architecture) else None


#: The registered architectures by name (built-ins first, then plug-ins).
ARCHITECTURE_REGISTRY: Registry[Architecture] = Registry(
    "architecture", group=ENTRY_POINT_GROUP, parameter="arch",
    from_plugin=_architecture_of_plugin, identity=lambda entry: entry.model)


def register_architecture(name: str, *, config: type, model: Callable[..., EntangledModel],
                          input_kinds: Sequence[str], input_ranks: Sequence[int],
                          input_doc: str, summary: str = "") -> Architecture:
    """Register an architecture under ``name`` and return its :class:`Architecture`.

    A third-party package calls this from a module named by an entry point in the group
    ``entangled.architectures`` (or the entry point names an :class:`Architecture` object).
    Registering the same name twice with a different model is an error.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidParameterError("architecture name", name, "a non-empty identifier")
    kinds = tuple(input_kinds)
    if not kinds or any(k not in INPUT_KINDS for k in kinds):
        raise InvalidParameterError("input_kinds", input_kinds,
                                    "a non-empty subset of " + ", ".join(INPUT_KINDS),
                                    context=f"architecture {name!r}")
    if not (dataclasses.is_dataclass(config) and hasattr(config, "validate")):
        raise InvalidParameterError("config", config,
                                    "a dataclass with defaults and a validate() method",
                                    context=f"architecture {name!r}")
    entry = Architecture(name, config, model, kinds, tuple(int(r) for r in input_ranks),
                         input_doc, summary)
    return ARCHITECTURE_REGISTRY.register(name, entry)


def architectures() -> list[str]:
    """Names of every registered architecture: the built-ins first, then plugins."""
    return ARCHITECTURE_REGISTRY.names()


def architecture(name: Any) -> Architecture:
    """The registered :class:`Architecture` called ``name``, else an error listing them."""
    return ARCHITECTURE_REGISTRY.get(name)


def compatible_architectures(kind: str) -> list[str]:
    """Architectures that accept tasks of input kind ``kind``."""
    return [name for name, entry in ARCHITECTURE_REGISTRY.items() if kind in entry.input_kinds]


register_architecture("cnn", config=CNNConfig, model=ResidualCNN,
                      input_kinds=("image", "signal"), input_ranks=(3, 2),
                      input_doc="an image shape (C, H, W) or a signal shape (C, L)",
                      summary="residual CNN (skips mix channels, or positions with spatial)")
register_architecture("vit", config=ViTConfig, model=VisionTransformer,
                      input_kinds=("image", "patches"), input_ranks=(3, 2),
                      input_doc="an image shape (C, H, W) or a patch shape (P, D)",
                      summary="vision Transformer (pre-LN)")
register_architecture("transformer", config=TransformerConfig, model=SequenceTransformer,
                      input_kinds=("patches", "sequence"), input_ranks=(2,),
                      input_doc="a sequence shape (T, D_in)",
                      summary="sequence Transformer (pre-LN)")
register_architecture("rnn", config=RNNConfig, model=ResidualRNN, input_kinds=("sequence",),
                      input_ranks=(2,), input_doc="a sequence shape (T, D_in)",
                      summary="residual RNN (one skip application per time step)")
register_architecture("stream_lm", config=StreamConfig, model=StreamTransformer,
                      input_kinds=("sequence",), input_ranks=(2,),
                      input_doc="a sequence shape (T, D_in)",
                      summary="multi-stream Transformer (Hyper-Connection style: the skips mix "
                              "n residual streams)")


def check_arch(arch: Any) -> str:
    """Return ``arch`` if it is a registered architecture, else raise."""
    return architecture(arch).name


def config_for(arch: str, overrides: dict | None = None):
    """The default config of ``arch`` with ``overrides`` applied, validated.

    Raises
    ------
    InvalidParameterError
        For an unknown arch, an unknown key (the message lists the fields) or a bad value.
    """
    cls = architecture(arch).config
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
    entry = architecture(arch)
    allowed = entry.input_doc + " of positive integers"
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (shape is None or len(shape) not in entry.input_ranks
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
    arch : a registered architecture (:func:`architectures`).
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
                                    f"False for arch {arch!r} (spatial mixing is CNN only)",
                                    context="build_model")
    if config is None or isinstance(config, dict):
        config = config_for(arch, config)
    elif not isinstance(config, architecture(arch).config):
        raise InvalidParameterError("config", config,
                                    f"a {architecture(arch).config.__name__}, a dict of "
                                    "overrides or None",
                                    context=f"arch {arch!r}")
    else:
        cast(Any, config).validate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return architecture(arch).model(config, skip, shape, int(output_dim))


__all__ = [
    "ARCHITECTURES", "Application", "Architecture", "architecture", "architectures",
    "compatible_architectures", "register_architecture", "CNNConfig", "EntangledModel", "RNNConfig", "ResidualBlock",
    "SkipSpec", "StackRun", "TransformerConfig", "ViTConfig", "build_model", "check_arch",
    "config_for",
]
