"""Parameter specifications shared by the mapping families.

A family declares its parameters as :class:`Param` objects. The specification is the single
source of truth for validation (``check``), defaults, documentation (``entangled families``)
and for the hypothesis strategies of :mod:`entangled.theory.strategies`, which read ``low``/``high``,
``choices`` and ``identity_value`` (the end of the range at which the family is closest to
the identity, towards which strategies shrink).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from entangled.errors import InvalidMatrixError, InvalidParameterError
from entangled.validation import (  # noqa: F401 (the checks, re-exported where they were)
    check_positive_int, check_seed, is_integer, is_real)


MAX_N = 2**24
"""Largest mapping size: every structure (index, spectrum, CSR rows) stays O(n) and indexable;
dense matrices are further limited by memory (see :func:`check_dense_fits`)."""


def check_size(value: Any, *, context: str | None = None) -> int:
    """Return the mapping size ``n`` as an ``int`` if it is an integer in [1, MAX_N], else raise."""
    if not is_integer(value) or not 1 <= int(value) <= MAX_N:
        raise InvalidParameterError("n", value, f"a positive integer <= {MAX_N} (2**24)",
                                    context=context)
    return int(value)


def physical_memory_bytes() -> int:
    """Physical memory of this machine (a large constant where the OS does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 2**40


def check_dense_fits(n: int, *, what: str, context: str | None = None) -> None:
    """Raise before allocating when an ``(n, n)`` float64 array would exceed half of the
    machine's physical memory."""
    needed = 8 * n * n
    available = physical_memory_bytes() // 2
    if needed > available:
        raise InvalidParameterError(
            "n", n, f"a size whose (n, n) float64 {what} ({needed / 2**30:.3g} GiB) fits in half "
            f"of this machine's memory ({available / 2**30:.3g} GiB)", context=context)


@dataclass(frozen=True)
class Param:
    """Specification of one family parameter.

    Parameters
    ----------
    name : parameter name as passed to :func:`entangled.make_mapping`.
    kind : ``"float"``, ``"int"``, ``"choice"`` or ``"matrix"`` (an (n, n) array or None).
    default : value used when the parameter is not given.
    low, high : inclusive bounds for numeric kinds (``None``: unbounded).
    choices : allowed values for ``kind="choice"``.
    identity_value : the value at which the family is closest to the identity
        (strategies shrink towards it); ``None`` when no end is closer.
    doc : one-line description.
    exclusive_low : ``low`` itself is not allowed (e.g. a temperature > 0).
    search_range : the range property-based search draws from where the allowed range is
        unbounded or impractically wide (e.g. ``theta`` in [-pi, pi]).
    """

    name: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    identity_value: Any = None
    doc: str = ""
    exclusive_low: bool = False
    search_range: tuple[float, float] | None = field(default=None, compare=False)

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "matrix":
            return "a square 2-D array of finite real numbers of size (n, n), or None"
        what = "a finite real number" if self.kind == "float" else "an integer"
        bracket = "(" if self.exclusive_low else "["
        if self.low is not None and self.high is not None:
            return f"{what} in {bracket}{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{what} {'>' if self.exclusive_low else '>='} {self.low:g}"
        if self.high is not None:
            return f"{what} <= {self.high:g}"
        return what

    def check(self, value: Any, *, context: str | None = None) -> Any:
        """Return the normalised value (plain Python type) or raise InvalidParameterError."""
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise InvalidParameterError(self.name, value, self.allowed(), context=context)
        if self.kind == "matrix":
            if value is None:
                return None
            return as_float64_matrix(value, name=self.name).tolist()
        normalised: float | None
        if self.kind == "int":
            ok = is_integer(value)
            normalised = int(value) if ok else None
        else:
            ok = is_real(value) and math.isfinite(float(value))
            normalised = float(value) if ok else None
        if normalised is not None and self.low is not None and (
            normalised < self.low or (self.exclusive_low and normalised == self.low)
        ):
            ok = False
        if normalised is not None and self.high is not None and normalised > self.high:
            ok = False
        if not ok:
            raise InvalidParameterError(self.name, value, self.allowed(), context=context)
        return normalised


def as_float64_matrix(value: Any, name: str = "matrix") -> torch.Tensor:
    """Convert an array-like to a CPU float64 tensor, validating square, 2-D, finite, non-empty."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to(device="cpu")
    else:
        try:
            tensor = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError) as exc:
            raise InvalidMatrixError(name, f"<{type(value).__name__}>",
                                     f"a square 2-D array of real numbers ({exc})") from None
    if tensor.is_complex() or not (tensor.is_floating_point() or tensor.dtype in (
            torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)):
        raise InvalidMatrixError(name, f"<array of dtype {tensor.dtype}>",
                                 "a square 2-D array of real numbers")
    shape = tuple(tensor.shape)
    if tensor.ndim != 2:
        raise InvalidMatrixError(name, f"<array of shape {shape}>", "a square 2-D array (n, n)")
    if shape[0] != shape[1]:
        raise InvalidMatrixError(name, f"<array of shape {shape}>", "a square 2-D array (n, n)")
    if shape[0] == 0:
        raise InvalidMatrixError(name, f"<array of shape {shape}>", "a non-empty (n, n) array, n >= 1")
    tensor = tensor.to(torch.float64)
    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).sum())
        raise InvalidMatrixError(name, f"<({shape[0]}, {shape[1]}) array with {bad} NaN/inf entries>",
                                 "finite entries only")
    return tensor.contiguous()
