"""Registry of mapping families (an :class:`entangled.registry.Registry`, defined in
:mod:`entangled.mappings.base` as ``FAMILY_REGISTRY``).

Built-in families register themselves with :func:`register_family` when their module is
imported. Third-party packages add families through the entry-point group
``entangled.families``: each entry point names a :class:`~entangled.mappings.base.Mapping`
subclass (or a module that calls :func:`register_family` on import).
"""

from __future__ import annotations

from typing import Any

from entangled.mappings.base import FAMILY_REGISTRY, Mapping, checked_family

__all__ = ["ENTRY_POINT_GROUP", "FAMILY_REGISTRY", "families", "family_class", "make_mapping",
           "register_family"]

ENTRY_POINT_GROUP = FAMILY_REGISTRY.group


def register_family(cls: type[Mapping]) -> type[Mapping]:
    """Class decorator: register ``cls`` under ``cls.family``."""
    return FAMILY_REGISTRY.register(checked_family(cls).family, cls)


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
