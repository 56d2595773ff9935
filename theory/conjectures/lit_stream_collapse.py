"""Literature ledger: stream collapse and circulant floors in the 2026 successors (claims 32,
33, 39, 46).

Products of doubly stochastic stream mixings contract towards ``J = 11^T / n`` (every stream
the same). The sources bound how fast; this module checks the bounds as stated, and where a
bound is stated more generally than it holds, finds the smallest case that breaks it.
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from entangled.properties import product_matrix
from entangled.theory import conjecture
from entangled.theory import symbolic

CHC = "circulant hyper-connections, github contactsebi/circulant-hyper-connections"
TRAP = "homogeneity trap, arXiv 2601.02080"
GNN = "mHC-GNN, arXiv 2601.02451"
CONVERGED = {"iters": 300, "temperature": st.floats(0.5, 4.0)}   # doubly stochastic to ~1e-12
NEAR_HALF = st.floats(0.05, 0.75)     # circulant bandwidths with c_0 from ~1 down to ~0.53


def logit_half_range(m) -> float:
    """``B`` with the logits ``W / tau`` of a Sinkhorn mapping in a range of width ``2B``."""
    w = m.logits() / m.params["temperature"]
    return float(w.max() - w.min()) / 2


def off_diagonal_mass(m) -> float:
    """``gamma = 1 - c_0``: the mass a circulant mixing moves off the diagonal."""
    return 1.0 - float(m.dense()[0, 0])


@conjecture(families=["sinkhorn"], params=CONVERGED, n=(1, 8), tol=1e-12, examples=15,
            kind="theorem", reference=CHC + " (lemma: Sinkhorn limits have entries >= "
                                            "e^{-4B}/n)", proof=symbolic.sinkhorn_cross_ratio())
def sinkhorn_limit_entry_floor(m):
    """Every entry of the Sinkhorn limit of logits with range at most 2B is >= e^{-4B}/n.

    Scaling ``P = D exp(W) E`` keeps every cross ratio ``P_ij P_kl / (P_il P_kj)`` of
    ``exp(W)``, which is ``>= e^{-4B}``; summing over ``k, l`` gives ``n P_ij >= e^{-4B}``
    (proof attached). The e^{-2B}/n floor of a plain softmax does *not* hold here (ratio 0.36
    found). The limit is approximated by 300 iterations (doubly stochastic to ~1e-12 at these
    temperatures; the floor has room to spare). Returns
    ``max(0, e^{-4B}/n - min P)``.
    """
    floor = math.exp(-4 * logit_half_range(m)) / m.n
    return max(0.0, floor - float(m.dense().min()))


@conjecture(families=["sinkhorn"], params=CONVERGED, depth=(1, 8), n=(1, 6), tol=1e-9,
            examples=10, kind="theorem",
            reference=CHC + " (stream collapse: ||prod H_l - J||_2 <= sqrt(n) (1 - "
                            "e^{-4B})^L)")
def stream_collapse_bound(mappings):
    """Stream collapse: for Sinkhorn limits of logits with range <= 2B,
    ||prod_l H_l - J||_2 <= sqrt(n) (1 - e^{-4B})^L, J = 11^T/n.

    Follows from the entry floor and the collapse bound of claim 14 (``n delta_l >=
    e^{-4B}``). Checked with each layer's own ``B_l`` (``prod_l (1 - e^{-4B_l})``, at least as
    strong as one common ``B``). Returns the amount by which the gap exceeds the bound.
    """
    product = product_matrix(list(mappings))
    n = product.shape[0]
    gap = float(torch.linalg.matrix_norm(product - torch.ones(n, n, dtype=torch.float64) / n, 2))
    bound = math.sqrt(n) * math.prod(1 - math.exp(-4 * logit_half_range(m)) for m in mappings)
    return max(0.0, gap - bound)


@conjecture(families=["circulant"], params={"bandwidth": NEAR_HALF}, n=(1, 16), tol=1e-12,
            kind="theorem", reference=CHC + " (c = (1 - gamma) e_0 + gamma softmax(z))")
def gamma_circulant_distance_and_eigenvalue_bounds(m):
    """For circulant mixing c = (1 - gamma) e_0 + gamma s (s on the simplex): ||C - I||_2 <=
    2 gamma and every |eigenvalue| >= 1 - 2 gamma.

    ``C - I = gamma (S - I)`` with ``S`` doubly stochastic (``||S||_2 = 1``), and the
    eigenvalues are ``1 - gamma + gamma s_hat_k`` with ``|s_hat_k| <= 1``. Checked at the
    sharpest ``gamma = 1 - c_0`` (all of the diagonal in the identity part). Returns the
    largest violation of the two bounds.
    """
    gamma = off_diagonal_mass(m)
    h = m.dense()
    distance = float(torch.linalg.matrix_norm(h - torch.eye(m.n, dtype=h.dtype), 2))
    smallest = float(m.eigvals().abs().min())
    return max(0.0, distance - 2 * gamma, (1 - 2 * gamma) - smallest)


def _exponential_form_gap(mappings) -> float:
    c0 = float(mappings[0].dense()[0, 0])
    if c0 <= 0.5:                        # outside the claim (needs c_0 > 1/2): vacuous
        return 0.0
    length = len(mappings)
    beta = 2 * length * (1 - c0)         # the schedule gamma_l = beta / (2L)
    return max(0.0, math.exp(-beta - beta ** 2 / length) - (1 - beta / length) ** length)


@conjecture(families=["circulant"], params={"bandwidth": st.floats(0.65, 0.75)}, depth=(1, 8),
            n=(1, 16), tol=1e-12, examples=40, expected="falsified", kind="theorem",
            reference=CHC + " (with gamma_l = beta/(2L): (1 - beta/L)^L >= e^{-beta - "
                            "beta^2/L})")
def uniform_gamma_product_bound_exponential_form(mappings):
    """With gamma_l = beta/(2L) for every layer (c_0 > 1/2): (1 - beta/L)^L >= e^{-beta -
    beta^2/L}.

    Read as stated, for every admissible schedule (``c_0 > 1/2``, i.e. ``beta/L < 1``).
    Believed false: the step ``log(1 - x) >= -x - x^2`` holds only for ``x = beta/L <=
    0.6838``; with ``c_0`` between 1/2 and 0.658 it fails — at depth 1, n = 3 (the smallest
    circulant with that much off-diagonal mass). The search draws the bandwidths that reach
    that range (0.65 .. 0.75; narrower kernels keep ``c_0`` near 1, where the claim holds). It
    holds, with a proof, for ``beta/L <= 1/2``
    (:func:`uniform_gamma_product_bound_for_small_beta`). ``beta`` is read off the first
    layer's ``c_0``. Returns the amount by which the right side exceeds the left.
    """
    return _exponential_form_gap(mappings)


@conjecture(families=["circulant"], params={"bandwidth": st.floats(0.05, 0.6)}, depth=(1, 8),
            n=(1, 16), tol=1e-12, kind="theorem", proof=symbolic.log_one_minus_x_bound(),
            reference=CHC + " (exponential form, restricted here to beta/L <= 1/2)")
def uniform_gamma_product_bound_for_small_beta(mappings):
    """(1 - beta/L)^L >= e^{-beta - beta^2/L} whenever beta/L <= 1/2 (gamma_l <= 1/4).

    ``f(x) = log(1 - x) + x + x^2`` has ``f(0) = 0`` and ``f' = x(1 - 2x)/(1 - x) >= 0`` on
    ``[0, 1/2]`` (proof attached). Layers with ``c_0 < 3/4`` are outside the restriction
    (vacuous). Returns the violation.
    """
    if float(mappings[0].dense()[0, 0]) < 0.75:
        return 0.0
    return _exponential_form_gap(mappings)


@conjecture(families=["identity"], depth=(16, 16), n=(1, 8), tol=1e-3,
            examples=3, expected="falsified", kind="theorem",
            reference=TRAP + " (doubly stochastic mixing suppresses sigma_2; the composite "
                             "approaches J)")
def doubly_stochastic_composite_approaches_consensus(mappings):
    """Homogeneity trap, read literally: under any doubly stochastic mixing the composite over
    depth approaches J = 11^T/n: ||P_16 - J||_2 <= 1e-3 after 16 layers.

    Believed false as stated: permutations (the identity included) are doubly stochastic with
    ``sigma_2 = 1`` and never contract — the smallest counterexample is the identity at
    n = 2, ``||I - J||_2 = 1``. For strictly positive doubly stochastic layers the collapse is
    real and geometric (claims 14 and 32); the identity, the simplest doubly stochastic
    mixing, is the family searched.
    Returns ``||P_16 - J||_2``.
    """
    product = product_matrix(list(mappings))
    n = product.shape[0]
    return float(torch.linalg.matrix_norm(product - torch.ones(n, n, dtype=torch.float64) / n, 2))


@conjecture(families=["circulant"], params={"bandwidth": st.floats(0.25, 0.5)}, n=(12, 40),
            tol=1e-12, examples=20, expected="falsified", kind="empirical",
            reference=GNN + " (over-smoothing decays like (1 - gamma)^{L/n} with n streams)")
def oversmoothing_decays_like_one_minus_gamma_to_the_L_over_n(m):
    """mHC-GNN: with n streams, over-smoothing decays like (1 - gamma)^{L/n} rather than
    (1 - gamma)^L. Sharp reading for circulant stream mixing with off-diagonal mass
    gamma = 1 - c_0: the distance from consensus shrinks per layer at least by
    (1 - gamma)^{1/n}, i.e. the second-largest |eigenvalue| is <= (1 - gamma)^{1/n}.

    Believed false in general: for mixing between nearby streams the second eigenvalue is
    ``1 - gamma (1 - cos(2 pi / n))``-like, and ``1 - cos(2 pi / n) ~ 2 pi^2 / n^2`` falls
    below ``1/n`` around n = 20: more streams slow consensus down more than the claim allows.
    The smallest counterexample among the project's Gaussian circulants is n = 18 (bandwidth
    ~0.47; up to n = 17 the claim holds for every bandwidth, and from n = 20 on it fails for
    every bandwidth in 0.25 .. 0.5, the range searched with n in 12 .. 40). Returns the excess
    of ``|lambda_2|`` over ``(1 - gamma)^{1/n}``.
    """
    gamma = off_diagonal_mass(m)
    moduli = torch.sort(m.eigvals().abs(), descending=True).values
    second = float(moduli[1])
    return max(0.0, second - (1 - gamma) ** (1 / m.n))
