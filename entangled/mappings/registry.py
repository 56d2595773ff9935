"""Registry of mapping families.

Built-in families register themselves with :func:`register_family` when their module is
imported. Third-party packages add families through the entry-point group
``entangled.families``: each entry point names a :class:`~entangled.mappings.base.Mapping`
subclass (or a module that calls :func:`register_family` on import).
"""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import Any

from entangled.errors import EntangledError, UnknownFamilyError
from entangled.mappings.base import Mapping

ENTRY_POINT_GROUP = "entangled.families"

_REGISTRY: dict[str, type[Mapping]] = {}
_entry_points_loaded = False


def register_family(cls: type[Mapping]) -> type[Mapping]:
    """Class decorator: register ``cls`` under ``cls.family``."""
    name = getattr(cls, "family", "")
    if not isinstance(name, str) or not name.isidentifier():
        raise EntangledError(f"invalid family={name!r}; allowed: a non-empty identifier")
    if not (isinstance(cls, type) and issubclass(cls, Mapping)):
        raise EntangledError(f"invalid family class {cls!r}; allowed: a Mapping subclass")
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise EntangledError(f"family {name!r} is already registered by {existing.__module__}")
    _REGISTRY[name] = cls
    return cls


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry_point.load()
            if isinstance(loaded, type) and issubclass(loaded, Mapping):
                register_family(loaded)
        except Exception as exc:  # a broken plugin must not break the library
            warnings.warn(
                f"could not load mapping family plugin {entry_point.name!r}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )


def families() -> list[str]:
    """Names of all registered families, sorted."""
    _load_entry_points()
    return sorted(_REGISTRY)


def family_class(family: Any) -> type[Mapping]:
    """The :class:`Mapping` subclass registered as ``family``."""
    _load_entry_points()
    if not isinstance(family, str) or family not in _REGISTRY:
        raise UnknownFamilyError(family, _REGISTRY)
    return _REGISTRY[family]


def make_mapping(family: str, n: int, *, seed: int = 0, **params: Any) -> Mapping:
    """Build the mapping of ``family`` with size ``n``.

    Parameters
    ----------
    family : a name from :func:`families`.
    n : size of the (n, n) matrix, a positive integer.
    seed : seed of the random construction (ignored by deterministic families).
    **params : family parameters; see ``entangled families`` for each family's list.
    """
    return family_class(family)(n, seed=seed, **params)
