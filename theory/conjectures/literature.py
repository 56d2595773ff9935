"""Claims of the papers in DESIGN §1, stated as checkable conjectures — true ones and false ones.

* Lechner et al., "Entangled Residual Mappings", arXiv 2206.01261 (2022);
* mHC (DeepSeek), arXiv 2512.24880: Sinkhorn-Knopp projection onto doubly stochastic mixing;
* mHC-lite, arXiv 2601.05732: exact doubly stochastic mixing as convex combinations of
  permutations; finitely many Sinkhorn iterations leave a gap that accumulates with depth;
* go-mHC, arXiv 2604.02309: (generalised) orthostochastic mixing.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from entangled.properties import row_sum_error
from entangled.theory import conjecture
from entangled.theory import symbolic
from entangled.theory.conjectures.spectral import eigenvalue_one_and_unit_radius_deviation
from entangled.theory.spectral import numeric_spectral_norm, prefix_products, stochasticity_errors

LECHNER = "arXiv 2206.01261 (Lechner et al. 2022)"
MHC = "arXiv 2512.24880 (mHC)"
MHC_LITE = "arXiv 2601.05732 (mHC-lite)"
GO_MHC = "arXiv 2604.02309 (go-mHC)"
SMALL_TEMPERATURES = st.floats(0.05, 0.2)


@conjecture(families=["sparse"], tol=1e-9, params={"normalise": "row"}, reference=LECHNER,
            proof=symbolic.row_stochastic_eigenvector_one(), kind="theorem")
def sparse_row_stochastic_shares_identity_spectral_radius(m):
    """A row-normalised sparse entangled mapping has eigenvalue 1 and spectral radius 1, like I.

    .. math:: M\\mathbf 1 = \\mathbf 1,\\qquad \\rho(M) \\le \\|M\\|_\\infty = 1
    """
    return eigenvalue_one_and_unit_radius_deviation(m)


@conjecture(requires=["doubly_stochastic"], tol=1e-9,
            reference=MHC, kind="theorem", proof=symbolic.doubly_stochastic_gram())
def doubly_stochastic_spectral_norm_at_most_one(m):
    """A doubly stochastic mapping has spectral norm at most 1 (a non-expansive skip).

    .. math:: \\|M\\|_2 \\le \\sqrt{\\|M\\|_1 \\|M\\|_\\infty} = 1
    """
    return max(0.0, numeric_spectral_norm(m) - 1.0)


@conjecture(requires=["doubly_stochastic"], tol=1e-9, n=2, reference=MHC,
            proof=symbolic.doubly_stochastic_2x2_spectral_norm(), kind="theorem")
def two_by_two_doubly_stochastic_spectral_norm_is_one(m):
    """A 2x2 doubly stochastic mapping has spectral norm exactly 1 (eigenvalues 1 and 2a - 1).

    .. math:: \\left\\|\\begin{pmatrix}a & 1-a\\\\ 1-a & a\\end{pmatrix}\\right\\|_2 = \\max(1, |2a-1|) = 1
    """
    return abs(numeric_spectral_norm(m) - 1.0)


@conjecture(families=["sinkhorn"], tol=1e-12, params={"iters": 20, "temperature": SMALL_TEMPERATURES},
            reference=MHC, expected="falsified", kind="theorem")
def twenty_sinkhorn_iterations_are_exactly_doubly_stochastic(m):
    """20 Sinkhorn iterations give an exactly doubly stochastic matrix (row and column sums 1 to 1e-12).

    Believed false (mHC-lite's objection): at small temperature Sinkhorn-Knopp converges
    slowly and 20 iterations leave row sums visibly off 1, e.g. ~4e-2 at ``n = 8``,
    ``temperature = 0.1``, ``seed = 0``.
    """
    rows, cols = stochasticity_errors(m.dense())
    return max(rows, cols)


@conjecture(families=["sinkhorn"], tol=1e-9, depth=(1, 8), params={"iters": st.integers(1, 50)},
            reference=MHC_LITE, kind="theorem")
def sinkhorn_gap_accumulates_at_most_multiplicatively(mappings):
    """The Sinkhorn gap of a depth-L composite is bounded by the accumulated per-layer gaps.

    With :math:`\\varepsilon_l = \\|M_l \\mathbf 1 - \\mathbf 1\\|_\\infty` (the row-sum gap
    left by finitely many iterations) and :math:`\\delta_L = \\|P_L \\mathbf 1 - \\mathbf 1\\|_\\infty`
    for :math:`P_L = M_L \\cdots M_1`,

    .. math:: 1 + \\delta_L \\le \\prod_{l=1}^{L} (1 + \\varepsilon_l)

    since :math:`P_L\\mathbf 1 - \\mathbf 1 = M_L(P_{L-1}\\mathbf 1 - \\mathbf 1) + (M_L\\mathbf 1 - \\mathbf 1)`
    and :math:`\\|M_L\\|_\\infty \\le 1 + \\varepsilon_L` for nonnegative :math:`M_L`. This is
    the checkable form of mHC-lite's claim that the gap "accumulates with depth": it can grow
    with L, at most geometrically. Measured as the relative excess over the bound.
    """
    bound = math.prod(1.0 + row_sum_error(m) for m in mappings)
    composite = 1.0 + stochasticity_errors(prefix_products(mappings)[-1])[0]
    return max(0.0, composite - bound) / bound


@conjecture(families=["sinkhorn"], tol=1e-12, depth=(2, 8),
            params={"iters": 20, "temperature": SMALL_TEMPERATURES},
            reference=MHC_LITE, expected="falsified", kind="theorem")
def sinkhorn_gap_grows_monotonically_with_depth(mappings):
    """The Sinkhorn gap grows with every block: the composite's row-sum error never decreases as L grows.

    Believed false as a literal statement: per-layer errors partly cancel, and a column
    stochastic factor averages the previous error, so
    :math:`\\delta_L = \\|P_L\\mathbf 1 - \\mathbf 1\\|_\\infty` can drop from one depth to the next
    (the bound above is what does hold). Returns
    :math:`\\max_L (\\delta_{L-1} - \\delta_L)`, which a monotone gap keeps <= 0.
    """
    gaps = [stochasticity_errors(product)[0] for product in prefix_products(mappings)]
    return max(previous - current for previous, current in zip(gaps, gaps[1:]))


@conjecture(requires=["orthogonal"], tol=1e-9,
            reference=GO_MHC, kind="theorem", proof=symbolic.orthostochastic_squares())
def orthostochastic_squares_are_doubly_stochastic(m):
    """The entrywise square of an orthogonal mapping is doubly stochastic (orthostochastic mixing).

    .. math:: B_{ij} = Q_{ij}^2:\\quad \\sum_j B_{ij} = (QQ^T)_{ii} = 1,\\quad \\sum_i B_{ij} = (Q^TQ)_{jj} = 1
    """
    rows, cols = stochasticity_errors(m.dense() ** 2)
    return max(rows, cols)
