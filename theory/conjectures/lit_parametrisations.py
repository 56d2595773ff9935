"""Literature ledger: what the 2026 parametrisations of stream mixing can and cannot represent
(claims 34, 35, 36, 38, 43).

Reach is measured as the rank of a parametrisation's Jacobian at random points (the local
dimension of its image), against the ``(n - 1)^2`` dimensions of the Birkhoff polytope.
"""

from __future__ import annotations

import itertools

import torch
from hypothesis import strategies as st

from entangled.mappings.sinkhorn import sinkhorn_log
from entangled.theory import conjecture
from entangled.theory import symbolic

REACH = ("exact doubly stochastic parametrisations: circulant mixing, KromHC (arXiv "
         "2601.21579), mHC-lite (arXiv 2601.05732), mHC (arXiv 2512.24880)")
DDL = "Deep Delta Learning, arXiv 2601.00417"
GEO = "EΔ-MHC-Geo, arXiv 2605.06729; scoRNN"
SHC = "sHC, arXiv 2603.20896 (spectral-sphere mixing)"
GAINS = "two Amax gain conventions (a published stability toolkit vs the infinity norm)"
RANK_RTOL = 1e-8


def jacobian_rank(function, point: torch.Tensor, rtol: float = RANK_RTOL) -> int:
    """Numerical rank of the Jacobian of ``function`` (flattened output) at ``point``:
    singular values above ``rtol`` times the largest."""
    jac = torch.autograd.functional.jacobian(function, point)
    jac = jac.reshape(-1, point.numel())
    values = torch.linalg.svdvals(jac)
    return int((values > rtol * values.max()).sum()) if values.numel() else 0


def seeded_point(seed: int, size: int) -> torch.Tensor:
    """A seeded ``N(0, 1)`` parameter vector (float64)."""
    return torch.randn(size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def circulant_from_weights(c: torch.Tensor) -> torch.Tensor:
    """``C = sum_k c_k Pi^k`` with ``(Pi)_{i, i+1} = 1``: row ``i`` is ``c`` rolled by ``i``."""
    return torch.stack([torch.roll(c, i) for i in range(len(c))])


def twin(t: torch.Tensor) -> torch.Tensor:
    """``[[t, 1 - t], [1 - t, t]]``, the 2 x 2 doubly stochastic matrices."""
    return torch.stack([torch.stack([t, 1 - t]), torch.stack([1 - t, t])])


@conjecture(families=["circulant"], n=(2, 12), tol=0.0, examples=10, kind="theorem",
            reference=REACH + " (circulant mixing reaches n - 1 dimensions)")
def circulant_parametrisation_reaches_n_minus_1_dimensions(m):
    """Circulant mixing C(softmax(z)) reaches n - 1 dimensions of the Birkhoff polytope: its
    Jacobian w.r.t. the n logits z has rank n - 1 at random z (drawn from the example's n and
    seed; the softmax loses the common shift of z).

    Returns ``|rank - (n - 1)|``.
    """
    z = seeded_point(m.seed + 1000 * m.n, m.n)
    rank = jacobian_rank(lambda v: circulant_from_weights(torch.softmax(v, 0)), z)
    return float(abs(rank - (m.n - 1)))


@conjecture(families=["birkhoff"], n=(4, 4), tol=0.0, examples=5, kind="theorem",
            reference=REACH + " (KromHC at n = 4: a Kronecker product of two 2 x 2 factors)")
def kronecker_2x2_parametrisation_reaches_2_dimensions(m):
    """KromHC at n = 4, M = K(a) ⊗ K(b) with 2 x 2 doubly stochastic factors, reaches only 2
    of the 9 dimensions of the Birkhoff polytope: Jacobian rank 2 at random (a, b) (drawn
    from the example's seed).

    Returns ``|rank - 2|``.
    """
    theta = seeded_point(m.seed, 2)

    def kron(v):
        a, b = torch.sigmoid(v)
        return torch.kron(twin(a), twin(b))

    return float(abs(jacobian_rank(kron, theta) - 2))


@conjecture(families=["birkhoff"], n=(2, 4), tol=0.0, examples=5, kind="theorem",
            reference=REACH + " (mHC-lite: convex combinations of all n! permutations)")
def mhc_lite_parametrisation_reaches_the_whole_polytope(m):
    """mHC-lite, M = sum_sigma softmax(w)_sigma P_sigma over all n! permutations, reaches all
    (n - 1)^2 dimensions: Jacobian rank (n - 1)^2 at random weights (from the seed).

    Returns ``|rank - (n - 1)^2|``.
    """
    n = m.n
    perms = torch.stack([torch.eye(n, dtype=torch.float64)[list(p)]
                         for p in itertools.permutations(range(n))])
    w = seeded_point(m.seed, len(perms))
    rank = jacobian_rank(lambda v: torch.einsum("k,kij->ij", torch.softmax(v, 0), perms), w)
    return float(abs(rank - (n - 1) ** 2))


@conjecture(families=["sinkhorn"], params={"iters": 200, "temperature": st.floats(1.0, 4.0)},
            n=(2, 3), tol=0.0, examples=3, kind="theorem",
            reference=REACH + " (mHC: the Sinkhorn projection of n^2 logits)")
def sinkhorn_parametrisation_reaches_the_whole_polytope(m):
    """mHC's Sinkhorn projection of n^2 logits reaches all (n - 1)^2 dimensions: the Jacobian
    of the (converged, 200-iteration) projection w.r.t. the logits has rank (n - 1)^2.

    (Adding ``r_i + c_j`` to the logits does not move the limit: ``2n - 1`` directions are
    lost, ``n^2 - (2n - 1) = (n - 1)^2``.) Temperatures >= 1 keep the projection far from a
    permutation, where 200 iterations converge; the rank counts singular values above 1e-6
    of the largest (a truncated projection keeps the lost directions at the size of its
    convergence error). Returns ``|rank - (n - 1)^2|``.
    """
    w = m.logits() / m.params["temperature"]
    rank = jacobian_rank(lambda v: torch.exp(sinkhorn_log(v, m.params["iters"])), w, rtol=1e-6)
    return float(abs(rank - (m.n - 1) ** 2))


DELTA_BETAS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)


