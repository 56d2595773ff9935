"""Mapping families: one module per family, each registered on import."""

from entangled.mappings.base import Mapping
from entangled.mappings.registry import (
    ENTRY_POINT_GROUP,
    families,
    family_class,
    make_mapping,
    register_family,
)
from entangled.mappings import (  # noqa: F401  (registration side effects)
    identity,
    orthogonal,
    rotation,
    permutation,
    sparse,
    circulant,
    sinkhorn,
    birkhoff,
    dense,
    block_orthogonal,
    sparse_unit_norm,
)
from entangled.mappings.dense import from_matrix

__all__ = [
    "ENTRY_POINT_GROUP",
    "Mapping",
    "families",
    "family_class",
    "from_matrix",
    "make_mapping",
    "register_family",
]
