"""The result of a probe: :class:`ProbedMapping`, a dense mapping of family ``"probed"`` with
its provenance and diagnostics, and the Kronecker reduction of a Jacobian to a stream map.

.. math:: H_{ij} = \\frac{1}{d}\\operatorname{tr} J_p[i, :, j, :] ,\\qquad
          r = \\frac{\\lVert J_p - H \\otimes I_d\\rVert_F}{\\lVert J_p\\rVert_F}
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from entangled.errors import EntangledError, InvalidParameterError
from entangled.mappings.base import DICT_FIELDS, Mapping, as_float64_matrix
from entangled.mappings.dense import DenseMapping
from entangled.theory.probe.kinds import BLOCK_KINDS

PROBED_FAMILY = "probed"
SCOPES = ("skip", "whole block")
JACOBIAN_METHODS = ("vmap-vjp", "batched autograd", "autograd per row", "no dependence",
                    "finite differences")


class ProbeError(EntangledError):
    """The block could not be probed (wrong output shape, unknown submodule, bad layout, ...)."""


class ProbeWarning(UserWarning):
    """The probe measured something other than the skip path (e.g. no branch was silenced)."""


# ------------------------------------------------------------------------- validation
def _check_optional_matrix(name: str, value: Any, n: int) -> list | None:
    if value is None:
        return None
    tensor = as_float64_matrix(value, name=name)
    if tensor.shape[0] != n:
        raise InvalidParameterError(name, f"<({tensor.shape[0]}, {tensor.shape[1]}) array>",
                                    f"an (n, n) array with n={n}, or None", context=PROBED_FAMILY)
    return tensor.tolist()


def _check_nonneg_float(name: str, value: Any, optional: bool = False) -> float | None:
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        allowed = "a finite real number >= 0" + (" or None" if optional else "")
        raise InvalidParameterError(name, value, allowed, context=PROBED_FAMILY)
    return float(value)


def _check_pos_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(name, value, "a positive integer", context=PROBED_FAMILY)
    return int(value)


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InvalidParameterError(name, value, "one of " + ", ".join(map(repr, allowed)),
                                    context=PROBED_FAMILY)
    return value


def _check_notes(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidParameterError("notes", value, "a list of strings", context=PROBED_FAMILY)
    return list(value)


def _check_kind(value: Any) -> str:
    return _check_choice("kind", value, tuple(BLOCK_KINDS))


def _check_string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(name, value, "a string", context=PROBED_FAMILY)
    return value


def _check_matrix_list(name: str, value: Any, n: int) -> list | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise InvalidParameterError(name, value, "a list of (n, n) arrays or None",
                                    context=PROBED_FAMILY)
    return [_check_optional_matrix(name, item, n) for item in value]


def _check_gradients(value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidParameterError("mixing_gradients", value,
                                    "a dict parameter name -> max |gradient|, or None",
                                    context=PROBED_FAMILY)
    out: dict[str, float | str | None] = {}
    for key, grad in value.items():      # a non-finite gradient is kept, as a JSON-safe string
        if isinstance(grad, str) and grad in ("NaN", "Infinity"):
            out[key] = grad
        elif isinstance(grad, float) and math.isnan(grad):
            out[key] = "NaN"
        elif isinstance(grad, float) and grad == math.inf:
            out[key] = "Infinity"
        else:
            out[key] = _check_nonneg_float(f"mixing_gradients[{key!r}]", grad)
    return out


class ProbedMapping(DenseMapping):
    """The measured skip map of a module: a dense mapping of family ``"probed"`` with provenance.

    Not registered in :func:`entangled.families` (it cannot be sampled); build it with
    :func:`entangled.theory.probe.probe`. ``params`` (JSON-serialisable, round-tripped by
    :meth:`to_dict` / :meth:`from_dict`) hold

    ``matrix``
        the ``n x n`` stream map ``H`` (the Jacobian itself when ``d = 1``);
    ``source``, ``input_shape``, ``layout``, ``streams`` (= n), ``dim`` (= d), ``dtype``
        where it came from;
    ``scope``
        ``"skip"`` when a branch was silenced (or the block was declared branch-free / built
        around :class:`~entangled.theory.probe.ZeroBranch`), ``"whole block"`` otherwise: the map then
        includes the branch and the skip claims do not apply;
    ``kronecker_residual``, ``cross_position``, ``position_spread``
        diagnostics of the Jacobian (see :mod:`entangled.theory.probe`);
    ``skip_gain``
        ``max(||J_p||_inf, ||J_p||_1)`` of one position's full ``(n d) x (n d)`` Jacobian
        (max absolute row and column sum): the per-layer gain, whatever the layout says;
    ``jacobian_method``
        how ``J`` was obtained (``"vmap-vjp"``, ``"batched autograd"``, ``"autograd per
        row"``, ``"no dependence"``, or ``"finite differences"`` when autograd disagreed with
        the forward map);
    ``autograd_gap``
        max relative difference between autograd directional derivatives and central finite
        differences of the forward map (``None``: not measured);
    ``repeat_gap``, ``batch_gap``
        relative output difference for the same input twice, and for the first batch item
        run alone vs inside the batch (``None``: not measured / not applicable);
    ``notes``
        every fallback taken and every exception caught while probing, in words;
    ``exposed``
        the mixing matrix the module itself computes, in the same orientation
        (``y_i = sum_j H_ij x_j``), when it could be read, else ``None``;
    ``perturbed``
        the probed map of a copy whose mixing parameters were moved (for the "mixing is live"
        claim), else ``None``;
    ``kind``
        the block's declared kind (:mod:`entangled.theory.probe.kinds`), which decides the
        claims that apply;
    ``invocation``, ``measured_at``
        how the block was called (forward arguments, output selection, history window), in
        words, and the submodule at whose input the map was measured (pre-activation), or
        ``None`` for the block's output;
    ``calls``, ``call_drift``, ``call_maps``
        the number of successive calls of one instance measured, the largest relative change
        of the Jacobian from the first call, and the stream maps of calls ``2 .. calls``
        (``None``: not measured);
    ``mixing_gradients``
        ``{parameter: max |dL/dp|}`` for the mixing parameters, in the probe's dtype, or
        ``None``.
    """

    family = PROBED_FAMILY
    summary = "the measured skip map of a residual module (entangled.theory.probe)"
    PROVENANCE = ("source", "input_shape", "layout", "streams", "dim", "dtype", "scope",
                  "kronecker_residual", "cross_position", "position_spread", "skip_gain",
                  "jacobian_method", "autograd_gap", "repeat_gap", "batch_gap", "notes",
                  "exposed", "perturbed", "kind", "invocation", "measured_at", "calls",
                  "call_drift", "call_maps", "mixing_gradients")

    def __init__(self, n: int, *, seed: int = 0, matrix: Any, source: str = "<unknown>",
                 input_shape: Sequence[int] = (), layout: str = "... f", streams: int | None = None,
                 dim: int = 1, dtype: str = "float64", scope: str = "skip",
                 kronecker_residual: float = 0.0, cross_position: float = 0.0,
                 position_spread: float = 0.0, skip_gain: float | None = None,
                 jacobian_method: str = "vmap-vjp", autograd_gap: float | None = None,
                 repeat_gap: float | None = None, batch_gap: float | None = None,
                 notes: Sequence[str] = (), exposed: Any = None, perturbed: Any = None,
                 kind: str = "stream-mixing", invocation: str = "block(x)",
                 measured_at: str | None = None, calls: int = 1, call_drift: float | None = None,
                 call_maps: Any = None, mixing_gradients: dict | None = None):
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
        dim = _check_pos_int("dim", dim)
        if skip_gain is None:           # d = 1 or unknown: the gain of the stream map itself
            dense = torch.tensor(self.params["matrix"], dtype=torch.float64).abs()
            skip_gain = float(max(dense.sum(1).max(), dense.sum(0).max()))
        self.params = {
            "matrix": self.params["matrix"],
            "source": source,
            "input_shape": shape,
            "layout": layout,
            "streams": streams,
            "dim": dim,
            "dtype": str(dtype),
            "scope": _check_choice("scope", scope, SCOPES),
            "kronecker_residual": _check_nonneg_float("kronecker_residual", kronecker_residual),
            "cross_position": _check_nonneg_float("cross_position", cross_position),
            "position_spread": _check_nonneg_float("position_spread", position_spread),
            "skip_gain": _check_nonneg_float("skip_gain", skip_gain),
            "jacobian_method": _check_choice("jacobian_method", jacobian_method,
                                             JACOBIAN_METHODS),
            "autograd_gap": _check_nonneg_float("autograd_gap", autograd_gap, optional=True),
            "repeat_gap": _check_nonneg_float("repeat_gap", repeat_gap, optional=True),
            "batch_gap": _check_nonneg_float("batch_gap", batch_gap, optional=True),
            "notes": _check_notes(notes),
            "exposed": _check_optional_matrix("exposed", exposed, self.n),
            "perturbed": _check_optional_matrix("perturbed", perturbed, self.n),
            "kind": _check_kind(kind),
            "invocation": _check_string("invocation", invocation),
            "measured_at": None if measured_at is None else _check_string("measured_at",
                                                                          measured_at),
            "calls": _check_pos_int("calls", calls),
            "call_drift": _check_nonneg_float("call_drift", call_drift, optional=True),
            "call_maps": _check_matrix_list("call_maps", call_maps, self.n),
            "mixing_gradients": _check_gradients(mixing_gradients),
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
                f"scope={p['scope']!r}, kronecker_residual={p['kronecker_residual']:.3g}")


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


def gain(jacobian: torch.Tensor) -> float:
    """``max(||J||_inf, ||J||_1)``: the larger of the max absolute row sum and column sum."""
    a = jacobian.abs()
    return float(max(a.sum(1).max(), a.sum(0).max())) if a.numel() else 0.0


def kronecker_residual(m: Mapping) -> float:
    """``||J - H ⊗ I_d||_F / ||J||_F`` of a probed mapping (0 for any other mapping)."""
    return float(m.params.get("kronecker_residual", 0.0)) if m.family == PROBED_FAMILY else 0.0
