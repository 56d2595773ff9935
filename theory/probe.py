"""Probe the skip mapping a residual module *actually* applies.

A residual block computes ``y = S(x) + F(x)``: a skip path ``S`` (the identity, a fixed
entangled mapping ``M``, or the stream mixing ``H`` of Hyper-Connections / mHC) plus a residual
branch ``F``. With the branch **silenced** (``F = 0``) the Jacobian of the block is the Jacobian
of the skip path,

.. math:: J = \\frac{\\partial y}{\\partial x}\\Big|_{F = 0},

and for a linear skip ``S(x) = M x`` it is ``M`` itself. :func:`probe` measures ``J`` with
``torch.func`` (one forward pass, ``vmap`` over the vector-Jacobian products of the output
basis vectors) in float64 and returns it as a :class:`ProbedMapping` — a :class:`Mapping`
of family ``"probed"`` — so that every mapping method and every property of
:mod:`entangled.properties` and :mod:`theory` applies to the module's real behaviour.

Silencing the branch
--------------------
(a) build the block around a branch you control that returns zeros (``ZeroBranch``), or
(b) pass ``silence="name.of.submodule"`` (or a list of names): :func:`probe` registers a
forward hook on a *copy* of the block that replaces that submodule's output by zeros.

Input layout and streams
------------------------
The sample input is split into **positions** (batch, sequence, pixels: everything the skip path
must not mix) and, per position, ``n`` **streams** of width ``d``. The ``layout`` names where
they are:

* ``"... s d"`` — trailing axes ``(n, d)`` (``hyper_connections.mHCv2``);
* ``"... f"`` — trailing axis of ``n * d`` features, stream-major (``EntangledSkip(dim=-1)``
  on ``(B, T, D)``; ``n = D, d = 1`` unless ``streams`` says otherwise);
* ``"(b s) ... d"`` — streams folded into the batch axis, stream index fastest
  (``hyper_connections.ManifoldConstrainedHyperConnections``, "mHC" v1);
* ``"b f ..."`` — channels first, ``n * d`` features on axis 1 (``EntangledSkip(dim=1)`` on
  ``(B, C, H, W)``);
* ``"auto"`` (default) — ``"... s d"`` when ``streams`` is given and equals ``shape[-2]``,
  else ``"... f"``;
* a callable ``x -> x'`` of shape ``(P, n, d)`` built from reshapes/permutes only.

The ``(n d) x (n d)`` Jacobian ``J_p`` of one position is reduced to the ``n x n`` stream
map by the Frobenius-nearest Kronecker form

.. math:: H_{ij} = \\frac{1}{d}\\operatorname{tr} J_p[i, :, j, :] ,\\qquad
          r = \\frac{\\lVert J_p - H \\otimes I_d\\rVert_F}{\\lVert J_p\\rVert_F},

``r`` being the **Kronecker residual** (0 iff the skip only mixes whole streams, the same way
for every feature). Two further diagnostics are recorded: ``cross_position`` (relative
Frobenius mass of the Jacobian rows of the first and last position that reach other
positions; must be 0 for a skip path) and ``position_spread`` (relative difference of ``J_p``
between the first and the last position). Only the ``2 n d`` rows of those two positions are
differentiated, so the cost is ``2 n d`` vector-Jacobian products whatever the batch size.

What is measured for input-dependent mixing
-------------------------------------------
When the mixing matrix is computed from the input, ``y = H(x) x``, the Jacobian is

.. math:: J = H(x) \\otimes I_d + \\sum_k \\frac{\\partial H}{\\partial x_k} x \\, e_k^T ,

the *linearisation of the skip path at the sample input*, not ``H(x)`` itself: the second term
is what a gradient through the skip path really sees. The mixing matrix that the module
computes can be read by an adapter (``exposed``) and compared with the probed map.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any, Callable, Sequence

import torch

from entangled.errors import EntangledError, InvalidParameterError
from entangled.mappings.base import DICT_FIELDS, Mapping, as_float64_matrix
from entangled.mappings.dense import DenseMapping

__all__ = [
    "LAYOUTS",
    "applicable",
    "check_probed",
    "ProbeError",
    "ProbedMapping",
    "ZeroBranch",
    "kronecker_residual",
    "kronecker_split",
    "probe",
    "probe_spec",
    "probed_examples",
    "silence_hooks",
]

PROBED_FAMILY = "probed"
LAYOUTS = ("auto", "... s d", "... f", "(b s) ... d", "b f ...")


class ProbeError(EntangledError):
    """The block could not be probed (wrong output shape, unknown submodule, bad layout, ...)."""


class ZeroBranch(torch.nn.Module):
    """A residual branch that returns zeros shaped like its input: ``F(x) = 0``."""

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return torch.zeros_like(x)


# ---------------------------------------------------------------------------- the mapping
def _check_optional_matrix(name: str, value: Any, n: int) -> list | None:
    if value is None:
        return None
    tensor = as_float64_matrix(value, name=name)
    if tensor.shape[0] != n:
        raise InvalidParameterError(name, f"<({tensor.shape[0]}, {tensor.shape[1]}) array>",
                                    f"an (n, n) array with n={n}, or None", context=PROBED_FAMILY)
    return tensor.tolist()


def _check_nonneg_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise InvalidParameterError(name, value, "a finite real number >= 0", context=PROBED_FAMILY)
    return float(value)


def _check_pos_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(name, value, "a positive integer", context=PROBED_FAMILY)
    return int(value)


class ProbedMapping(DenseMapping):
    """The measured skip map of a module: a dense mapping of family ``"probed"`` with provenance.

    Not registered in :func:`entangled.families` (it cannot be sampled); build it with
    :func:`probe`. ``params`` (JSON-serialisable, round-tripped by :meth:`to_dict` /
    :meth:`from_dict`) hold

    ``matrix``
        the ``n x n`` stream map ``H`` (the Jacobian itself when ``d = 1``);
    ``source``, ``input_shape``, ``layout``, ``streams`` (= n), ``dim`` (= d), ``dtype``
        where it came from;
    ``kronecker_residual``, ``cross_position``, ``position_spread``
        diagnostics of the Jacobian (see :mod:`theory.probe`);
    ``exposed``
        the mixing matrix the module itself computes, in the same orientation
        (``y_i = sum_j H_ij x_j``), when an adapter could read it, else ``None``;
    ``perturbed``
        the probed map of a copy whose mixing parameters were moved away from the identity
        (for the "mixing is live" claim), else ``None``.
    """

    family = PROBED_FAMILY
    summary = "the measured skip map of a residual module (theory.probe)"
    PROVENANCE = ("source", "input_shape", "layout", "streams", "dim", "dtype",
                  "kronecker_residual", "cross_position", "position_spread",
                  "exposed", "perturbed")

    def __init__(self, n: int, *, seed: int = 0, matrix: Any, source: str = "<unknown>",
                 input_shape: Sequence[int] = (), layout: str = "... f", streams: int | None = None,
                 dim: int = 1, dtype: str = "float64", kronecker_residual: float = 0.0,
                 cross_position: float = 0.0, position_spread: float = 0.0,
                 exposed: Any = None, perturbed: Any = None):
        super().__init__(n, seed=seed, matrix=matrix)
        if not isinstance(source, str):
            raise InvalidParameterError("source", source, "a string", context=PROBED_FAMILY)
        if not isinstance(layout, str):
            raise InvalidParameterError("layout", layout, "a string", context=PROBED_FAMILY)
        shape = list(input_shape)
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise InvalidParameterError("input_shape", input_shape, "a list of non-negative ints",
                                        context=PROBED_FAMILY)
        streams = self.n if streams is None else _check_pos_int("streams", streams)
        if streams != self.n:
            raise InvalidParameterError("streams", streams, f"{self.n} (the size of matrix)",
                                        context=PROBED_FAMILY)
        self.params = {
            "matrix": self.params["matrix"],
            "source": source,
            "input_shape": shape,
            "layout": layout,
            "streams": streams,
            "dim": _check_pos_int("dim", dim),
            "dtype": str(dtype),
            "kronecker_residual": _check_nonneg_float("kronecker_residual", kronecker_residual),
            "cross_position": _check_nonneg_float("cross_position", cross_position),
            "position_spread": _check_nonneg_float("position_spread", position_spread),
            "exposed": _check_optional_matrix("exposed", exposed, self.n),
            "perturbed": _check_optional_matrix("perturbed", perturbed, self.n),
        }
        self.jacobian: torch.Tensor | None = None   # J_p of the first position (not serialised)

    def uses_seed(self) -> bool:
        return False

    def exposed_matrix(self) -> torch.Tensor | None:
        """The module's own mixing matrix (float64, applied orientation) or ``None``."""
        value = self.params["exposed"]
        return None if value is None else torch.tensor(value, dtype=torch.float64)

    def perturbed_matrix(self) -> torch.Tensor | None:
        """The probed map after perturbing the module's mixing parameters, or ``None``."""
        value = self.params["perturbed"]
        return None if value is None else torch.tensor(value, dtype=torch.float64)

    @staticmethod
    def from_dict(data: dict) -> Mapping:
        """Rebuild from :meth:`to_dict` output; other families go to :meth:`Mapping.from_dict`."""
        if not (isinstance(data, dict) and data.get("family") == PROBED_FAMILY):
            return Mapping.from_dict(data)
        for name in DICT_FIELDS:
            if name not in data:
                raise EntangledError(f"missing field {name!r} in probed mapping dict; "
                                     f"required fields: {', '.join(DICT_FIELDS)}")
        extra = set(data) - set(DICT_FIELDS)
        if extra:
            raise EntangledError(f"invalid field {sorted(extra)[0]!r} in mapping dict; allowed "
                                 f"fields: {', '.join(DICT_FIELDS)}")
        params = data["params"]
        if not isinstance(params, dict):
            raise InvalidParameterError("params", params, "a dict", context=PROBED_FAMILY)
        allowed = ("matrix",) + ProbedMapping.PROVENANCE
        for key in params:
            if key not in allowed:
                raise InvalidParameterError("parameter", key, ", ".join(allowed),
                                            context=PROBED_FAMILY)
        return ProbedMapping(data["n"], seed=data["seed"], **params)

    def short_params(self) -> str:
        p = self.params
        return (f"source={p['source']!r}, streams={p['streams']}, dim={p['dim']}, "
                f"kronecker_residual={p['kronecker_residual']:.3g}")


