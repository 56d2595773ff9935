"""Registry of mapping families (an :class:`entangled.registry.Registry`).

Built-in families register themselves with :func:`register_family` when their module is
imported. Third-party packages add families through the entry-point group
``entangled.families``: each entry point names a :class:`~entangled.mappings.base.Mapping`
subclass (or a module that calls :func:`register_family` on import).
"""

from __future__ import annotations

from typing import Any

from entangled.errors import EntangledError, UnknownFamilyError
from entangled.mappings.base import Mapping
from entangled.mappings.structure import check_declaration
from entangled.registry import Registry

ENTRY_POINT_GROUP = "entangled.families"


def _family_of_plugin(name: str, loaded: Any) -> type[Mapping] | None:
    if isinstance(loaded, type) and issubclass(loaded, Mapping):
        return _checked(loaded)
    return None  # a module that registered its families on import


def _checked(cls: Any) -> type[Mapping]:
    name = getattr(cls, "family", "")
    if not isinstance(name, str) or not name.isidentifier():
        raise EntangledError(f"invalid family={name!r}; allowed: a non-empty identifier")
    if not (isinstance(cls, type) and issubclass(cls, Mapping)):
        raise EntangledError(f"invalid family class {cls!r}; allowed: a Mapping subclass")
    check_declaration(cls, unbounded=Mapping.max_nonzeros)
    return cls


#: The registered families by name (listed sorted).
FAMILY_REGISTRY: Registry[type[Mapping]] = Registry(
    "family", group=ENTRY_POINT_GROUP, parameter="family", from_plugin=_family_of_plugin,
    sort=True, error=UnknownFamilyError)


def register_family(cls: type[Mapping]) -> type[Mapping]:
    """Class decorator: register ``cls`` under ``cls.family``."""
    return FAMILY_REGISTRY.register(_checked(cls).family, cls)


def families() -> list[str]:
    """Names of all registered families, sorted."""
    return FAMILY_REGISTRY.names()


def family_class(family: Any) -> type[Mapping]:
    """The :class:`Mapping` subclass registered as ``family``."""
    return FAMILY_REGISTRY.get(family)


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
