"""Literature ledger: mHC-lite, arXiv 2601.05732 (claims 10-12).

Claim 11 (finitely many Sinkhorn iterations leave a gap that accumulates with depth) is
encoded in :mod:`entangled.theory.conjectures.literature` as a bound that holds and a literal
"grows with every block" reading that does not.
"""

from __future__ import annotations

import numpy as np

from entangled.theory import conjecture
from entangled.theory.spectral import stochasticity_errors

MHC_LITE = "mHC-lite, arXiv 2601.05732"


@conjecture(families=["birkhoff"], tol=1e-12, n=(1, 32), reference=MHC_LITE, kind="theorem")
def convex_combination_of_permutations_is_exactly_doubly_stochastic(m):
    """A convex combination of permutation matrices is exactly doubly stochastic (row and
    column sums 1 to float64 rounding, 1e-12; entries >= 0).

    .. math:: \\Big(\\sum_k w_k P_k\\Big)\\mathbf 1 = \\sum_k w_k \\mathbf 1 = \\mathbf 1
    """
    matrix = m.dense()
    rows, cols = stochasticity_errors(matrix)
    return max(rows, cols, max(0.0, -float(matrix.min())))


def birkhoff_decomposition(matrix: np.ndarray, tol: float = 1e-12
                           ) -> tuple[list[float], list[np.ndarray]]:
    """Weights and permutations ``matrix = sum_k w_k P_k`` of a doubly stochastic matrix.

    Greedy: the largest-weight permutation inside the support (``linear_sum_assignment`` on
    ``-log``), subtract, repeat; then Caratheodory reduction: while more than
    ``(n - 1)^2 + 1`` permutations remain, an affine dependence ``sum_k mu_k vec(P_k) = 0``,
    ``sum_k mu_k = 0`` moves the weights until one vanishes.
    """
    from scipy.optimize import linear_sum_assignment

    n = matrix.shape[0]
    rest = matrix.astype(np.float64).copy()
    weights, perms = [], []
    for _ in range(n * n + 1):
        if rest.max() <= tol:
            break
        cost = np.where(rest > tol, -np.log(np.maximum(rest, tol)), 1e6)
        rows, cols = linear_sum_assignment(cost)
        weight = float(rest[rows, cols].min())
        if weight <= tol:
            break
        perm = np.zeros((n, n))
        perm[rows, cols] = 1.0
        weights.append(weight)
        perms.append(perm)
        rest -= weight * perm
        rest[np.abs(rest) < tol] = 0.0
    bound = (n - 1) ** 2 + 1
    while len(perms) > bound:
        system = np.vstack([np.stack([p.ravel() for p in perms], axis=1),
                            np.ones((1, len(perms)))])
        mu = np.linalg.svd(system)[2][-1]
        if mu.max() <= 0:
            mu = -mu
        ratios = [w / u if u > 1e-12 else np.inf for w, u in zip(weights, mu)]
        k = int(np.argmin(ratios))
        step = ratios[k]
        weights = [w - step * u for w, u in zip(weights, mu)]
        weights.pop(k)
        perms.pop(k)
    return weights, perms


@conjecture(requires=["doubly_stochastic"], tol=1e-9, n=(1, 6), examples=15,
            reference=MHC_LITE + "; Birkhoff-von Neumann with the Marcus-Ree bound",
            kind="theorem")
def birkhoff_von_neumann_with_marcus_ree_bound(m):
    """Every n x n doubly stochastic matrix is a convex combination of at most (n - 1)^2 + 1
    permutation matrices.

    Checked constructively with :func:`birkhoff_decomposition`: returns the reconstruction
    error ``max |M - sum_k w_k P_k|`` plus ``max(0, -min w)``, and ``inf`` when more than
    ``(n - 1)^2 + 1`` permutations were needed.
    """
    matrix = m.dense().numpy()
    weights, perms = birkhoff_decomposition(matrix)
    n = matrix.shape[0]
    if len(perms) > (n - 1) ** 2 + 1 or not perms:
        return float("inf")
    rebuilt = sum(w * p for w, p in zip(weights, perms))
    return float(np.abs(rebuilt - matrix).max() + max(0.0, -min(weights))
                 + abs(sum(weights) - 1.0))
