"""entangled: a testbed for entangled residual mappings ``h_{l+1} = M h_l + f_l(h_l)``.

>>> import entangled as E
>>> m = E.make_mapping("permutation", 8, seed=1)
>>> m.matrix().shape
torch.Size([8, 8])

The library names below are imported on first use (PEP 562), so ``import entangled`` (done by
the ``entangled`` command and by the pytest plugin) does not import torch; ``entangled
--help`` and ``--version`` stay fast. Code that needs the family registry filled imports
:mod:`entangled.mappings` (or uses any of these names), never relies on ``import entangled``.
"""

from __future__ import annotations

import importlib
from typing import Any

from entangled.errors import (
    EntangledError,
    InvalidMatrixError,
    InvalidParameterError,
    UnknownFamilyError,
)

__version__ = "0.1.0"

#: Public names imported on first use: name -> module that defines it.
_LAZY = {
    "Mapping": "entangled.mappings",
    "families": "entangled.mappings",
    "family_class": "entangled.mappings",
    "from_matrix": "entangled.mappings",
    "make_mapping": "entangled.mappings",
    "register_family": "entangled.mappings",
}

__all__ = [
    "EntangledError",
    "InvalidMatrixError",
    "InvalidParameterError",
    "Mapping",
    "UnknownFamilyError",
    "families",
    "family_class",
    "from_matrix",
    "make_mapping",
    "nn",
    "register_family",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "nn":
        return importlib.import_module("entangled.nn")
    raise AttributeError(f"module 'entangled' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