# ----------------------------------------------------------------------------- reductions
def kronecker_split(jacobian: torch.Tensor, n: int, d: int) -> tuple[torch.Tensor, float]:
    """Nearest ``H ⊗ I_d`` to an ``(n d) x (n d)`` Jacobian, and the relative residual.

    .. math:: H_{ij} = \\tfrac1d \\operatorname{tr} J[i, :, j, :],\\qquad
              r = \\lVert J - H \\otimes I_d\\rVert_F / \\lVert J\\rVert_F

    (``r = 0`` for ``J = 0``). Rows/columns of ``J`` are ordered stream-major
    (index ``i * d + a`` for stream ``i``, feature ``a``).
    """
    if jacobian.shape != (n * d, n * d):
        raise ProbeError(f"invalid jacobian of shape {tuple(jacobian.shape)}; allowed: "
                         f"({n * d}, {n * d}) for n={n} streams of width d={d}")
    blocks = jacobian.reshape(n, d, n, d).permute(0, 2, 1, 3)        # (i, j, a, b)
    h = blocks.diagonal(dim1=2, dim2=3).sum(-1) / d
    approx = torch.kron(h, torch.eye(d, dtype=jacobian.dtype))
    norm = torch.linalg.norm(jacobian)
    residual = 0.0 if float(norm) == 0.0 else float(torch.linalg.norm(jacobian - approx) / norm)
    return h, residual


