"""Claims about the skip map a module *actually* applies, measured by :mod:`entangled.theory.probe`.

Every conjecture here covers the family ``"probed"``, which is not a registered family: the
search of ``entangled verify`` skips them, and ``entangled probe`` evaluates them on the
probed map of a user's module with :func:`entangled.theory.evaluate_on`. Each function is marked with
:func:`requires`:

* the ``params`` fields it needs (``"exposed"``, ``"perturbed"``, ``"autograd_gap"``, ...):
  without them ``entangled probe`` lists it as not applicable (called directly it raises
  :class:`NotApplicable`);
* its ``scope``: ``"skip"`` claims are about the skip path and only apply when the probe
  silenced the branch; ``"block"`` claims (gradients, determinism, isolation) apply always;
* whether its tolerance is numerical (``entangled probe --tol`` replaces it).

Default tolerances allow float32 modules (Sinkhorn in float32, as in ``hyper-connections``):
about ``1e-7`` of rounding, far below the ``1e-4`` allowed for stochasticity.

The implementation claims 28-30 of the literature ledger (:mod:`entangled.theory.literature`) are :func:`equals_exposed`, :func:`mixing_is_live` and
:func:`autograd_matches_finite_differences`.
"""

from __future__ import annotations

from typing import Sequence

import torch

from entangled.errors import EntangledError
from entangled.mappings.base import Mapping
from entangled.properties import column_sum_error, composite_gain, min_entry, row_sum_error
from entangled.theory.probe.kinds import ALL_KINDS, LINEAR_KINDS
from entangled.theory.registry import conjecture

PROBED = ["probed"]
MHC = "Xie et al., mHC, arXiv 2512.24880 (doubly stochastic H_res via Sinkhorn-Knopp)"
IMPLEMENTATION = ("implementation claim (literature ledger {item}): what HC/mHC implementations "
                  "such as the hyper-connections package promise about their skip")
STOCHASTIC_TOL = 1e-4
FLOAT32_TOL = 1e-5
FD_TOL = 1e-2
FUNCTION_TOL = 1e-6
LIVE_THRESHOLD = 1e-6
GAIN_BOUND = 2.0
GAIN_DEPTH = (1, 64)
DRIFT_TOL = 1e-6
IDENTITY_TOL = 1e-5
MIXING = ("stream-mixing",)
#: Kinds with a linear skip that is meant to be non-expansive in every direction.
NON_EXPANSIVE = ("stream-mixing",)


class NotApplicable(EntangledError):
    """The probed mapping lacks the data a claim needs (no exposed matrix, no perturbation)."""


def requires(*fields: str, scope: str = "skip", tunable: bool = True,
             kinds: tuple[str, ...] = ALL_KINDS, opt_in: bool = False):
    """Mark a conjecture function: the ``params`` fields it needs, its scope (``"skip"`` or
    ``"block"``), whether its tolerance is numerical (replaced by ``--tol``, widened in low
    precision), the declared block kinds it is about (:mod:`entangled.theory.probe.kinds`) and
    whether it only runs when asked for (``opt_in``: ``--claims +NAME``)."""

    def mark(function):
        function.requires = tuple(fields)
        function.scope = scope
        function.tunable_tol = tunable
        function.kinds = tuple(kinds)
        function.opt_in = opt_in
        return function

    return mark


def _param_matrix(m: Mapping, field: str) -> torch.Tensor:
    value = m.params.get(field) if isinstance(m.params, dict) else None
    if value is None:
        raise NotApplicable(f"not applicable: the probed mapping has no {field!r} matrix "
                            f"(source {m.params.get('source', '?')!r}); an adapter must supply it")
    return torch.tensor(value, dtype=torch.float64)


def stochastic_error(matrix: torch.Tensor) -> float:
    """``max(max_i |sum_j H_ij - 1|, max_j |sum_i H_ij - 1|, max(0, -min H))``."""
    return float(max((matrix.sum(1) - 1).abs().max(), (matrix.sum(0) - 1).abs().max(),
                     torch.clamp(-matrix.min(), min=0)))