@conjecture(requires=["orthogonal"], n=(1, 12), tol=1e-9, kind="theorem", reference=DDL,
            proof=symbolic.deep_delta_spectrum())
def deep_delta_update_spectrum(m):
    """Deep Delta Learning: A = I - beta k k^T with ||k|| = 1 has eigenvalues 1 (d - 1 times)
    and 1 - beta, det A = 1 - beta, and is orthogonal iff beta in {0, 2}; at beta = 1 the
    skip is singular.

    ``k`` is the example's first column (a unit vector: every family declared orthogonal is
    searched), ``beta`` runs over 0, 0.5, ..., 2.5.
    Returns the largest deviation: sorted eigenvalues, determinant, ``||A^T A - I||`` where
    orthogonality is claimed, and ``0.1 - ||A^T A - I||`` where it is not.
    """
    n = m.n
    k = m.dense()[:, 0:1]
    worst = 0.0
    for beta in DELTA_BETAS:
        a = torch.eye(n, dtype=torch.float64) - beta * k @ k.T
        expected = torch.sort(torch.tensor([1.0] * (n - 1) + [1.0 - beta], dtype=torch.float64))
        eigs = torch.sort(torch.linalg.eigvalsh(a)).values
        orth = float((a.T @ a - torch.eye(n, dtype=torch.float64)).abs().max())
        worst = max(worst, float((eigs - expected.values).abs().max()),
                    abs(float(torch.linalg.det(a)) - (1.0 - beta)),
                    orth if beta in (0.0, 2.0) else max(0.0, 0.1 - orth))
    return worst


def cayley(a: torch.Tensor) -> torch.Tensor:
    """``(I - A/2)^{-1} (I + A/2)``."""
    eye = torch.eye(a.shape[0], dtype=a.dtype)
    return torch.linalg.solve(eye - a / 2, eye + a / 2)


@conjecture(requires=["orthogonal"], n=(1, 12), tol=1e-8, kind="theorem", reference=GEO,
            proof=symbolic.cayley_has_determinant_one())
