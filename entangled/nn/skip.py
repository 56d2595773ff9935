"""``EntangledSkip``: a fixed skip mapping as a torch module."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

import torch
from torch import nn

from entangled.errors import InvalidParameterError, MappingMismatchError
from entangled.mappings.base import Mapping, check_apply_input, check_kernel, dense_product
from entangled.mappings.params import is_integer

#: Version of the extra state written now: 2 = description + checksum of the structure
#: tensors (which are not saved); 1 = description only (the tensors were saved beside it).
STATE_VERSION = 2
READABLE_STATE_VERSIONS = (1, 2)


class EntangledSkip(nn.Module):
    """Apply a fixed :class:`~entangled.Mapping` ``M`` along one axis: ``y = M x``.

    Use ``dim=1`` for the channels of ``(B, C, H, W)`` feature maps and ``dim=-1`` (default)
    for the features of ``(B, T, D)`` sequences or the hidden state ``(B, H)`` of an RNN.
    ``dim`` must be a valid axis of the input (``-x.ndim <= dim < x.ndim``), as for
    :meth:`Mapping.apply`.

    The tensors of the structure-aware product (permutation index, CSR entries, circulant
    spectrum, rotation cosines and sines, ...; the matrix itself for the dense families) are
    **buffers**, created in float64 so no precision is lost before the module is moved: they
    move with ``.to()``/``.cuda()``/``.float()`` and are never trained. A mapping is fully
    determined by its description (``Mapping.to_dict``: family, n, seed, params;
    ``Mapping.from_dict`` rebuilds the same matrix), so ``state_dict`` holds only that
    description plus a SHA-256 checksum of the structure tensors, as extra state (a few
    hundred bytes whatever ``n``); the buffers are not saved. ``load_state_dict`` rebuilds
    ``.mapping`` and the buffers from the description and refuses
    (:class:`~entangled.errors.MappingMismatchError`) a rebuild whose structure differs from
    the checksum (e.g. under a torch version whose random streams differ), and saved tensors
    of older checkpoints that do not match. A plug-in family whose construction is not
    reproducible from its description sets the class attribute ``checkpoint_operands = True``:
    its structure tensors (except ``derived_operands``) are then saved as well.

    ``method`` picks the kernel as :meth:`Mapping.apply` does: ``"auto"`` (default) uses the
    dense product below the family's measured crossover size for the input's device, the
    structured kernel above; ``"structured"`` or ``"dense"`` force one.
    """

    def __init__(self, mapping: Mapping, dim: int = -1, *, method: str = "auto"):
        super().__init__()
        if not isinstance(mapping, Mapping):
            raise InvalidParameterError("mapping", type(mapping).__name__, "an entangled Mapping",
                                        context="EntangledSkip")
        if not is_integer(dim):
            raise InvalidParameterError("dim", dim, "an integer axis", context="EntangledSkip")
        self.dim = int(dim)
        self.method = check_kernel(method, "EntangledSkip")
        self._cast_cache: dict[str, tuple] = {}
        self._install(mapping, dtype=torch.float64, device=torch.device("cpu"))

    # ------------------------------------------------------------------ buffers
    def _install(self, mapping: Mapping, *, dtype: torch.dtype, device: torch.device) -> None:
        """Make ``mapping`` the module's mapping: (re)register its buffers on ``device``,
        floating ones in ``dtype``."""
        for name in getattr(self, "_buffer_names", ()):
            delattr(self, name)
        self.mapping = mapping
        family = type(mapping)
        self._family = family
        self._operand_buffers: dict[str, str] = {}
        self._buffer_names: list[str] = []
        self._cast_cache.clear()
        self._kernels: dict[str, str] = {}  # device type -> kernel, decided on first use
        self._digest: str | None = None  # checksum of the structure, computed when saved
        saved = saves_operands(family)
        for name, tensor in self._structure_tensors(mapping).items():
            buffer = buffer_name(name)
            value = tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else None)
            self.register_buffer(buffer, value.clone(),
                                 persistent=saved and name not in family.derived_operands)
            self._operand_buffers[name] = buffer
            self._buffer_names.append(buffer)
        self._dense_capable = "matrix" in self._operand_buffers or self._may_use_dense()
        if self._dense_capable and "matrix" not in self._operand_buffers:
            self.register_buffer("matrix", mapping.dense().to(device=device, dtype=dtype),
                                 persistent=False)
            self._buffer_names.append("matrix")

    def set_method(self, method: str) -> None:
        """Switch the kernel (``"auto"``, ``"structured"`` or ``"dense"``); adds or drops the
        non-persistent dense matrix buffer as needed."""
        self.method = check_kernel(method, "EntangledSkip")
        dtype, device = self._placement()
        self._install(self.mapping, dtype=dtype, device=device)

    @staticmethod
    def _structure_tensors(mapping: Mapping) -> dict[str, torch.Tensor]:
        return mapping.operands()

    def _may_use_dense(self) -> bool:
        if self.method == "dense":
            return True
        if self.method == "structured":
            return False
        return self.mapping.n < max(self._family.dense_below.values(), default=0)

    def _placement(self) -> tuple[torch.dtype, torch.device]:
        """Floating dtype and device of the current buffers (float64 on the CPU if none)."""
        dtype, device = torch.float64, torch.device("cpu")
        for tensor in self.buffers(recurse=False):
            device = tensor.device
            if tensor.is_floating_point():
                return tensor.dtype, device
        return dtype, device

    @property
    def n(self) -> int:
        return self.mapping.n

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Kept lean: at widths 16-64 a step costs a few ms and this runs once per block.
        dim = self.dim
        if (not isinstance(x, torch.Tensor) or not -x.ndim <= dim < x.ndim
                or x.shape[dim] != self.mapping.n or not x.is_floating_point()):
            check_apply_input(x, dim, self.mapping.n, context="EntangledSkip")  # raises
        if dim < 0:
            dim += x.ndim
        device_type = x.device.type
        kernel = self._kernels.get(device_type)
        if kernel is None:
            kernel = self._kernels[device_type] = (
                self._family.choose_kernel(self.mapping.n, device_type, self.method)
                if self._dense_capable else "structured")
        if kernel == "dense":
            return dense_product(self._operand("matrix", "matrix", x.dtype), x, dim)
        operands = {name: self._operand(name, buffer, x.dtype)
                    for name, buffer in self._operand_buffers.items()}
        return self._family.apply_with(operands, x, dim)

    def _operand(self, name: str, buffer: str, dtype: torch.dtype) -> torch.Tensor:
        """The buffer, cast to ``dtype`` once and cached until the buffer changes."""
        tensor = cast(torch.Tensor, self._buffers[buffer])
        if tensor.dtype == dtype or not tensor.is_floating_point():
            return tensor
        if torch.compiler.is_compiling():
            return tensor.to(dtype)
        try:
            stamp = (tensor.data_ptr(), tensor._version, tensor.device, dtype)
        except RuntimeError:  # a tensor without storage (e.g. inside a torch.func transform)
            return tensor.to(dtype)
        cached = self._cast_cache.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, tensor.to(dtype))
            self._cast_cache[name] = cached
        return cached[1]

    # ------------------------------------------------------------- state_dict
    def get_extra_state(self) -> torch.Tensor:
        """The mapping's description and the checksum of its structure tensors as UTF-8 JSON
        bytes in a uint8 tensor (so that every value of a ``state_dict`` stays a tensor)."""
        if self._digest is None:
            self._digest = operands_digest(self.mapping)
        return description_tensor(self.mapping, self._digest)

    def set_extra_state(self, state: Any) -> None:
        """Checked by :meth:`_load_from_state_dict`, which rebuilt the mapping already."""

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + "_extra_state"
        where = f"EntangledSkip {prefix.rstrip('.') or '(root)'}"
        digest = None
        if key in state_dict:
            mapping, digest = mapping_from_state(state_dict[key], where)
        else:  # a checkpoint without a description (written before descriptions were saved)
            mapping = self.mapping
        if mapping != self.mapping:
            dtype, device = self._placement()
            self._install(mapping, dtype=dtype, device=device)
        if digest is not None:
            self._check_digest(digest, where)
        self._check_saved_tensors(state_dict, prefix, where)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        if key not in state_dict and key in missing_keys:  # checked against the tensors above
            missing_keys.remove(key)

    def _check_digest(self, digest: str, where: str) -> None:
        """Refuse a rebuilt structure whose checksum differs from the saved one."""
        rebuilt = operands_digest(self.mapping)
        if rebuilt != digest:
            raise MappingMismatchError(
                f"{where}: the structure rebuilt from the checkpoint's description "
                f"{self.mapping!r} differs from the saved one (SHA-256 of its tensors "
                f"{rebuilt[:12]}... instead of {str(digest)[:12]}...); allowed: a state_dict "
                "written by EntangledSkip for this mapping with a torch version whose random "
                "streams build the same tensors")
        self._digest = rebuilt

    def _check_saved_tensors(self, state_dict, prefix, where) -> None:
        """Refuse saved tensors that differ from the ones the description rebuilds; drop
        saved copies of tensors this module does not save (older checkpoints saved them)
        after checking them."""
        expected: dict[str, torch.Tensor | None] = dict(self._structure_tensors(self.mapping))
        expected.setdefault("matrix", None)
        for name, tensor in expected.items():
            key = prefix + buffer_name(name)
            if key not in state_dict:
                continue
            saved = state_dict[key]
            rebuilt = self.mapping.dense() if tensor is None else tensor
            if not isinstance(saved, torch.Tensor) or not same_values(saved, rebuilt):
                raise MappingMismatchError(
                    f"{where}: saved tensor {key!r} does not match the mapping "
                    f"{self.mapping!r} (rebuilt from the checkpoint's description); allowed: a "
                    "state_dict written by EntangledSkip for this mapping (a torch version whose "
                    "random streams differ also rebuilds other tensors)")
            buffer = buffer_name(name)
            if buffer not in self._buffers or buffer in self._non_persistent_buffers_set:
                del state_dict[key]

    def extra_repr(self) -> str:
        method = "" if self.method == "auto" else f", method={self.method!r}"
        return f"{self.mapping!r}, dim={self.dim}{method}"


def buffer_name(operand: str) -> str:
    """Buffer of an operand: ``matrix`` for the dense matrix, else ``op_<name>``."""
    return "matrix" if operand == "matrix" else f"op_{operand}"


def same_values(saved: torch.Tensor, rebuilt: torch.Tensor) -> bool:
    """Equal shape and values once the float64 original is cast to the saved dtype."""
    if saved.shape != rebuilt.shape:
        return False
    if saved.is_floating_point() != rebuilt.is_floating_point():
        return False
    return torch.equal(saved.detach().cpu(), rebuilt.to(dtype=saved.dtype))


def saves_operands(family: type) -> bool:
    """Whether ``EntangledSkip`` saves the structure tensors of ``family`` (only a family that
    sets ``checkpoint_operands = True``: its mappings are not reproducible from the
    description)."""
    return bool(getattr(family, "checkpoint_operands", False))


def operands_digest(mapping: Mapping) -> str:
    """SHA-256 (hex) of the mapping's float64 CPU structure tensors: name, dtype, shape and
    bytes of each, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(mapping.operands().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def description_tensor(mapping: Mapping, digest: str | None = None) -> torch.Tensor:
    """``{"version": 2, "mapping": mapping.to_dict(), "operands_sha256": digest}`` as JSON
    bytes in a uint8 tensor (``digest`` defaults to :func:`operands_digest`)."""
    data = {"version": STATE_VERSION, "mapping": mapping.to_dict(),
            "operands_sha256": digest if digest is not None else operands_digest(mapping)}
    text = json.dumps(data)
    return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8)


def read_description(state: Any) -> dict | None:
    """The JSON dict of a :func:`description_tensor` (version 1 or 2), or ``None`` if it is not
    one."""
    if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8 or state.ndim != 1:
        return None
    try:
        data = json.loads(bytes(state.tolist()).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not (isinstance(data, dict) and data.get("version") in READABLE_STATE_VERSIONS
            and isinstance(data.get("mapping"), dict)):
        return None
    if data["version"] >= 2 and not isinstance(data.get("operands_sha256"), str):
        return None
    return data


def mapping_from_state(state: Any, where: str) -> tuple[Mapping, str | None]:
    """The mapping described by an ``EntangledSkip`` extra state and the checksum of its
    structure tensors (``None`` for a version-1 state, whose tensors were saved beside it)."""
    data = read_description(state)
    if data is None:
        raise MappingMismatchError(
            f"{where}: invalid saved mapping description {type(state).__name__}; allowed: the "
            f"extra state written by EntangledSkip (a uint8 tensor of JSON, version "
            f"{' or '.join(map(str, READABLE_STATE_VERSIONS))})")
    return Mapping.from_dict(data["mapping"]), data.get("operands_sha256")
