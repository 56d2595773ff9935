"""JSON-like values carried typed: hashable pair tuples and strict JSON.

A dict of parameter values becomes a sorted tuple of ``(name, value)`` pairs (:func:`as_pairs`,
:func:`freeze`), so the specs that hold it are frozen, hashable and compare by value;
:func:`pairs_dict` gives the dict back. :func:`finite_or_none` turns any result value into
strict JSON (non-finite floats as ``None``, tensors and arrays as lists, words as their
strings) and :func:`canonical_json` is the one serialisation a run's hash is taken of.
Torch-free.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping

from entangled.errors import InvalidParameterError
from entangled.validation import is_real


def freeze(value: Any) -> Any:
    """A hashable form of a JSON-like value: dicts become sorted ``((key, value), ...)``
    tuples, lists become tuples."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def as_pairs(value: Any, name: str) -> tuple[tuple[str, Any], ...]:
    """``value`` (a dict or key/value pairs) as a sorted tuple of frozen pairs."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return freeze(value)
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return tuple(sorted((str(k), freeze(v)) for k, v in value))
    raise InvalidParameterError(name, value, "a dict of names to values")


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze` for pair tuples at the top level (nested tuples -> lists)."""
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def pairs_dict(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The dict of a frozen pair tuple (values back as plain JSON: tuples -> lists)."""
    return {k: thaw(v) for k, v in pairs}


def finite_or_none(value: Any) -> Any:
    """Recursively replace non-finite floats by None (strict JSON); tuples become lists;
    numpy/torch scalars and arrays become plain Python; a word (:class:`~entangled.words.Word`)
    becomes its plain string (so that a ``torch.save`` of the data stays loadable with
    ``weights_only=True``)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return finite_or_none(value.to_dict() if hasattr(value, "to_dict")
                              else dataclasses.asdict(value))
    if hasattr(value, "detach"):  # torch.Tensor
        return finite_or_none(value.detach().cpu().tolist())
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return finite_or_none(value.tolist())
    return value


def canonical_json(data: Any) -> str:
    """Key-sorted, compact, strict JSON (the input of :func:`config_hash`)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)



def sortable(value: Any) -> tuple:
    """A key that orders numbers numerically and everything else by its text."""
    if is_real(value):
        return (0, float(value), "")
    return (1, 0.0, json.dumps(thaw(value), sort_keys=True))