@requires(kinds=MIXING)
@conjecture(families=PROBED, tol=STOCHASTIC_TOL, reference=MHC)
def doubly_stochastic(m):
    """The probed stream map is doubly stochastic: entries >= 0, every row and column sums to 1.

    Returns ``max(row sum error, column sum error, max(0, -min entry))``. A normalisation over
    the wrong axis gives a map that is column- but not row-stochastic (or vice versa); for
    input-dependent mixing the Jacobian adds ``dH/dx`` terms and can leave the polytope even
    when ``H(x)`` is inside it.
    """
    return max(row_sum_error(m), column_sum_error(m), max(0.0, -min_entry(m)))


@requires(kinds=NON_EXPANSIVE)
@conjecture(families=PROBED, tol=STOCHASTIC_TOL, reference=MHC)
def spectral_norm_at_most_one(m):
    """The probed stream map does not expand: ||H||_2 <= 1 (returns max(0, ||H||_2 - 1))."""
    return max(0.0, float(m.singular_values().max()) - 1.0)


@requires("exposed", scope="block", kinds=MIXING)
@conjecture(families=PROBED, tol=STOCHASTIC_TOL, reference=MHC)
def exposed_doubly_stochastic(m):
    """The mixing matrix the module computes (H_res) is doubly stochastic.

    Returns the stochasticity error of ``params["exposed"]``: the module's own claim, checked
    on the matrix it reports rather than on the map it applies.
    """
    return stochastic_error(_param_matrix(m, "exposed"))


@requires("exposed", kinds=("stream-mixing", "scalar-gated"))
@conjecture(families=PROBED, tol=FLOAT32_TOL, reference=IMPLEMENTATION.format(item=28),
            kind="implementation")
def equals_exposed(m):
    """The probed skip map equals the mixing matrix the module computes (max |H - H_res| <= 1e-5).

    Literature ledger claim 28: "a module's exposed mixing matrix is the one its forward pass
    applies".

    Falsified when the mixing is computed but not applied (or applied transposed), and for
    input-dependent mixing, whose Jacobian is ``H(x) + (dH/dx) x``, not ``H(x)``.
    """
    return float((m.dense() - _param_matrix(m, "exposed")).abs().max())


@requires("perturbed", tunable=False)
@conjecture(families=PROBED, reference=IMPLEMENTATION.format(item=29), kind="implementation")
def mixing_is_live(m):
    """Moving the module's mixing parameters changes the skip it applies ("mixing is live").

    Literature ledger claim 29. True iff ``max|H' - H| > 1e-6`` for the probe ``H'`` of a copy
    whose mixing parameters were moved (``--perturb GLOB[:SCALE]``). Falsified by a block that
    computes its mixing matrix but never applies it, by stream summation (``sum_j (H x)_j``
    does not depend on a column-stochastic ``H``), and by a projection that underflows to a
    constant.
    """
    perturbed = _param_matrix(m, "perturbed")
    return bool((perturbed - m.dense()).abs().max() > LIVE_THRESHOLD)


@requires(kinds=LINEAR_KINDS)
@conjecture(families=PROBED, tol=FLOAT32_TOL)
def kronecker_form(m):
    """The skip mixes whole streams: its Jacobian is H ⊗ I_d (relative residual <= 1e-5).

    Returns ``||J - H ⊗ I_d||_F / ||J||_F``. Nonzero when the skip mixes features within a
    stream, or when the mixing depends on the input.
    """
    return float(m.params.get("kronecker_residual", 0.0))


@requires()
@conjecture(families=PROBED, tol=FLOAT32_TOL)
def positions_independent(m):
    """The skip path never mixes different positions (batch, sequence): relative leakage <= 1e-5."""
    return float(m.params.get("cross_position", 0.0))


