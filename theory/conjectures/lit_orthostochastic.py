"""Literature ledger: go-mHC, arXiv 2604.02309 (claims 18-19).

Claim 18 (entrywise squares of orthogonal matrices are doubly stochastic) is
:func:`entangled.theory.conjectures.literature.orthostochastic_squares_are_doubly_stochastic`.
"""

from __future__ import annotations

import itertools

import torch

from entangled.theory import conjecture

GO_MHC = "go-mHC, arXiv 2604.02309"


def orthostochastic_distance(matrix: torch.Tensor) -> float:
    """``min_S max |Q_S^T Q_S - I|`` over sign patterns ``Q_S = S ∘ sqrt(B)``: 0 iff ``B`` is
    orthostochastic (``B_ij = Q_ij^2`` for an orthogonal ``Q``).

    Any such ``Q`` is ``S ∘ sqrt(B)`` for a sign pattern ``S``; flipping the signs of whole
    rows and columns keeps ``Q`` orthogonal, so the first row and column are taken positive:
    ``2^{(n-1)^2}`` patterns (512 at ``n = 4``).
    """
    n = matrix.shape[0]
    roots = matrix.clamp(min=0).sqrt()
    cells = [(i, j) for i in range(1, n) for j in range(1, n)]
    best = float("inf")
    eye = torch.eye(n, dtype=torch.float64)
    for signs in itertools.product((1.0, -1.0), repeat=len(cells)):
        pattern = torch.ones(n, n, dtype=torch.float64)
        for (i, j), s in zip(cells, signs):
            pattern[i, j] = s
        q = pattern * roots
        best = min(best, float((q.T @ q - eye).abs().max()))
        if best == 0.0:
            break
    return best


@conjecture(families=["birkhoff"], tol=1e-9, n=(1, 4), examples=10, expected="falsified",
            reference=GO_MHC + " (read as: orthostochastic mixing covers the doubly "
                               "stochastic matrices)", kind="theorem")
def orthostochastic_matrices_cover_doubly_stochastic(m):
    """Every doubly stochastic matrix is orthostochastic (the entrywise square of an orthogonal
    matrix), so orthostochastic mixing loses nothing.

    True for ``n <= 2`` (``D(a) = [[cos^2 t, sin^2 t], [sin^2 t, cos^2 t]]`` with
    ``a = cos^2 t``); false from ``n = 3`` on, classically for ``(J - I)/2``-like matrices
    such as ``[[1, 1, 0], [1, 0, 1], [0, 1, 1]] / 2``. Checked on convex combinations of
    permutations (``birkhoff``) by :func:`orthostochastic_distance`. The direction that holds
    (squares of orthogonal matrices are doubly stochastic) has the sympy proof
    :func:`entangled.theory.symbolic.orthostochastic_squares`.
    """
    return orthostochastic_distance(m.dense())


@conjecture(families=["birkhoff"], tol=1e-9, n=(1, 2), examples=20, reference=GO_MHC,
            kind="theorem")
def two_by_two_doubly_stochastic_is_orthostochastic(m):
    """Every 2x2 doubly stochastic matrix is orthostochastic (the n = 2 half of claim 19)."""
    return orthostochastic_distance(m.dense())
