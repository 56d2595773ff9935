"""``EntangledSkip``: a fixed skip mapping as a torch module."""

from __future__ import annotations

import torch
from torch import nn

from entangled.errors import InvalidParameterError
from entangled.mappings.base import Mapping, check_apply_input
from entangled.mappings.params import is_integer


class EntangledSkip(nn.Module):
    """Apply a fixed :class:`~entangled.Mapping` ``M`` along one axis: ``y = M x``.

    Use ``dim=1`` for the channels of ``(B, C, H, W)`` feature maps and ``dim=-1`` (default)
    for the features of ``(B, T, D)`` sequences or the hidden state ``(B, H)`` of an RNN.

    The dense matrix and the tensors of the structure-aware product (permutation index,
    sparse entries, convolution band, ...) are registered as **buffers**, created in float64
    so no precision is lost before the module is moved: they move with
    ``.to()``/``.cuda()``/``.float()``, are saved in ``state_dict`` and are never trained.
    Floating buffers are cast to the input's dtype when the two differ.
    The forward pass uses the structure-aware product, never the dense matrix, unless the
    family itself is dense.
    """

    def __init__(self, mapping: Mapping, dim: int = -1):
        super().__init__()
        if not isinstance(mapping, Mapping):
            raise InvalidParameterError("mapping", type(mapping).__name__, "an entangled Mapping",
                                        context="EntangledSkip")
        if not is_integer(dim):
            raise InvalidParameterError("dim", dim, "an integer axis", context="EntangledSkip")
        self.mapping = mapping
        self.dim = int(dim)
        self.register_buffer("matrix", mapping.matrix())
        self._operand_names = []
        self._cast_cache: dict[str, tuple] = {}
        for name, tensor in mapping.operands().items():
            self.register_buffer(f"op_{name}", tensor.clone())
            self._operand_names.append(name)

    @property
    def n(self) -> int:
        return self.mapping.n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.ndim if isinstance(x, torch.Tensor) and x.ndim else self.dim
        if (not isinstance(x, torch.Tensor) or not x.ndim or x.shape[dim] != self.mapping.n
                or not x.is_floating_point()):
            check_apply_input(x, self.dim, self.mapping.n, context="EntangledSkip")  # raises
        operands = {name: self._operand(name, x.dtype) for name in self._operand_names}
        return type(self.mapping)._apply_operands(operands, x, dim)

    def _operand(self, name: str, dtype: torch.dtype) -> torch.Tensor:
        """Buffer ``op_<name>``, cast to ``dtype`` once and cached until the buffer changes."""
        tensor = getattr(self, f"op_{name}")
        if not tensor.is_floating_point() or tensor.dtype == dtype:
            return tensor
        try:
            stamp = (tensor.data_ptr(), tensor._version, tensor.device, dtype)
        except RuntimeError:  # a tensor without storage (e.g. inside a torch.func transform)
            return tensor.to(dtype)
        cached = self._cast_cache.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, tensor.to(dtype))
            self._cast_cache[name] = cached
        return cached[1]

    def extra_repr(self) -> str:
        return f"{self.mapping!r}, dim={self.dim}"