@requires(tunable=False, kinds=MIXING)
@conjecture(families=PROBED, tol=GAIN_BOUND, depth=GAIN_DEPTH, reference=MHC)
def composite_gain_bounded(ms: Sequence[Mapping]):
    """The Amax gain of L stacked probed blocks stays <= 2 for L <= 64 (forward and backward).

    Returns ``max(max_i sum_j |P_ij|, max_j sum_i |P_ij|)`` for ``P = H_L ... H_1`` — mHC's
    bounded composite gain (exactly 1 for nonnegative doubly stochastic maps), against the
    growth without bound of unconstrained Hyper-Connections.
    """
    forward, backward = composite_gain(list(ms))
    return max(forward, backward)


@requires("skip_gain", kinds=NON_EXPANSIVE)
@conjecture(families=PROBED, tol=FLOAT32_TOL, reference=MHC)
def skip_gain_at_most_one(m):
    """The per-layer skip gain is at most 1: max absolute row and column sums of J are <= 1.

    Returns ``max(||J_p||_inf, ||J_p||_1) - 1`` for the full ``(n d) x (n d)`` Jacobian ``J_p``
    of one position, so it does not depend on the layout the user gave: stream summation
    (``n`` copies summed back, gain ``n``) is caught even when the streams are declared
    wrongly. Exactly 1 for a nonnegative doubly stochastic ``H ⊗ I_d`` (mHC's per-layer
    "Amax gain"); an orthogonal skip other than a signed permutation has gain > 1 in these
    norms although its spectral norm is 1.
    """
    return float(m.params["skip_gain"]) - 1.0


@requires("autograd_gap", scope="block")
@conjecture(families=PROBED, tol=FD_TOL, reference=IMPLEMENTATION.format(item=30),
            kind="implementation")
def autograd_matches_finite_differences(m):
    """Gradients flow through the skip path: autograd's Jacobian equals finite differences.

    Literature ledger claim 30. Returns the largest relative gap
    ``||J v - D_h v|| / max(||J v||, ||D_h v||)`` over 8 seeded unit directions ``v`` at the
    first position, ``D_h`` the central difference with ``h = 1e-3 max(1, |x|_inf)``; holds
    when <= 1e-2 (the bound leaves room for float32 internals, rounding ~1e-7 / 1e-3, and for
    the ``h^2`` curvature term). A skip path detached from autograd (``x.detach()``, a
    ``torch.no_grad`` mix, a ``.data`` copy) has the right forward value and a gap of order 1.
    """
    return float(m.params["autograd_gap"])


@requires("repeat_gap", scope="block")
@conjecture(families=PROBED, tol=FUNCTION_TOL,
            reference="implementation claim: a residual block in eval mode is a function of "
                      "its input (no state between calls, batch items independent)")
def block_is_a_function(m):
    """The block is a function of its input: same input twice, same output; batch items alone
    give what they give inside the batch (relative difference <= 1e-6, eval mode).

    Returns ``max(repeat_gap, batch_gap)`` of the unsilenced block (``batch_gap`` counts 0 when
    the input has a single batch item). Falsified by a module that keeps state between calls
    (a running buffer, a call counter), and by batch statistics leaking into eval mode.
    """
    batch = m.params.get("batch_gap")
    return max(float(m.params["repeat_gap"]), 0.0 if batch is None else float(batch))


@requires(scope="block", tunable=False)
@conjecture(families=PROBED,
            reference="entangled.theory.probe: the probed map is the skip path only when the residual "
                      "branch is silenced")
def skip_path_isolated(m):
    """The probe isolated the skip path: a branch was silenced, or the block declared to have none.

    ``False`` for a probe of the whole block (``(block, x)`` without ``--silence``): its
    Jacobian includes the branch, and every claim about the skip path is then not applicable.
    """
    return m.params.get("scope") == "skip"


@requires("call_drift")
@conjecture(families=PROBED, tol=DRIFT_TOL,
            reference="implementation claim: a residual block applies the same skip at every "
                      "call (entangled probe measures calls 1, 2, 3 of one instance)")
