"""Literature ledger: circulant hyper-connections, C-mHC (claims 13-17).

``H = sum_k c_k Pi^k`` with ``Pi`` the cyclic shift and ``c`` on the simplex. The project's
``circulant`` family is such a matrix (a symmetric kernel, rows normalised); mixing logits are
``l = log c`` centred, so ``c = softmax(l)`` (a "softmax circulant").
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from entangled.properties import product_matrix
from entangled.theory import conjecture
from entangled.theory import symbolic
from entangled.theory.spectral import stochasticity_errors

CMHC = "Circulant hyper-connections (C-mHC)"
PEAKED = st.floats(0.05, 0.6)


def first_row(m) -> torch.Tensor:
    """``c`` with ``H = sum_k c_k Pi^k``, ``(Pi)_{i, i+1} = 1``: the first row of ``H``."""
    return m.dense()[0]


@conjecture(families=["circulant"], tol=1e-12, depth=(2, 2), n=(1, 16), reference=CMHC,
            kind="theorem", proof=symbolic.circulant_simplex_doubly_stochastic())
def circulant_mixing_is_doubly_stochastic_and_commutes(pair):
    """H = sum_k c_k Pi^k with c on the simplex is exactly doubly stochastic, and such mappings
    commute: max(stochasticity errors of both, max |H G - G H|) <= 1e-12."""
    h, g = (m.dense() for m in pair)
    errors = [max(stochasticity_errors(x)) for x in (h, g)]
    return max(*errors, float((h @ g - g @ h).abs().max()))


def _collapse(mappings) -> tuple[float, float, int]:
    product = product_matrix(list(mappings))
    n = product.shape[0]
    gap = float(torch.linalg.matrix_norm(product - torch.ones(n, n, dtype=torch.float64) / n, 2))
    factor = math.prod(1.0 - n * float(m.dense().min()) for m in mappings)
    return gap, factor, n


@conjecture(requires=["doubly_stochastic"], tol=1e-9, depth=(1, 16), n=(1, 12), examples=15,
            reference=CMHC + " (collapse bound)", kind="theorem")
def collapse_bound(mappings):
    """Collapse bound: ||P_L - J/n||_2 <= sqrt(n) prod_l (1 - n delta_l), delta_l the smallest
    entry of layer l, P_L the product, J the all-ones matrix.

    Returns ``max(0, ||P_L - J/n||_2 - sqrt(n) prod_l (1 - n delta_l))``. The bound holds for
    every doubly stochastic layer, not only circulant ones (see
    :func:`collapse_bound_without_sqrt_n` for the sharper form).
    """
    gap, factor, n = _collapse(mappings)
    return max(0.0, gap - math.sqrt(n) * factor)


@conjecture(requires=["doubly_stochastic"], tol=1e-9, depth=(1, 16), n=(1, 12), examples=15,
            reference=CMHC + " (collapse bound, sharpened here)", kind="theorem",
            proof=symbolic.collapse_factorisation())
def collapse_bound_without_sqrt_n(mappings):
    """Sharpened collapse bound: ||P_L - J/n||_2 <= prod_l (1 - n delta_l), without sqrt(n).

    .. math:: P_L - \\tfrac Jn = \\prod_l (H_l - \\tfrac Jn),\\quad
              H_l - \\tfrac Jn = (1 - n\\delta_l)(R_l - \\tfrac Jn),\\quad
              \\|R_l - \\tfrac Jn\\|_2 \\le 1

    (``R_l = (H_l - delta_l J)/(1 - n delta_l)`` is doubly stochastic; on ``1^perp`` its norm is
    at most 1). The source's ``sqrt(n)`` factor is not needed.
    """
    gap, factor, _ = _collapse(mappings)
    return max(0.0, gap - factor)


@conjecture(families=["circulant"], tol=1e-12, n=(1, 32), reference=CMHC + " (entry floor)",
            kind="theorem")
def softmax_circulant_entry_floor(m):
    """Entry floor: with mixing logits bounded in absolute value by B, every entry of the
    softmax circulant is at least e^{-2B}/n.

    With ``c = softmax(l)`` and ``|l_k| <= B``:
    ``c_k = e^{l_k} / sum_j e^{l_j} >= e^{-B} / (n e^{B}) = e^{-2B}/n``. The source states
    ``e^{-4B}/n`` for its parametrisation: that is the floor when the entries are a softmax of
    logit *differences* ``l_i - l_j`` (bounded by ``2B``), and it holds a fortiori here, but
    is loose by ``e^{2B}``; the exact minimum over ``|l| <= B`` is
    ``1 / (1 + (n - 1) e^{2B})``. Logits are ``log c`` centred to minimise ``B``. Returns
    ``max(0, e^{-2B}/n - min c)``.
    """
    logc = torch.log(first_row(m))
    logits = logc - (logc.max() + logc.min()) / 2
    bound = float(logits.abs().max())
    return max(0.0, math.exp(-2 * bound) / m.n - float(first_row(m).min()))


@conjecture(families=["circulant"], tol=1e-9, depth=(1, 8), n=(1, 16),
            params={"bandwidth": PEAKED}, reference=CMHC + " (smallest singular value)",
            kind="theorem")
def circulant_smallest_singular_value_bound(mappings):
    """With gamma_l = 1 - c_0 (mass off the diagonal) and c_0 > 1/2 for every layer,
    sigma_min(P_L) >= prod_l (1 - 2 gamma_l).

    ``H = c_0 I + gamma K`` with ``K`` doubly stochastic gives
    ``sigma_min(H) >= c_0 - gamma = 1 - 2 gamma`` and ``sigma_min(AB) >= sigma_min(A)
    sigma_min(B)``. Layers with ``c_0 <= 1/2`` make the claim vacuous (returns 0). Returns
    ``max(0, prod_l (1 - 2 gamma_l) - sigma_min(P_L))``.
    """
    c0 = [float(first_row(m)[0]) for m in mappings]
    if min(c0) <= 0.5:
        return 0.0
    bound = math.prod(1.0 - 2.0 * (1.0 - c) for c in c0)
    smallest = float(torch.linalg.svdvals(product_matrix(list(mappings))).min())
    return max(0.0, bound - smallest)


@conjecture(families=["sinkhorn"], depth=(64, 64), n=(4, 4), examples=10,
            params={"iters": 20, "temperature": 1.0}, expected="falsified",
            reference=CMHC + " (reported: n = 4, L = 64, N(0, 1) logits)", kind="empirical")
def reported_sinkhorn_composite_error_is_about_4e_7(mappings):
    """For n = 4, L = 64 and N(0, 1) logits, 20-iteration Sinkhorn leaves a mean column-sum
    error of the composite around 4e-7 (the circulant one around 1e-15).

    Sharp reading: every draw lands within a factor 10 of ``4e-7``. This project's Sinkhorn
    normalises columns last, so the gap sits in the row sums (the transposed statistic, equal
    in distribution). Believed false as a typical value: the error varies over orders of
    magnitude from draw to draw (``5e-11``, ``2e-9``, ``5e-7`` for three seeds), because it is
    dominated by the slowest-converging layer. The circulant half (``1e-15``) is exact and is
    covered by :func:`circulant_mixing_is_doubly_stochastic_and_commutes`. Returns whether the
    mean row-sum error of the composite is within ``[4e-8, 4e-6]``.
    """
    product = product_matrix(list(mappings))
    error = float((product.sum(1) - 1).abs().mean())
    return 4e-8 <= error <= 4e-6