def kronecker_residual(m: Mapping) -> float:
    """``||J - H ⊗ I_d||_F / ||J||_F`` of a probed mapping (0 for any other mapping)."""
    return float(m.params.get("kronecker_residual", 0.0)) if m.family == PROBED_FAMILY else 0.0


# ------------------------------------------------------------------------------ layouts
def _resolve_layout(layout: Any, shape: tuple[int, ...], streams: int | None,
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


# ------------------------------------------------------------------------------ silencing
def silence_hooks(block: torch.nn.Module, names: str | Sequence[str]) -> list:
    """Register forward hooks that replace the outputs of the named submodules by zeros.

    Returns the hook handles (call ``.remove()`` on each to undo). Tensor outputs become
    ``zeros_like``; in a tuple/list output every tensor is zeroed.
    """
    if isinstance(names, str):
        names = [names]
    modules = dict(block.named_modules())
    handles = []
    for name in names:
        if name not in modules or name == "":
            known = ", ".join(repr(k) for k in modules if k) or "none"
            raise ProbeError(f"invalid silence={name!r}; allowed: a submodule name of the "
                             f"block ({known})")
        handles.append(modules[name].register_forward_hook(_zero_output_hook))
    return handles


def _zero_output_hook(module, inputs, output):
    if isinstance(output, torch.Tensor):
        return torch.zeros_like(output)
    if isinstance(output, (tuple, list)):
        return type(output)(torch.zeros_like(o) if isinstance(o, torch.Tensor) else o
                            for o in output)
    raise ProbeError(f"cannot silence {type(module).__name__}: its output is a "
                     f"{type(output).__name__}, not a tensor or a tuple of tensors")


# -------------------------------------------------------------------------------- probing
def _prepare(block: Any, dtype: torch.dtype, silence: Any) -> Callable:
    if isinstance(block, torch.nn.Module):
        block = copy.deepcopy(block).to(dtype).eval()
        if silence is not None:
            silence_hooks(block, silence)
    elif silence is not None:
        raise ProbeError("silence= needs the block to be a torch.nn.Module (hooks are "
                         "registered on its submodules)")
    if not callable(block):
        raise InvalidParameterError("block", type(block).__name__, "a callable or nn.Module",
                                    context="probe")
    return block


def _jacobian_rows(fn: Callable, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Rows ``rows`` of the Jacobian of flat ``fn`` at flat ``x``: shape (len(rows), x.numel()).

    ``torch.func.vjp`` + ``vmap`` over the output basis vectors; modules that functorch cannot
    transform (sparse CSR products, data-dependent Python) fall back to plain autograd,
    batched where possible, else one backward pass per row.
    """
    from torch.func import vjp, vmap

    def basis_for(out: torch.Tensor) -> torch.Tensor:
        basis = torch.zeros(len(rows), out.numel(), dtype=out.dtype, device=out.device)
        basis[torch.arange(len(rows)), rows] = 1
        return basis

    try:
        out, vjp_fn = vjp(fn, x)
        (jac,) = vmap(vjp_fn)(basis_for(out))
        return jac
    except ProbeError:
        raise
    except Exception:
        pass
    xg = x.detach().clone().requires_grad_(True)
    y = fn(xg)
    if not y.requires_grad:          # the output does not depend on the input at all
        return torch.zeros(len(rows), x.numel(), dtype=x.dtype)
    try:
        (jac,) = torch.autograd.grad(y, xg, grad_outputs=basis_for(y), retain_graph=True,
                                     is_grads_batched=True, allow_unused=True)
        if jac is not None:
            return jac
    except Exception:
        pass
    result = torch.zeros(len(rows), x.numel(), dtype=x.dtype)
    for k, row in enumerate(rows.tolist()):
        (g,) = torch.autograd.grad(y[row], xg, retain_graph=True, allow_unused=True)
        if g is not None:
            result[k] = g
    return result


def probe(block: Any, sample_input: torch.Tensor, *, streams: int | None = None,
          dim: int | None = None, layout: Any = "auto", silence: str | Sequence[str] | None = None,
          source: str | None = None, exposed: Any = None, perturb: Callable | None = None,
          dtype: torch.dtype = torch.float64) -> ProbedMapping:
    """Measure the effective linear skip map of ``block`` at ``sample_input``.

    Parameters
    ----------
    block : nn.Module or callable
        ``y = block(x)`` with ``y.shape == x.shape``. A module is deep-copied, cast to
        ``dtype`` and put in eval mode (dropout off) before probing; the original is untouched.
    sample_input : torch.Tensor
        The input at which the Jacobian is taken (its shape defines positions and streams).
    streams, dim : int, optional
        Number of streams ``n`` and their width ``d`` (inferred from ``layout`` when omitted).
    layout : str or callable
        Where positions, streams and features sit in the input; see :mod:`theory.probe`.
    silence : str or list of str, optional
        Submodule name(s) whose output a forward hook replaces by zeros (the residual branch).
    source : str, optional
        Where the block came from (recorded in the mapping), default the block's class name.
    exposed : array-like or callable, optional
        The mixing matrix the module computes, in the applied orientation
        (``y_i = sum_j H_ij x_j``), or ``exposed(block, x) -> matrix`` to read it.
    perturb : callable, optional
        ``perturb(block) -> block'``: a copy whose mixing parameters are moved away from the
        identity; its probed map is stored as ``params["perturbed"]``.
    dtype : torch.dtype
        Precision of the probe (float64 by default; modules that cast internally to float32
        are measured at float32 accuracy).

    Returns
    -------
    ProbedMapping
        ``matrix()`` is the ``n x n`` stream map ``H`` of the first position; ``.jacobian``
        holds that position's full ``(n d) x (n d)`` Jacobian.
    """
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
    shape = tuple(sample_input.shape)
    x = sample_input.detach().to(dtype)
    to_canonical, layout_name = _resolve_layout(layout, shape, streams, dim)
    index = to_canonical(torch.arange(x.numel()).reshape(shape))
    if index.ndim != 3 or index.numel() != x.numel() or not torch.equal(
            torch.sort(index.flatten()).values, torch.arange(x.numel())):
        raise ProbeError(f"layout {layout_name!r} does not map input shape {shape} to a "
                         f"(positions, streams, dim) rearrangement of its elements")
    positions, n, d = index.shape
    if dim is not None and d != dim:
        raise ProbeError(f"invalid dim={dim} for input shape {shape} with layout "
                         f"{layout_name!r}; the layout gives streams of width {d}")
    if streams is not None and n != streams:
        raise ProbeError(f"invalid streams={streams} for input shape {shape} with layout "
                         f"{layout_name!r}; the layout gives {n} streams")
    try:
        fn_block = _prepare(block, dtype, silence)
        jac_blocks, cross, spread = _measure(fn_block, x, shape, index)
    except ProbeError:
        raise
    except Exception as exc:
        if dtype == sample_input.dtype:
            raise ProbeError(f"the block raised {type(exc).__name__}: {exc}") from exc
        # e.g. a plain function closing over float32 tensors: probe in the input's own dtype
        warnings.warn(f"probing in {dtype} failed ({type(exc).__name__}: {exc}); probing in "
                      f"the sample input's dtype {sample_input.dtype} instead", RuntimeWarning,
                      stacklevel=2)
        dtype = sample_input.dtype
        x = sample_input.detach()
        try:
            fn_block = _prepare(block, dtype, silence)
            jac_blocks, cross, spread = _measure(fn_block, x, shape, index)
        except ProbeError:
            raise
        except Exception as exc2:
            raise ProbeError(f"the block raised {type(exc2).__name__}: {exc2}") from exc2
    h, residual = kronecker_split(jac_blocks[0], n, d)
    if exposed is not None and callable(exposed):
        exposed = exposed(fn_block, x)
    if isinstance(exposed, torch.Tensor):
        exposed = exposed.detach().to(torch.float64)
    perturbed = None
    if perturb is not None:
        if not isinstance(block, torch.nn.Module):
            raise ProbeError("perturb= needs the block to be a torch.nn.Module")
        other = perturb(copy.deepcopy(block))
        p_jac, _, _ = _measure(_prepare(other, dtype, silence), x, shape, index[:1])
        perturbed = kronecker_split(p_jac[0], n, d)[0]
    name = source or (type(block).__module__ + "." + type(block).__qualname__
                      if isinstance(block, torch.nn.Module) else getattr(block, "__qualname__",
                                                                         repr(block)))
    mapping = ProbedMapping(
        n, matrix=h, source=name, input_shape=list(shape), layout=layout_name, streams=n, dim=d,
        dtype=str(dtype).replace("torch.", ""), kronecker_residual=residual,
        cross_position=cross, position_spread=spread, exposed=exposed, perturbed=perturbed,
    )
    mapping.jacobian = jac_blocks[0]
    return mapping


def _measure(fn_block: Callable, x: torch.Tensor, shape: tuple[int, ...],
             index: torch.Tensor) -> tuple[list[torch.Tensor], float, float]:
    """Per-position Jacobian blocks, cross-position leakage and position spread."""

    def flat_fn(flat: torch.Tensor) -> torch.Tensor:
        out = fn_block(flat.reshape(shape))
        if not isinstance(out, torch.Tensor):
            raise ProbeError(f"the block returned a {type(out).__name__}; allowed: a tensor "
                             f"of the input's shape {shape} (wrap blocks that return tuples)")
        if tuple(out.shape) != shape:
            raise ProbeError(f"the block maps input shape {shape} to {tuple(out.shape)}; a skip "
                             f"path must preserve the shape")
        return out.reshape(-1)

    per_position = index.reshape(index.shape[0], -1)
    chosen = [0] if per_position.shape[0] == 1 else [0, per_position.shape[0] - 1]
    positions = len(chosen)
    per_position = per_position[chosen]
    rows = per_position.reshape(-1)
    jac = _jacobian_rows(flat_fn, x.reshape(-1), rows).detach()    # (positions * n d, N)
    width = per_position.shape[1]
    blocks = []
    total = float(torch.linalg.norm(jac))
    leak = jac.clone()
    for p in range(positions):
        block_rows = jac[p * width:(p + 1) * width]
        blocks.append(block_rows[:, per_position[p]])
        leak[p * width:(p + 1) * width, per_position[p]] = 0
    cross = 0.0 if total == 0 else float(torch.linalg.norm(leak)) / total
    ref = torch.linalg.norm(blocks[0])
    spread = 0.0
    for other in blocks[1:]:
        diff = float(torch.linalg.norm(other - blocks[0]))
        spread = max(spread, diff / float(ref) if float(ref) > 0 else diff)
    return blocks, cross, spread


# --------------------------------------------------------------------------- factory specs
SPEC_KEYS = ("block", "input", "streams", "dim", "layout", "silence", "exposed", "perturb",
             "source", "description")


def probe_spec(spec: Any, *, source: str | None = None, streams: int | None = None,
               dim: int | None = None) -> ProbedMapping:
    """Probe what a factory returned: ``(block, input)`` or a dict with :data:`SPEC_KEYS`.

    ``streams`` / ``dim`` given here override the factory's.
    """
    if isinstance(spec, tuple) and len(spec) == 2:
        spec = {"block": spec[0], "input": spec[1]}
    if not isinstance(spec, dict):
        raise ProbeError(f"invalid factory result {type(spec).__name__}; allowed: a tuple "
                         f"(block, sample_input) or a dict with keys {', '.join(SPEC_KEYS)}")
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise ProbeError(f"invalid key {unknown[0]!r} in factory result; allowed keys: "
                         + ", ".join(SPEC_KEYS))
    for key in ("block", "input"):
        if key not in spec:
            raise ProbeError(f"missing key {key!r} in factory result; required: block, input")
    return probe(
        spec["block"], spec["input"],
        streams=streams if streams is not None else spec.get("streams"),
        dim=dim if dim is not None else spec.get("dim"),
        layout=spec.get("layout", "auto"), silence=spec.get("silence"),
        source=spec.get("source", source), exposed=spec.get("exposed"),
        perturb=spec.get("perturb"),
    )


# ---------------------------------------------------------------------------- the ledger
def probed_examples(conj: Any, m: ProbedMapping) -> list:
    """Examples for a conjecture on one probed map: ``[m]``, or for a ``depth = (lo, hi)``
    claim the stacks ``(m,) * L`` for ``L`` in ``lo, hi`` and the powers of two between."""
    if conj.depth is None:
        return [m]
    lo, hi = conj.depth
    lengths = sorted({lo, hi} | {2 ** k for k in range(0, 12) if lo <= 2 ** k <= hi})
    return [(m,) * length for length in lengths]


def applicable(conj: Any, m: ProbedMapping) -> str | None:
    """``None`` when ``conj`` applies to ``m``, else the reason it does not.

    A conjecture applies when its families include ``"probed"`` and every field named by its
    function's ``requires`` attribute (e.g. ``("exposed",)``) is present in ``m.params``.
    """
    if PROBED_FAMILY not in conj.families:
        return f"families {list(conj.families)} do not include 'probed'"
    for field in getattr(conj.function, "requires", ()):
        if m.params.get(field) is None:
            return f"needs params[{field!r}], which this probe has no adapter for"
    return None


def check_probed(m: ProbedMapping, conjectures: Sequence[Any] | None = None):
    """Evaluate the conjectures that apply to ``m``; return ``(ledger, not_applicable)``.

    ``conjectures`` defaults to the built-in catalog (:mod:`theory.conjectures.probed`
    included); only those covering ``"probed"`` are considered. ``not_applicable`` lists
    ``(conjecture, reason)`` for those lacking the data they need.
    """
    import time

    from theory.engine import evaluate_on
    from theory.ledger import Ledger
    from theory.loader import load_builtin
    from theory.registry import as_conjecture

    if not isinstance(m, ProbedMapping):
        raise InvalidParameterError("m", type(m).__name__, "a ProbedMapping (from probe())",
                                    context="check_probed")
    start = time.perf_counter()
    found = load_builtin() if conjectures is None else [as_conjecture(c) for c in conjectures]
    ledger, skipped = Ledger(seed=None), []
    for conj in found:
        if PROBED_FAMILY not in conj.families:
            continue
        reason = applicable(conj, m)
        if reason is not None:
            skipped.append((conj, reason))
            continue
        ledger.entries.append(evaluate_on(conj, probed_examples(conj, m)))
    ledger.seconds = time.perf_counter() - start
    return ledger, skipped
