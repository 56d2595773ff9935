"""The one description of a model's skip mappings: :class:`SkipSpec`.

A :class:`SkipSpec` names a mapping family, its parameter values, the seed of the family's
random construction and, for the CNN, whether the skip mixes positions instead of channels. The
same type is what :func:`entangled.nn.models.build_model` builds skips from, what a
:class:`~entangled.runs.RunSpec` holds (as its ``skip``, with the seed in the spec's
``skip_seed``), and what the report groups runs by (the *variant*: a skip without its seed,
:attr:`SkipSpec.variant`).

It is frozen and compares, hashes and sorts by its typed values (parameters as sorted
``(name, value)`` pairs), so ``strength=0.5`` and ``strength=0.50004`` group apart and a sweep
orders numerically. :meth:`resolve` validates it once, by the family (unknown names and bad
values raise, defaults filled in, values in their declared types); the family registry is
imported on first use, so this module (and :mod:`entangled.runs`) imports without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from entangled.errors import InvalidParameterError
from entangled.validation import check_flag, check_seed
from entangled.values import as_pairs, finite_or_none, pairs_dict, sortable, thaw

#: The keys of :meth:`SkipSpec.to_dict` (``seed`` optional when read).
SKIP_KEYS = ("family", "params", "seed", "spatial")


@dataclass(frozen=True)
class SkipSpec:
    """Which skip mapping every residual application of a model uses.

    Attributes
    ----------
    family : a registered mapping family (``entangled.families()``); default ``"identity"``.
    params : the family's parameter values, given as a dict, stored as sorted pairs
        (:attr:`param_dict` gives the dict back).
    spatial : CNN only. ``False`` (default): ``M`` mixes the channels of the ``(B, C, H, W)``
        feature map (a fixed 1x1 convolution). ``True``: the structural-correlation variant
        that mixes neighbouring *positions*: ``M_H`` along the height axis and ``M_W`` along
        the width axis, i.e. ``M = M_H ⊗ M_W`` on the flattened positions (both with seed
        ``seed + l``).
    seed : base seed: residual block ``l`` gets ``make_mapping(family, n, seed=seed + l,
        **params)``, so the blocks of one network get independent random mappings and the
        whole network is reproducible.
    """

    family: str = "identity"
    params: tuple = ()
    spatial: bool = False
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.family, str):
            raise InvalidParameterError("family", self.family, "a family name (str)",
                                        context="SkipSpec")
        object.__setattr__(self, "params", as_pairs(self.params, "params"))
        object.__setattr__(self, "seed", check_seed(self.seed, context="SkipSpec", whole=True))
        check_flag("spatial", self.spatial, context="SkipSpec")

    @property
    def param_dict(self) -> dict[str, Any]:
        """The parameters as a dict."""
        return pairs_dict(self.params)

    def get(self, name: str, default: Any = None) -> Any:
        """One parameter's value (``default`` when not given)."""
        return dict(self.params).get(name, default)

    @property
    def variant(self) -> "SkipSpec":
        """The skip without its seed (seed 0): what a report compares across seeds."""
        return self if self.seed == 0 else replace(self, seed=0)

    def with_seed(self, seed: int) -> "SkipSpec":
        """The same skip with construction seed ``seed``."""
        return replace(self, seed=seed)

    def resolve(self) -> "SkipSpec":
        """Parameters checked by the family (unknown names and bad values raise), every
        default filled in, values in their declared types."""
        from entangled.mappings import family_class  # lazy: importing this module needs no torch

        cls = family_class(self.family)
        given = dict(self.params)
        known = {p.name: p for p in cls.parameters}
        for key in given:
            if key not in known:
                raise InvalidParameterError(
                    "param", key, f"parameters of family {self.family!r}: "
                    + (", ".join(f"{p.name} ({p.allowed()})" for p in known.values()) or "none"))
        values = {name: p.check(thaw(given[name]) if name in given else p.default,
                                context=f"family {self.family}")
                  for name, p in known.items()}
        return SkipSpec(self.family, finite_or_none(values), self.spatial, self.seed)

    def mapping(self, n: int, block: int):
        """The mapping of residual block ``block`` with size ``n``."""
        from entangled.mappings.registry import make_mapping  # lazy: needs torch

        return make_mapping(self.family, n, seed=self.seed + block, **self.param_dict)

    def sort_key(self) -> tuple:
        """Order: identity first, then by family, then by the typed values, then the seed."""
        return (self.family != "identity", self.family, self.spatial,
                tuple((k, sortable(v)) for k, v in self.params), self.seed)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable description (every key of :data:`SKIP_KEYS`)."""
        return {"family": self.family, "params": self.param_dict, "seed": self.seed,
                "spatial": self.spatial}

    def variant_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the seed (a run spec's ``skip``; the report's variant)."""
        return {"family": self.family, "params": self.param_dict, "spatial": self.spatial}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SkipSpec":
        """Inverse of :meth:`to_dict` and :meth:`variant_dict` (missing keys take their
        defaults; an unknown key raises)."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError("skip", data, "an object with keys " + ", ".join(SKIP_KEYS))
        for key in data:
            if key not in SKIP_KEYS:
                raise InvalidParameterError("skip key", key, "one of " + ", ".join(SKIP_KEYS))
        return cls(data.get("family", "identity"), as_pairs(data.get("params"), "params"),
                   data.get("spatial", False), data.get("seed", 0))
