"""Jacobian rows of a flat function, and a finite-difference check of autograd.

:func:`jacobian_rows` tries, in order, ``torch.func`` (``vjp`` + ``vmap`` over the output basis
vectors), batched autograd (``is_grads_batched``) and one backward pass per row. A method that
raises is not hidden: the exception is recorded in the returned notes, and the method that
finally worked is returned with the rows.

:func:`autograd_gap` compares autograd directional derivatives ``J v`` with central finite
differences of the forward map,

.. math:: \\frac{f(x + h v) - f(x - h v)}{2h},\\qquad h = 10^{-3} \\max(1, \\lVert x\\rVert_\\infty),

for a few seeded unit directions ``v`` supported on one position: a skip path that is detached
from autograd (right forward value, no gradient) shows a gap of order 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from entangled.theory.probe.mapping import ProbeError

FD_STEP = 1e-3
FD_DIRECTIONS = 8


@dataclass
class JacobianRows:
    """Rows of a Jacobian, the method that produced them and the failures on the way."""

    rows: torch.Tensor
    method: str
    notes: list[str] = field(default_factory=list)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _basis(rows: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    basis = torch.zeros(len(rows), out.numel(), dtype=out.dtype, device=out.device)
    basis[torch.arange(len(rows)), rows] = 1
    return basis


def jacobian_rows(fn: Callable, x: torch.Tensor, rows: torch.Tensor) -> JacobianRows:
    """Rows ``rows`` of the Jacobian of flat ``fn`` at flat ``x``: shape (len(rows), x.numel()).

    :class:`ProbeError` (a wrong output shape or type) propagates; any other exception of a
    method is recorded in ``notes`` and the next method is tried. The exception of the last
    method propagates.
    """
    from torch.func import vjp, vmap

    notes: list[str] = []
    try:
        out, vjp_fn = vjp(fn, x)
        (jac,) = vmap(vjp_fn)(_basis(rows, out))
        return JacobianRows(jac, "vmap-vjp", notes)
    except ProbeError:
        raise
    except Exception as exc:
        notes.append(f"torch.func vjp/vmap failed ({_describe(exc)}); fell back to autograd")
    xg = x.detach().clone().requires_grad_(True)
    y = fn(xg)
    if not y.requires_grad:
        notes.append("the output does not require grad: autograd sees no dependence on the "
                     "input (Jacobian 0)")
        return JacobianRows(torch.zeros(len(rows), x.numel(), dtype=x.dtype), "no dependence",
                            notes)
    try:
        (jac,) = torch.autograd.grad(y, xg, grad_outputs=_basis(rows, y), retain_graph=True,
                                     is_grads_batched=True, allow_unused=True)
        if jac is not None:
            return JacobianRows(jac, "batched autograd", notes)
        notes.append("batched autograd: the input is unused (Jacobian 0)")
        return JacobianRows(torch.zeros(len(rows), x.numel(), dtype=x.dtype), "no dependence",
                            notes)
    except Exception as exc:
        notes.append(f"batched autograd failed ({_describe(exc)}); one backward pass per row")
    result = torch.zeros(len(rows), x.numel(), dtype=x.dtype)
    for k, row in enumerate(rows.tolist()):
        (g,) = torch.autograd.grad(y[row], xg, retain_graph=True, allow_unused=True)
        if g is not None:
            result[k] = g
    return JacobianRows(result, "autograd per row", notes)


def fd_step(x: torch.Tensor) -> float:
    """The central-difference step ``h = 1e-3 * max(1, max|x|)``."""
    return FD_STEP * max(1.0, float(x.abs().max()) if x.numel() else 1.0)


def fd_columns(fn: Callable, x: torch.Tensor, columns: torch.Tensor, rows: torch.Tensor
               ) -> torch.Tensor:
    """Central-difference Jacobian ``J[rows][:, columns]`` of flat ``fn`` at flat ``x``
    (``2 len(columns)`` calls of ``fn``)."""
    h = fd_step(x)
    out = torch.zeros(len(rows), len(columns), dtype=x.dtype)
    with torch.no_grad():
        for k, col in enumerate(columns.tolist()):
            e = torch.zeros_like(x)
            e[col] = h
            out[:, k] = (fn(x + e)[rows] - fn(x - e)[rows]) / (2 * h)
    return out


def autograd_gap(fn: Callable, x: torch.Tensor, jac_rows: torch.Tensor, rows: torch.Tensor,
                 columns: torch.Tensor, *, directions: int = FD_DIRECTIONS,
                 seed: int = 0) -> float:
    """Max over seeded unit directions ``v`` (supported on ``columns``) of

    .. math:: \\frac{\\lVert J v - D_h v\\rVert}{\\max(\\lVert J v\\rVert, \\lVert D_h v\\rVert)}

    with ``J v`` from the autograd rows ``jac_rows`` (rows ``rows`` of the Jacobian, all
    input columns) and ``D_h v`` the central difference of ``fn`` along ``v`` (0 when both
    vanish). ``fn`` is called ``2 * directions`` times.
    """
    generator = torch.Generator().manual_seed(seed)
    h = fd_step(x)
    worst = 0.0
    local = jac_rows[:, columns]
    with torch.no_grad():
        for _ in range(min(directions, max(1, len(columns)))):
            v = torch.randn(len(columns), generator=generator, dtype=torch.float64)
            v = v / torch.linalg.norm(v)
            full = torch.zeros_like(x)
            full[columns] = v.to(x.dtype)
            fd = ((fn(x + h * full)[rows] - fn(x - h * full)[rows]) / (2 * h)).to(torch.float64)
            ad = local.to(torch.float64) @ v
            scale = max(float(torch.linalg.norm(fd)), float(torch.linalg.norm(ad)))
            if scale > 0:
                worst = max(worst, float(torch.linalg.norm(fd - ad)) / scale)
    return worst