def skip_map_stable_across_calls(m):
    """The skip map is the same at every call of one instance: relative change <= 1e-6.

    Returns ``max_k ||J_k - J_1||_F / max(||J_1||_F, ||J_k||_F)`` for the skip Jacobians
    ``J_k`` of the first position at calls ``k = 2 .. calls`` of one instance (``--calls``,
    default 3), each on the same sample input. A block that caches its mixed streams, its
    mixing matrix or its history on the first call and reuses them detached loses its skip
    from the second call on; the first-call probe and "same input twice" (whose outputs
    agree) cannot see it.
    """
    return float(m.params["call_drift"])


@requires(kinds=("scalar-gated",))
@conjecture(families=PROBED, tol=FLOAT32_TOL,
            reference="implementation claim of scalar-gated residuals: the skip is α I "
                      "(a gated, scaled or DeepNet-style residual)")
def skip_is_scalar_multiple_of_identity(m):
    """The skip of a scalar-gated block is α I with α != 0: relative deviation <= 1e-5.

    Returns ``max(kronecker_residual, max_ij |H_ij - α δ_ij| / |α|)`` with ``α`` the mean of
    the diagonal of ``H`` (infinite when ``α = 0``: the skip is gone).
    """
    h = m.dense()
    alpha = float(h.diagonal().mean())
    if alpha == 0.0:
        return float("inf")
    deviation = float((h - alpha * torch.eye(m.n, dtype=h.dtype)).abs().max()) / abs(alpha)
    return max(float(m.params.get("kronecker_residual", 0.0)), deviation)


@requires(kinds=("history-window",))
@conjecture(families=PROBED, tol=FLOAT32_TOL,
            reference="mHC-style history mixing (e.g. the mhc package): the new state is a "
                      "convex combination of the window, x_{l+1} = F(x_l) + Σ_k a_k h_k")
def window_forward_gain_at_most_one(m):
    """The forward (row) gain of a history-window skip is at most 1: max_i Σ_j |H_ij| <= 1.

    Returns ``max_i Σ_j |H_ij| - 1`` for the companion stream map of the window (shift rows
    have gain 1; the last row is the weights ``a`` the block gives the states). Simplex
    weights (``a >= 0``, ``Σ a = 1``) give exactly 0; weights summing past 1 amplify the
    state at every layer. The column gain is 2 by construction and is not claimed.
    """
    return float(m.dense().abs().sum(1).max()) - 1.0


@requires("mixing_gradients", scope="block", tunable=False)
@conjecture(families=PROBED,
            reference="literature ledger claim 37: Sinkhorn logits with a range >~ 104 "
                      "underflow in float32 (exact permutation, exactly zero gradient)",
            kind="implementation")
def gradient_reaches_mixing_parameters(m):
    """Gradient reaches every mixing parameter, in the probe's dtype: dL/dp is not all zero.

    Checked for each parameter matched by the mixing glob (``--mixing``, default the glob of
    ``--perturb``), with ``L = <r, y>`` for the silenced block's output ``y`` and a seeded
    direction ``r``. False when some matched parameter's gradient is exactly 0 everywhere (or
    not finite): e.g. Sinkhorn
    mixing at the published defaults (off-diagonal logits -8, temperature 0.05) in float32,
    where ``exp(-160)`` underflows to 0 and the projection is an exact permutation with zero
    gradient — the same module in float64 passes (``--dtype``).
    """
    gradients = m.params["mixing_gradients"]
    return bool(gradients) and all(not isinstance(g, str) and g > 0 for g in gradients.values())


@requires(opt_in=True)
@conjecture(families=PROBED, tol=IDENTITY_TOL,
            reference="Zhu et al., Hyper-Connections, arXiv 2409.19606 (claim 3); ResFormer, "
                      "DenseFormer, MUDDFormer, LAuReL (claim 48): identity at initialisation",
            kind="implementation")
def skip_is_identity(m):
    """The skip is the identity (a plain residual): max |H - I| and the Kronecker residual are
    <= 1e-5. Opt-in (``--claims +skip_is_identity``), for modules that promise to start as a
    plain residual at initialisation (literature claims 3 and 48).
    """
    h = m.dense()
    return max(float((h - torch.eye(m.n, dtype=h.dtype)).abs().max()),
               float(m.params.get("kronecker_residual", 0.0)))
