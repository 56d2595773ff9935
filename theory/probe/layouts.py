"""Where positions, streams and features sit in a sample input: the layout mini-language.

The sample input is split into **positions** (batch, sequence, pixels: everything the skip path
must not mix) and, per position, ``n`` **streams** of width ``d``:

* ``"... s d"`` — trailing axes ``(n, d)``;
* ``"... f"`` — trailing axis of ``n * d`` features, stream-major (``n = D, d = 1`` unless
  ``streams`` or ``dim`` says otherwise);
* ``"(b s) ... d"`` — streams folded into the batch axis, stream index fastest;
* ``"b f ..."`` — channels first, ``n * d`` features on axis 1;
* ``"auto"`` (default) — ``"... s d"`` when ``streams`` is given and equals ``shape[-2]``,
  else ``"... f"``;
* a callable ``x -> x'`` of shape ``(P, n, d)`` built from reshapes/permutes only.

:func:`position_index` turns a layout into the ``(P, n, d)`` tensor of flat input indices that
every measurement of :mod:`entangled.theory.probe` works with.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from entangled.errors import InvalidParameterError
from entangled.theory.probe.mapping import ProbeError

LAYOUTS = ("auto", "... s d", "... f", "(b s) ... d", "b f ...")



def resolve_layout(layout: Any, shape: tuple[int, ...], streams: int | None,
                    dim: int | None) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """Return ``(to_canonical, name)``; ``to_canonical(t)`` has shape ``(P, n, d)``."""
    ndim = len(shape)
    if callable(layout):
        return layout, getattr(layout, "__name__", "callable")
    if layout not in LAYOUTS:
        raise InvalidParameterError("layout", layout, "one of " + ", ".join(map(repr, LAYOUTS))
                                    + " or a callable x -> (P, n, d)", context="probe")
    if layout == "auto":
        layout = "... s d" if streams is not None and ndim >= 2 and shape[-2] == streams \
            else "... f"

    def need(min_ndim: int) -> None:
        if ndim < min_ndim:
            raise ProbeError(f"invalid input shape {shape} for layout {layout!r}; allowed: "
                             f"at least {min_ndim} axes")

    if layout == "... s d":
        need(2)
        if streams is not None and shape[-2] != streams:
            raise ProbeError(f"invalid streams={streams} for layout '... s d' and input shape "
                             f"{shape}; allowed: streams = shape[-2] = {shape[-2]}")
        n, d = shape[-2], shape[-1]
        return (lambda t: t.reshape(-1, n, d)), layout
    if layout == "... f":
        need(1)
        features = shape[-1]
        n, d = _split_features(features, streams, dim, layout)
        return (lambda t: t.reshape(-1, n, d)), layout
    if layout == "b f ...":
        need(2)
        features = shape[1]
        n, d = _split_features(features, streams, dim, layout)

        def channels_first(t: torch.Tensor) -> torch.Tensor:
            flat = t.reshape(shape[0], features, -1)                 # (B, F, S)
            return flat.permute(0, 2, 1).reshape(-1, n, d)
        return channels_first, layout
    # "(b s) ... d"
    need(2)
    if streams is None:
        raise ProbeError("layout '(b s) ... d' needs streams=N (the streams are folded into "
                         "the batch axis)")
    if shape[0] % streams:
        raise ProbeError(f"invalid input shape {shape} for layout '(b s) ... d' with "
                         f"streams={streams}; allowed: shape[0] divisible by streams")
    d = shape[-1]

    def batch_streams(t: torch.Tensor) -> torch.Tensor:
        grouped = t.reshape(shape[0] // streams, streams, -1, d)    # (B, n, R, d)
        return grouped.permute(0, 2, 1, 3).reshape(-1, streams, d)
    return batch_streams, layout


def _split_features(features: int, streams: int | None, dim: int | None,
                    layout: str) -> tuple[int, int]:
    if streams is None:
        if dim is None:
            return features, 1
        if features % dim:
            raise ProbeError(f"invalid dim={dim} for {features} features per position "
                             f"(layout {layout!r}); allowed: a divisor of {features}")
        return features // dim, dim
    if features % streams:
        raise ProbeError(f"invalid streams={streams} for {features} features per position "
                         f"(layout {layout!r}); allowed: a divisor of {features}")
    return streams, features // streams




def position_index(layout: Any, shape: tuple[int, ...], streams: int | None,
                   dim: int | None) -> tuple[torch.Tensor, str]:
    """``(index, name)``: ``index[p, i, a]`` is the flat input position of stream ``i``,
    feature ``a`` at position ``p``; checked to be a rearrangement of all elements."""
    to_canonical, name = resolve_layout(layout, shape, streams, dim)
    numel = 1
    for s in shape:
        numel *= s
    index = to_canonical(torch.arange(numel).reshape(shape))
    if not isinstance(index, torch.Tensor) or index.ndim != 3 or index.numel() != numel \
            or not torch.equal(torch.sort(index.flatten()).values, torch.arange(numel)):
        raise ProbeError(f"layout {name!r} does not map input shape {shape} to a "
                         f"(positions, streams, dim) rearrangement of its elements")
    positions, n, d = index.shape
    if dim is not None and d != dim:
        raise ProbeError(f"invalid dim={dim} for input shape {shape} with layout "
                         f"{name!r}; the layout gives streams of width {d}")
    if streams is not None and n != streams:
        raise ProbeError(f"invalid streams={streams} for input shape {shape} with layout "
                         f"{name!r}; the layout gives {n} streams")
    return index, name


def first_batch_item(layout_name: str, shape: tuple[int, ...], streams: int) -> int | None:
    """How many leading rows of axis 0 form the first batch item, or ``None`` when the layout
    has no batch axis to split (a callable layout, or a single batch item)."""
    if layout_name == "... s d":
        rows, min_ndim = 1, 3
    elif layout_name in ("... f", "b f ..."):
        rows, min_ndim = 1, 2
    elif layout_name == "(b s) ... d":
        rows, min_ndim = streams, 2
    else:
        return None
    return rows if len(shape) >= min_ndim and shape[0] > rows else None