def cayley_mixer_cannot_represent_a_reflection(m):
    """A pure-Cayley mixer cannot represent a reflection: an orthogonal Q is a Cayley image iff
    -1 is not an eigenvalue, and every Q with det Q = -1 has the eigenvalue -1.

    For ``det Q = -1`` the distance of the spectrum from -1 must vanish; otherwise (no
    eigenvalue near -1) the inverse map ``A = 2 (Q + I)^{-1} (Q - I)`` must give a skew
    matrix whose Cayley image is Q. Every family declared orthogonal is searched; Haar
    samples have ``det = -1`` half the time, permutations with odd cycles too. (scoRNN
    reaches the reflections with a fixed ``D = diag(±1)`` factor.) Returns the largest
    deviation.
    """
    q = m.dense()
    eye = torch.eye(m.n, dtype=q.dtype)
    to_minus_one = float((torch.linalg.eigvals(q) + 1).abs().min())
    if float(torch.linalg.det(q)) < 0:
        return to_minus_one
    if to_minus_one < 1e-6:
        return 0.0
    a = 2 * torch.linalg.solve(q + eye, q - eye)
    return max(float((a + a.T).abs().max()), float((cayley(a) - q).abs().max()))


@conjecture(families=["orthogonal", "rotation"], n=(1, 16), tol=1e-9, examples=20,
            expected="falsified", kind="theorem", reference=SHC)
def spectral_sphere_mixing_preserves_the_stream_mean(m):
    """sHC's spectral-sphere mixing (||M||_2 = 1, signed entries allowed) conserves the mean
    across streams: 1^T M = 1^T.

    The source says the alternative *loses* mean preservation; read as the claim a user would
    make for it, the search finds the smallest counterexample (an orthogonal 1 x 1 map
    ``[-1]``, or any rotation of two streams). ``||M||_2 = 1`` itself holds. Returns
    ``max_j |sum_i M_ij - 1|``. (The identity-degeneration half of claim 38 — learned
    Birkhoff mixing drifting to I — needs training and is not encoded.)
    """
    return float((m.dense().sum(0) - 1).abs().max())


def sum_preserving_orthogonal(m) -> torch.Tensor:
    """An orthogonal ``Q`` with ``Q 1 = 1`` built from the example: ``U diag(1, R) U^T`` with
    ``U`` an orthonormal basis whose first vector is ``1 / sqrt(n)`` and ``R`` the orthogonal
    factor of the example's lower-right ``(n - 1) x (n - 1)`` block."""
    n = m.n
    start = torch.eye(n, dtype=torch.float64)
    start[:, 0] = 1.0
    basis, _ = torch.linalg.qr(start)
    r, upper = torch.linalg.qr(m.dense()[1:, 1:])
    r = r * torch.sign(torch.diagonal(upper)).where(torch.diagonal(upper) != 0,
                                                   torch.ones(n - 1, dtype=torch.float64))
    block = torch.eye(n, dtype=torch.float64)
    block[1:, 1:] = r
    return basis @ block @ basis.T


@conjecture(families=["orthogonal"], n=(2, 16), tol=1e-9, examples=20, expected="falsified",
            kind="theorem", reference=GAINS)
def signed_row_sum_gain_bounds_the_infinity_norm(m):
    """A signed-row-sum gain max_i |sum_j M_ij| <= 1 bounds the true infinity norm max_i
    sum_j |M_ij| <= 1, for orthogonal mixings too.

    The two conventions agree for nonnegative M only. For an orthogonal Q, ``||Q 1||^2 = n``
    forces every signed row sum to be ±1 when they are all <= 1 in modulus — so the case is
    the orthogonal mixings that conserve the stream sum (``Q 1 = 1``, signed gain exactly 1),
    built here from the example (:func:`sum_preserving_orthogonal`). Believed false: from
    n = 3 on such a Q has negative entries and infinity norm > 1 (n = 2 gives only I and the
    swap). Returns ``max_i sum_j |Q_ij| - 1`` (the signed gain is 1 by construction).
    """
    q = sum_preserving_orthogonal(m)
    return float(q.abs().sum(1).max()) - 1.0
