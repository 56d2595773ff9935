""":func:`probe`: measure the skip map a block applies, with every diagnostic the claims need.

Measurements, each on a fresh copy of the block (see :class:`~entangled.theory.probe.blocks.BlockCopies`):

1. the Jacobian rows of the first and the last position (``2 n d`` vector-Jacobian products
   whatever the batch size), reduced to the stream map ``H`` and the Kronecker residual;
2. autograd against central finite differences of the forward map along a few directions
   (when they disagree, the forward map is what the block applies: ``H`` is then taken from
   a finite-difference Jacobian and the disagreement is recorded);
3. the block as a function of its input: the same input twice through one copy, and the first
   batch item alone against the same item inside the batch;
4. optionally the mixing matrix the block exposes, and the map of a perturbed copy.

Nothing that fails is hidden: fallbacks and caught exceptions are listed in
``params["notes"]`` of the result; an exception that leaves no way to measure ``H`` becomes a
:class:`~entangled.theory.probe.mapping.ProbeError` naming the original.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from entangled.errors import InvalidParameterError
from entangled.theory.probe.blocks import BlockCopies, ModuleFunction, exposed_reader, \
    has_zero_branch, matching_parameters, parse_perturb, perturb_parameters
from entangled.theory.probe.invoke import expression_scope, make_invocation
from entangled.theory.probe.jacobian import autograd_gap, fd_columns, jacobian_rows
from entangled.theory.probe.kinds import BLOCK_KINDS, DEFAULT_KIND, check_kind
from entangled.theory.probe.layouts import first_batch_item, position_index
from entangled.theory.probe.mapping import ProbedMapping, ProbeError, ProbeWarning, gain, \
    kronecker_split

FD_TOLERANCE = 1e-2
"""Relative autograd-vs-finite-difference gap above which ``H`` is taken from finite differences
(the claim :func:`entangled.theory.conjectures.probed.autograd_matches_finite_differences` uses the same
bound)."""

WHOLE_BLOCK_WARNING = ("no residual branch was silenced (silence=None): the probed map is the "
                       "Jacobian of the WHOLE block, branch included, not the skip path; pass "
                       "silence='SUBMODULE' (CLI --silence), or no_branch=True (--no-branch) "
                       "for a block without a branch")


@dataclass
class Measurement:
    """Jacobian blocks of the chosen positions and what the measurement noted."""

    blocks: list[torch.Tensor]
    cross_position: float
    position_spread: float
    method: str
    rows: torch.Tensor              # flat output indices of the first position
    columns: torch.Tensor           # flat input indices of the first position
    notes: list[str] = field(default_factory=list)
    first_rows: torch.Tensor | None = None   # Jacobian rows of the first position, all columns
    dtype: torch.dtype = torch.float64       # the dtype the Jacobian was computed in


DEFAULT_CALLS = 3
"""Successive calls of one instance at which the skip map is measured (``calls``)."""

LOW_PRECISION = (torch.bfloat16, torch.float16)
"""Dtypes whose finite differences are too coarse: the forward map is differentiated
numerically in float32 instead (autograd still runs in the dtype of use)."""


def flat_call(block: Callable, shape: tuple[int, ...]) -> Callable:
    """``flat -> block(flat.reshape(shape)).reshape(-1)``, checking the output."""

    def call(flat: torch.Tensor) -> torch.Tensor:
        out = block(flat.reshape(shape))
        if not isinstance(out, torch.Tensor):
            raise ProbeError(f"the block returned a {type(out).__name__}; allowed: a tensor "
                             f"of the input's shape {shape} (pick it with output=, CLI "
                             f"--output: an index, a key or an attribute)")
        if tuple(out.shape) != shape:
            raise ProbeError(f"the block maps input shape {shape} to {tuple(out.shape)}; a skip "
                             f"path must preserve the shape")
        return out.reshape(-1)

    return call


def fresh_flat_call(copies: BlockCopies, shape: tuple[int, ...]) -> Callable:
    """Like :func:`flat_call`, on a fresh copy of the block for every call."""
    return lambda flat: flat_call(copies.fresh_call(), shape)(flat)


def measure(copies: BlockCopies, x: torch.Tensor, shape: tuple[int, ...],
            index: torch.Tensor) -> Measurement:
    """Per-position Jacobian blocks (first and last position), leakage and spread."""
    per_position = index.reshape(index.shape[0], -1)
    chosen = [0] if per_position.shape[0] == 1 else [0, per_position.shape[0] - 1]
    per_position = per_position[chosen]
    rows = per_position.reshape(-1)
    found = jacobian_rows(flat_call(copies.fresh_call(), shape), x.reshape(-1), rows)
    jac = found.rows.detach().to(torch.float64)
    width = per_position.shape[1]
    blocks = []
    total = float(torch.linalg.norm(jac))
    leak = jac.clone()
    for p in range(len(chosen)):
        block_rows = jac[p * width:(p + 1) * width]
        blocks.append(block_rows[:, per_position[p]])
        leak[p * width:(p + 1) * width, per_position[p]] = 0
    cross = 0.0 if total == 0 else float(torch.linalg.norm(leak)) / total
    ref = float(torch.linalg.norm(blocks[0]))
    spread = 0.0
    for other in blocks[1:]:
        diff = float(torch.linalg.norm(other - blocks[0]))
        spread = max(spread, diff / ref if ref > 0 else diff)
    return Measurement(blocks, cross, spread, found.method, per_position[0], per_position[0],
                       list(found.notes), jac[:width], found.rows.dtype)


def check_gradients(copies: BlockCopies, x: torch.Tensor, shape: tuple[int, ...],
                    found: Measurement) -> float:
    """Autograd vs finite differences at the first position; replaces ``found.blocks[0]`` by
    the finite-difference Jacobian (method ``"finite differences"``) when they disagree.

    In a low-precision dtype (:data:`LOW_PRECISION`) the finite differences are taken in
    float32 (a step of ``1e-3`` is below bfloat16's resolution); autograd is the dtype's own.
    """
    if copies.dtype in LOW_PRECISION:
        copies = BlockCopies(copies.block, torch.float32, copies.silence, copies.invocation,
                             copies.measure_at)
        x = x.to(torch.float32)
        found.notes.append("finite differences of the forward map taken in float32 (too "
                           "coarse in the probe's dtype); autograd in the probe's dtype")
    fn = fresh_flat_call(copies, shape)
    flat = x.reshape(-1)
    gap = autograd_gap(fn, flat, found.first_rows, found.rows, found.columns)
    if gap > max(FD_TOLERANCE, 8 * torch.finfo(found.dtype).eps):
        found.notes.append(f"autograd disagrees with finite differences of the forward map "
                           f"(relative gap {gap:.3g} > {FD_TOLERANCE:g}): the stream map is "
                           f"taken from a central-difference Jacobian of the forward pass")
        found.blocks[0] = fd_columns(fn, flat, found.columns, found.rows).to(torch.float64)
        found.method = "finite differences"
    return gap


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.to(torch.float64), b.to(torch.float64)
    scale = max(float(torch.linalg.norm(a)), float(torch.linalg.norm(b)))
    return 0.0 if scale == 0 else float(torch.linalg.norm(a - b)) / scale


def call_drift(copies: BlockCopies, x: torch.Tensor, shape: tuple[int, ...],
               found: Measurement, calls: int, n: int, d: int
               ) -> tuple[float | None, list[torch.Tensor]]:
    """The skip map at calls ``2 .. calls`` of one instance, against the first call.

    For call ``k`` a fresh (silenced) copy is called ``k - 1`` times on ``x``, then its
    Jacobian rows of the first position are taken at its ``k``-th call. Returns the largest
    relative Frobenius difference ``||J_k - J_1|| / max(||J_1||, ||J_k||)`` (0 when both
    vanish; ``None`` when ``calls < 2``) and the stream maps ``H_2, ..., H_calls``. ``J_1`` is
    the autograd Jacobian of the first call (before any finite-difference replacement).
    """
    if calls < 2 or found.first_rows is None:
        return None, []
    first = found.first_rows[:, found.columns].to(torch.float64)
    worst, maps = 0.0, []
    for k in range(2, calls + 1):
        block = copies.after_calls(x, k - 1)
        rows = jacobian_rows(flat_call(copies.caller(block), shape), x.reshape(-1), found.rows)
        later = rows.rows.detach().to(torch.float64)[:, found.columns]
        for note in rows.notes:
            if note not in found.notes:
                found.notes.append(note)
        worst = max(worst, _relative(first, later))
        maps.append(kronecker_split(later, n, d)[0])
    return worst, maps


def mixing_gradients(copies: BlockCopies, x: torch.Tensor, pattern: str) -> dict[str, float]:
    """``{parameter: max |dL/dp|}`` for the parameters matching ``pattern``, with
    ``L = <r, y>`` the silenced block's output ``y`` against a seeded ``N(0, 1)`` direction
    ``r``, in the probe's dtype: 0 means the gradient does not reach that parameter."""
    block = copies.fresh()
    if not isinstance(block, torch.nn.Module):
        raise ProbeError("mixing= needs the block to be a torch.nn.Module")
    names = matching_parameters(block, pattern)
    if not names:
        known = ", ".join(name for name, _ in block.named_parameters()) or "none"
        raise ProbeError(f"invalid mixing={pattern!r}: no parameter name matches; "
                         f"parameters: {known}")
    params = dict(block.named_parameters())
    chosen = [params[name] for name in names]
    y = copies.caller(block)(x)
    generator = torch.Generator().manual_seed(11)
    direction = torch.randn(tuple(y.shape), generator=generator, dtype=torch.float64)
    loss = (y * direction.to(y.dtype)).sum()
    if not loss.requires_grad:          # the output does not depend on any parameter
        return {name: 0.0 for name in names}
    grads = torch.autograd.grad(loss, chosen, allow_unused=True)
    return {name: 0.0 if g is None else float(g.detach().abs().max().to(torch.float64))
            for name, g in zip(names, grads)}


def function_gaps(copies: BlockCopies, x: torch.Tensor, layout_name: str, streams: int,
                  notes: list[str]) -> tuple[float | None, float | None]:
    """``(repeat_gap, batch_gap)`` of the block, branch included (not silenced).

    ``repeat_gap``: relative difference of two calls of one copy on the same input.
    ``batch_gap``: relative difference between the first batch item run alone (a fresh copy)
    and the same item inside the full batch (another fresh copy); ``None`` when the layout
    has no batch axis to split. A block that raises is recorded in ``notes`` (gaps ``None``).
    """
    try:
        with torch.no_grad():
            block = copies.fresh_call(silenced=False)
            first, second = block(x), block(x)
            repeat = _relative(first, second)
            rows = first_batch_item(layout_name, tuple(x.shape), streams)
            batch = None
            if rows is not None:
                alone = copies.fresh_call(silenced=False)(x[:rows])
                inside = copies.fresh_call(silenced=False)(x)[:rows]
                batch = _relative(alone, inside)
        return repeat, batch
    except Exception as exc:
        notes.append(f"the function checks (same input twice, batch-size independence) could "
                     f"not run on the unsilenced block: {type(exc).__name__}: {exc}")
        return None, None


def read_exposed(exposed: Any, transposed: bool, copies: BlockCopies, x: torch.Tensor,
                 n: int) -> torch.Tensor | None:
    """The exposed mixing matrix, from a tensor, an attribute name, a
    :class:`~entangled.theory.probe.blocks.ModuleFunction` or ``callable(block, x)``."""
    if exposed is None:
        return None
    block = copies.fresh()
    if isinstance(exposed, str):
        return exposed_reader(exposed, transpose=transposed)(block, x, n, copies.caller(block))
    if isinstance(exposed, ModuleFunction):
        value = exposed.read(block, x, n, copies.caller(block))
        return value.T.contiguous() if transposed else value
    value = exposed(block, x) if callable(exposed) else exposed
    if isinstance(value, torch.Tensor):
        value = value.detach().to(torch.float64)
    else:
        value = torch.as_tensor(value, dtype=torch.float64)
    return value.T.contiguous() if transposed else value


def _check_input(sample_input: Any, streams: Any, dim: Any) -> None:
    if not isinstance(sample_input, torch.Tensor) or not sample_input.is_floating_point():
        raise InvalidParameterError("sample_input", type(sample_input).__name__,
                                    "a floating-point torch.Tensor", context="probe")
    if sample_input.numel() == 0:
        raise InvalidParameterError("sample_input", tuple(sample_input.shape),
                                    "a non-empty tensor", context="probe")
    for name, value in (("streams", streams), ("dim", dim)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise InvalidParameterError(name, value, "a positive integer or None", context="probe")


def _source_name(block: Any, source: str | None) -> str:
    if source:
        return source
    if isinstance(block, torch.nn.Module):
        return type(block).__module__ + "." + type(block).__qualname__
    return getattr(block, "__qualname__", repr(block))


def _check_calls(calls: Any) -> int:
    if isinstance(calls, bool) or not isinstance(calls, int) or not 1 <= calls <= 100:
        raise InvalidParameterError("calls", calls, "an integer in [1, 100]", context="probe")
    return calls


def _check_dtype(dtype: Any) -> torch.dtype:
    allowed = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype, dtype)
    if dtype not in allowed:
        raise InvalidParameterError("dtype", dtype, "one of float64, float32, bfloat16, "
                                    "float16 (a torch.dtype or its name)", context="probe")
    return dtype


def probe(block: Any, sample_input: torch.Tensor, *, streams: int | None = None,
          dim: int | None = None, layout: Any = "auto", silence: str | Sequence[str] | None = None,
          no_branch: bool = False, source: str | None = None, exposed: Any = None,
          exposed_transposed: bool = False, perturb: Callable | str | None = None,
          dtype: torch.dtype | str = torch.float64, checks: bool = True, call: Any = None,
          output: Any = None, kind: str = DEFAULT_KIND, pre_activation: str | None = None,
          calls: int = DEFAULT_CALLS, mixing: str | None = None,
          names: dict | None = None) -> ProbedMapping:
    """Measure the effective linear skip map of ``block`` at ``sample_input``.

    Parameters
    ----------
    block : nn.Module or callable
        ``y = block(x)`` with ``y.shape == x.shape`` (see ``call``, ``output`` and ``kind``
        for other signatures). A module is deep-copied for every measurement, cast to
        ``dtype`` and put in eval mode; the original is never called.
    sample_input : torch.Tensor
        The input at which the Jacobian is taken (its shape defines positions and streams).
    streams, dim : int, optional
        Number of streams ``n`` and their width ``d`` (inferred from ``layout`` when omitted).
    layout : str or callable
        Where positions, streams and features sit in the input; see :mod:`entangled.theory.probe.layouts`.
    silence : str or list of str, optional
        Submodule name(s) whose output a forward hook replaces by zeros (the residual branch).
    no_branch : bool
        Declare that the block has no residual branch (a bare skip). Without ``silence``,
        ``no_branch`` or a :class:`~entangled.theory.probe.ZeroBranch` inside the block, the probe warns
        (:class:`~entangled.theory.probe.ProbeWarning`) and labels the result ``scope="whole block"``.
    source : str, optional
        Where the block came from (recorded in the mapping), default the block's class name.
    exposed : tensor, str or callable, optional
        The mixing matrix the module computes, in the applied orientation
        (``y_i = sum_j H_ij x_j``): a matrix, the dotted name of an attribute (see
        :func:`~entangled.theory.probe.blocks.exposed_reader`), a
        :class:`~entangled.theory.probe.blocks.ModuleFunction`, or ``exposed(block, x) -> matrix``.
    exposed_transposed : bool
        The exposed matrix has rows indexing the *input* stream: use its transpose.
    perturb : callable or str, optional
        ``perturb(block) -> block'`` moving the mixing parameters, or ``"GLOB[:SCALE]"``
        (:func:`~entangled.theory.probe.blocks.perturb_parameters`); the probed map of the moved copy is
        stored as ``params["perturbed"]``.
    dtype : torch.dtype or str
        Precision of the probe: the block and the input are cast to it (float64 by default;
        when the block fails in ``dtype`` it is probed in the sample input's dtype, with a
        warning and a note). Measured values are stored in float64.
    checks : bool
        Run the finite-difference, function, successive-call and gradient checks (default True).
    call : str or callable, optional
        The forward's arguments built from the probe input ``x``: a string of call arguments
        (``"torch.zeros_like(x[:, -1]), list(x.unbind(1))"``) or ``x -> (args, kwargs)``;
        see :mod:`entangled.theory.probe.invoke`. Default ``block(x)``.
    output : str or callable, optional
        Which part of the returned value is the next state: ``"0"``, ``"hidden"``,
        ``"[1].hidden"``, ... or ``value -> tensor``.
    kind : str
        The block's declared kind (:data:`~entangled.theory.probe.kinds.BLOCK_KINDS`): which
        claims apply. ``"history-window"`` also appends the block's output (the new state) to
        the shifted window of states given as the input.
    pre_activation : str, optional
        A submodule applied after the residual sum (an activation or norm module): the map is
        measured at its input (its last call), the pre-activation point.
    calls : int
        The skip map is also measured at calls ``2 .. calls`` of one instance (state kept
        between calls); ``params["call_drift"]`` is the largest relative change (default 3).
    mixing : str, optional
        Glob of the mixing parameters whose gradient is measured (``params["mixing_gradients"]``);
        default the glob of a string ``perturb``.
    names : dict, optional
        Extra names in scope of a string ``call`` (e.g. the target module's globals).

    Returns
    -------
    ProbedMapping
        ``matrix()`` is the ``n x n`` stream map ``H`` of the first position; ``.jacobian``
        holds that position's full ``(n d) x (n d)`` Jacobian.
    """
    _check_input(sample_input, streams, dim)
    kind = check_kind(kind)
    calls = _check_calls(calls)
    dtype = _check_dtype(dtype)
    shape = tuple(sample_input.shape)
    index, layout_name = position_index(layout, shape, streams, dim)
    _, n, d = index.shape
    notes: list[str] = []
    scope = "skip" if (silence is not None or no_branch or has_zero_branch(block)) \
        else "whole block"
    if scope == "whole block":
        warnings.warn(WHOLE_BLOCK_WARNING, ProbeWarning, stacklevel=2)
        notes.append(WHOLE_BLOCK_WARNING)
    invocation = make_invocation(call, output, window=BLOCK_KINDS[kind].window,
                                 scope=expression_scope(None, **(names or {})))
    x = sample_input.detach().to(dtype)
    copies = BlockCopies(block, dtype, silence, invocation, pre_activation)
    try:
        found = measure(copies, x, shape, index)
    except ProbeError:
        raise
    except Exception as exc:
        if dtype == sample_input.dtype:
            raise ProbeError(f"the block raised {type(exc).__name__}: {exc}") from exc
        # e.g. a plain function closing over float32 tensors: probe in the input's own dtype
        message = (f"probing in {dtype} failed ({type(exc).__name__}: {exc}); probing in "
                   f"the sample input's dtype {sample_input.dtype} instead")
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        notes.append(message)
        dtype = sample_input.dtype
        x = sample_input.detach()
        copies = BlockCopies(block, dtype, silence, invocation, pre_activation)
        try:
            found = measure(copies, x, shape, index)
        except ProbeError:
            raise
        except Exception as exc2:
            raise ProbeError(f"the block raised {type(exc2).__name__}: {exc2}") from exc2
    notes.extend(found.notes)
    found.notes = notes
    fd_gap = repeat = batch = drift = None
    later_maps: list[torch.Tensor] = []
    gradients = None
    if mixing is None and isinstance(perturb, str):
        mixing = parse_perturb(perturb)[0]
    if checks:
        drift, later_maps = call_drift(copies, x, shape, found, calls, n, d)
        fd_gap = check_gradients(copies, x, shape, found)
        repeat, batch = function_gaps(copies, x, layout_name, n, notes)
        if mixing is not None:
            gradients = mixing_gradients(copies, x, mixing)
    h, residual = kronecker_split(found.blocks[0], n, d)
    exposed_matrix = read_exposed(exposed, exposed_transposed, copies, x, n)
    perturbed = None
    if perturb is not None:
        if not isinstance(block, torch.nn.Module):
            raise ProbeError("perturb= needs the block to be a torch.nn.Module")
        if isinstance(perturb, str):
            perturb = perturb_parameters(*parse_perturb(perturb))
        moved = BlockCopies(perturb(copy.deepcopy(block)), dtype, silence, invocation,
                            pre_activation)
        moved_found = measure(moved, x, shape, index[:1])
        if found.method == "finite differences":
            moved_found.blocks[0] = fd_columns(fresh_flat_call(moved, shape), x.reshape(-1),
                                               moved_found.columns, moved_found.rows
                                               ).to(torch.float64)
        perturbed = kronecker_split(moved_found.blocks[0], n, d)[0]
    mapping = ProbedMapping(
        n, matrix=h, source=_source_name(block, source), input_shape=list(shape),
        layout=layout_name, streams=n, dim=d, dtype=str(dtype).replace("torch.", ""),
        scope=scope, kronecker_residual=residual, cross_position=found.cross_position,
        position_spread=found.position_spread, skip_gain=gain(found.blocks[0]),
        jacobian_method=found.method, autograd_gap=fd_gap, repeat_gap=repeat, batch_gap=batch,
        notes=notes, exposed=exposed_matrix, perturbed=perturbed, kind=kind,
        invocation=invocation.describe(), measured_at=pre_activation,
        calls=calls if checks else 1, call_drift=drift,
        call_maps=[m.tolist() for m in later_maps] or None, mixing_gradients=gradients,
    )
    mapping.jacobian = found.blocks[0]
    return mapping
