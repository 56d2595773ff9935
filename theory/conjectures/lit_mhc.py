"""Literature ledger: mHC (DeepSeek), arXiv 2512.24880 (claims 5-9).

``H_res = SK_20(exp(logits))``: Sinkhorn-Knopp (here rows, then columns, 20 times, so the
column sums are exact and the row sums carry the residual gap). Claims 5 and 6 as stated live
in :mod:`entangled.theory.conjectures.literature`; this module adds the others and their sharp readings.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from entangled.properties import composite_gain, product_matrix
from entangled.theory import conjecture
from entangled.theory import symbolic
from entangled.theory.spectral import numeric_spectral_norm, stochasticity_errors

MHC = "Xie et al. (DeepSeek), mHC, arXiv 2512.24880"
SMALL_TEMPERATURES = st.floats(0.05, 0.2)


@conjecture(families=["sinkhorn"], tol=1e-12, params={"iters": 20,
                                                     "temperature": SMALL_TEMPERATURES},
            n=(1, 16), expected="falsified", reference=MHC + " (H_res is non-expansive)",
            kind="theorem")
def mhc_h_res_is_non_expansive(m):
    """mHC's H_res — 20 Sinkhorn iterations, not the exact projection — has spectral norm at
    most 1 (to 1e-12).

    Claim 6 holds for exact doubly stochastic matrices; read sharply, the paper applies it to
    the matrix it computes. Believed false: the final column normalisation makes the column
    sums exactly 1, so the row sums ``r`` add up to ``n`` and
    ``||H||_2 >= ||H 1|| / sqrt(n) = ||r|| / sqrt(n) > 1`` as soon as one row sum differs from 1
    (Cauchy-Schwarz) — which 20 iterations leave at small temperatures. Returns
    ``max(0, ||H||_2 - 1)``.
    """
    return max(0.0, numeric_spectral_norm(m) - 1.0)


@conjecture(requires=["doubly_stochastic"], tol=1e-9, depth=(2, 8), n=(1, 16),
            reference=MHC + " (closure under products)", kind="theorem",
            proof=symbolic.doubly_stochastic_2x2_closure())
def doubly_stochastic_products_stay_doubly_stochastic(mappings):
    """Doubly stochastic matrices are closed under products: the composite skip over any depth
    stays doubly stochastic (row and column sums 1 to 1e-9, entries >= 0).

    .. math:: (AB)\\mathbf 1 = A\\mathbf 1 = \\mathbf 1,\\quad \\mathbf 1^T AB = \\mathbf 1^T B = \\mathbf 1^T
    """
    product = product_matrix(list(mappings))
    rows, cols = stochasticity_errors(product)
    return max(rows, cols, max(0.0, -float(product.min())))


@conjecture(requires=["column_stochastic"], tol=1e-12, n=(1, 32),
            reference=MHC + " (mean conserved across streams)", kind="theorem",
            proof=symbolic.column_stochastic_conserves_sum())
def doubly_stochastic_mixing_conserves_stream_mean(m):
    """Doubly stochastic mixing conserves the mean across streams (1^T H = 1^T): for every x,
    mean_i (Hx)_i = mean_i x_i.

    Only the column sums matter, so the claim also holds for mHC's 20-iteration Sinkhorn in
    this orientation: its last step normalises the columns. Returns
    ``max |1^T H - 1^T|`` (the largest change of the stream sum per unit input).
    """
    matrix = m.dense()
    return float((matrix.sum(0) - 1).abs().max())


@conjecture(requires=["doubly_stochastic"], tol=1e-9, depth=(1, 64), n=(1, 8), examples=10,
            reference=MHC + " (composite Amax gain near 1)", kind="theorem")
def composite_amax_gain_is_one_for_doubly_stochastic(mappings):
    """The composite "Amax gain" (max absolute row sum of the product forward, column sum
    backward) of exactly doubly stochastic layers is 1 at every depth (to 1e-9).

    The exact version of claim 9: a product of nonnegative doubly stochastic matrices is
    doubly stochastic (claim 7), whose absolute row and column sums are all 1.
    """
    return abs(max(composite_gain(list(mappings))) - 1.0)


@conjecture(families=["sinkhorn"], tol=1e-3, depth=(64, 64), n=(2, 8), examples=10,
            params={"iters": 20, "temperature": 1.0},
            reference=MHC + " (composite Amax gain near 1, vs thousands for HC)",
            kind="empirical")
def sinkhorn_composite_amax_gain_stays_near_one(mappings):
    """mHC's composite Amax gain stays near 1 over depth: 64 layers of 20-iteration Sinkhorn
    (N(0, 1) logits, temperature 1) give max(gain forward, gain backward) within 1e-3 of 1.

    Sharp reading of "near 1" (the paper contrasts it with thousands for HC). Uses
    ``sum_j |P_ij|``; see :func:`amax_gain_definitions_agree` for the other definition.
    """
    return abs(max(composite_gain(list(mappings))) - 1.0)


def _signed_gain(matrix: torch.Tensor) -> float:
    """``max_i |sum_j M_ij|``: the signed Amax definition."""
    return float(matrix.sum(1).abs().max())


@conjecture(families=["orthogonal", "dense"], tol=1e-12,
            n=(1, 16), expected="falsified", reference=MHC + " (Amax gain; two definitions in use)",
            kind="theorem")
def amax_gain_definitions_agree(m):
    """The two Amax gain definitions in use agree: max_i |sum_j M_ij| = max_i sum_j |M_ij|.

    They agree for nonnegative matrices (every doubly stochastic mixing), and for some signed
    ones (a 2x2 rotation by an angle in ``(0, pi/2)``: the larger row sum has no cancellation).
    Believed false for orthogonal and dense skips in general: ``[[1, -1], [0.5, 0.5]]`` has
    signed maximum 1 and absolute maximum 2. Returns the gap.
    """
    matrix = m.dense()
    return abs(float(matrix.abs().sum(1).max()) - _signed_gain(matrix))
