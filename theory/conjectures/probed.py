"""Claims about the skip map a module *actually* applies, measured by :mod:`theory.probe`.

Every conjecture here covers the family ``"probed"``, which is not a registered family: the
search of ``entangled verify`` skips them, and ``entangled probe`` evaluates them on the
probed map of a user's module with :func:`theory.evaluate_on`. Some claims need data that
only an adapter can supply; their function carries ``requires = ("exposed",)`` or
``("perturbed",)`` and ``entangled probe`` lists them as not applicable when the probe lacks
it (called directly they raise :class:`NotApplicable`).

Tolerances allow float32 modules (Sinkhorn in float32, as in ``hyper-connections``): about
``1e-7`` of rounding, far below the ``1e-4`` allowed for stochasticity.
"""

from __future__ import annotations

from typing import Sequence

import torch

from entangled.errors import EntangledError
from entangled.mappings.base import Mapping
from entangled.properties import column_sum_error, composite_gain, min_entry, row_sum_error
from theory.registry import conjecture

PROBED = ["probed"]
MHC = "Xie et al., mHC, arXiv 2512.24880 (doubly stochastic H_res via Sinkhorn-Knopp)"
STOCHASTIC_TOL = 1e-4
FLOAT32_TOL = 1e-5
GAIN_BOUND = 2.0
GAIN_DEPTH = (1, 64)


class NotApplicable(EntangledError):
    """The probed mapping lacks the data a claim needs (no exposed matrix, no perturbation)."""


def requires(*fields: str):
    """Mark a conjecture function as needing ``params[field]`` of the probed mapping."""

    def mark(function):
        function.requires = tuple(fields)
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


@requires()
@conjecture(families=PROBED, tol=STOCHASTIC_TOL, reference=MHC)
def doubly_stochastic(m):
    """The probed stream map is doubly stochastic: entries >= 0, every row and column sums to 1.

    Returns ``max(row sum error, column sum error, max(0, -min entry))``. A normalisation over
    the wrong axis gives a map that is column- but not row-stochastic (or vice versa); for
    input-dependent mixing the Jacobian adds ``dH/dx`` terms and can leave the polytope even
    when ``H(x)`` is inside it.
    """
    return max(row_sum_error(m), column_sum_error(m), max(0.0, -min_entry(m)))


@requires()
@conjecture(families=PROBED, tol=STOCHASTIC_TOL, reference=MHC)
def spectral_norm_at_most_one(m):
    """The probed stream map does not expand: ||H||_2 <= 1 (returns max(0, ||H||_2 - 1))."""
    return max(0.0, float(m.singular_values().max()) - 1.0)


@requires("exposed")
@conjecture(families=PROBED, tol=STOCHASTIC_TOL, reference=MHC)
def exposed_doubly_stochastic(m):
    """The mixing matrix the module computes (H_res) is doubly stochastic.

    Returns the stochasticity error of ``params["exposed"]``: the module's own claim, checked
    on the matrix it reports rather than on the map it applies.
    """
    return stochastic_error(_param_matrix(m, "exposed"))


@requires("exposed")
@conjecture(families=PROBED, tol=FLOAT32_TOL)
def equals_exposed(m):
    """The probed skip map equals the mixing matrix the module computes (max |H - H_res| <= 1e-5).

    Falsified when the mixing is computed but not applied (or applied transposed), and for
    input-dependent mixing, whose Jacobian is ``H(x) + (dH/dx) x``, not ``H(x)``.
    """
    return float((m.dense() - _param_matrix(m, "exposed")).abs().max())


@requires("perturbed")
@conjecture(families=PROBED)
def mixing_is_live(m):
    """Perturbing the module's mixing parameters away from I changes the applied map (it is not I).

    True iff ``max|H' - I| > 1e-6`` for the probe ``H'`` of the perturbed copy. Falsified by a
    block that computes its mixing matrix but never applies it, and by a projection that
    underflows to an exact identity.
    """
    perturbed = _param_matrix(m, "perturbed")
    return bool((perturbed - torch.eye(m.n, dtype=torch.float64)).abs().max() > 1e-6)


@requires()
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


@requires()
@conjecture(families=PROBED, tol=GAIN_BOUND, depth=GAIN_DEPTH, reference=MHC)
def composite_gain_bounded(ms: Sequence[Mapping]):
    """The Amax gain of L stacked probed blocks stays <= 2 for L <= 64 (forward and backward).

    Returns ``max(max_i sum_j |P_ij|, max_j sum_i |P_ij|)`` for ``P = H_L ... H_1`` — mHC's
    bounded composite gain (exactly 1 for nonnegative doubly stochastic maps), against the
    growth without bound of unconstrained Hyper-Connections.
    """
    forward, backward = composite_gain(list(ms))
    return max(forward, backward)
