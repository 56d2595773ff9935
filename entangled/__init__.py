"""entangled: a testbed for entangled residual mappings ``h_{l+1} = M h_l + f_l(h_l)``.

>>> import entangled as E
>>> m = E.make_mapping("permutation", 8, seed=1)
>>> m.matrix().shape
torch.Size([8, 8])
"""

from entangled import nn
from entangled.errors import (
    EntangledError,
    InvalidMatrixError,
    InvalidParameterError,
    UnknownFamilyError,
)
from entangled.mappings import Mapping, families, family_class, from_matrix, make_mapping, register_family

__version__ = "0.1.0"

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
