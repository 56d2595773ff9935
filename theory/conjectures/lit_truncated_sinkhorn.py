"""Literature ledger: truncated Sinkhorn in the 2026 successors (claims 31, 37, 44, 45).

The ``sinkhorn`` family is ``SK_K(exp(W / tau))`` with rows, then columns normalised ``K``
times (the paper's formula: the columns are exact). :meth:`SinkhornMapping.matrix_in` computes
the same projection in another dtype or from other logits, e.g. the published initialisation
(:func:`~entangled.mappings.sinkhorn.published_default_logits`: 0 on the diagonal, -8 off it, at
temperature 0.05). Several claims here are checked in float64 **and** float32
(``dtypes=``): a number that is float32 rounding shows up as a claim that holds in one dtype
and fails in the other.
"""

from __future__ import annotations

import statistics

import torch
from hypothesis import strategies as st

from entangled.mappings.sinkhorn import published_default_logits
from entangled.theory import conjecture

MHC = "Xie et al. (DeepSeek), mHC, arXiv 2512.24880"
LITE = "mHC-lite, arXiv 2601.05732"
CIRCULANT_HC = "circulant-HC write-up, github contactsebi/circulant-hyper-connections"
SCALES = (1.0, 3.0, 6.0)
REPORTED = (4e-7, 4e-3, 4e-2)
DRAWS = 7
DEPTH = 64
BOTH = ["float64", "float32"]


def row_gap(matrix: torch.Tensor) -> float:
    """``max_i |sum_j M_ij - 1|`` in float64 (the gap left in the rows by a column-last
    Sinkhorn)."""
    return float((matrix.to(torch.float64).sum(1) - 1).abs().max())


def batched_sinkhorn(log_p: torch.Tensor, iters: int) -> torch.Tensor:
    """:func:`~entangled.mappings.sinkhorn.sinkhorn_log` over the last two axes of a batch
    (rows, then columns, ``iters`` times), exponentiated."""
    for _ in range(iters):
        log_p = log_p - torch.logsumexp(log_p, dim=-1, keepdim=True)
        log_p = log_p - torch.logsumexp(log_p, dim=-2, keepdim=True)
    return log_p.exp()


def composite_gaps(seeds: list[int], scale: float, dtype: torch.dtype, n: int = 4,
                   depth: int = DEPTH, iters: int = 20) -> list[float]:
    """For each seed: mean ``|row sum - 1|`` of ``prod_l SK_iters(exp(scale W_l))`` over
    ``depth`` layers, ``W_l ~ N(0, 1)`` drawn from the seed, everything computed in
    ``dtype``."""
    logits = torch.stack([torch.randn(depth, n, n, generator=torch.Generator().manual_seed(s),
                                      dtype=torch.float64) for s in seeds])
    layers = batched_sinkhorn((scale * logits).to(dtype), iters)       # (seeds, depth, n, n)
    product = torch.eye(n, dtype=dtype).expand(len(seeds), n, n)
    for layer in range(depth):
        product = layers[:, layer] @ product
    return (product.to(torch.float64).sum(-1) - 1).abs().mean(-1).tolist()


def median_composite_gaps(m, dtype: torch.dtype) -> list[float]:
    """Median over :data:`DRAWS` draws (seeded by the example's seed) of the composite gap of
    :func:`composite_gaps`, one per logit scale of :data:`SCALES` (L = 64, 20 iterations)."""
    seeds = [m.seed * DRAWS + k for k in range(DRAWS)]
    return [statistics.median(composite_gaps(seeds, scale, dtype, n=m.n)) for scale in SCALES]


@conjecture(families=["sinkhorn"], params={"iters": 20, "temperature": 1.0}, n=(2, 8),
            examples=20, expected="falsified", kind="empirical",
            reference=CIRCULANT_HC + "; " + MHC + " (error grows with the logit scale)")
def truncated_sinkhorn_gap_grows_with_logit_scale_for_every_matrix(m):
    """Read literally: for every logit matrix W, the row gap of 20-iteration Sinkhorn of
    exp(s W) grows with the logit scale s = 1, 3, 6.

    Believed false for single matrices: the gap depends on how the last iterations happen to
    balance, and for some W the gap at a larger scale is smaller (about 7% of draws at
    n = 2..8 in float64). The claim holds for the typical gap
    (:func:`truncated_sinkhorn_median_gap_grows_with_logit_scale`). Returns whether
    ``gap(1) <= gap(3) <= gap(6)`` (float64).
    """
    w = m.logits()
    gaps = [row_gap(m.matrix_in(torch.float64, logits=s * w)) for s in SCALES]
    return gaps[0] <= gaps[1] <= gaps[2]


@conjecture(families=["sinkhorn"], params={"iters": 20, "temperature": 1.0}, n=(4, 4),
            examples=3, dtypes=BOTH, kind="empirical",
            reference=CIRCULANT_HC + "; " + LITE + " (error grows with scale and depth)")
def truncated_sinkhorn_median_gap_grows_with_logit_scale(m, dtype):
    """The typical composite gap of 20-iteration Sinkhorn (n = 4, L = 64) grows with the
    logit scale: its median over 7 draws strictly increases from scale 1 to 3 to 6, in float64
    and in float32.

    Returns whether ``median(1) < median(3) < median(6)``.
    """
    low, mid, high = median_composite_gaps(m, dtype)
    return low < mid < high


@conjecture(families=["sinkhorn"], params={"iters": 20, "temperature": 1.0}, n=(4, 4),
            examples=3, dtypes=BOTH, expected={"float64": "falsified", "float32": "holds"},
            kind="empirical",
            reference=CIRCULANT_HC + " (reported: n = 4, L = 64, composite errors ~4e-7, "
                                     "~4e-3, ~4e-2 at logit scales 1, 3, 6)")
def reported_composite_gaps_at_logit_scales_1_3_6(m, dtype):
    """The composite gap of 20-iteration Sinkhorn (n = 4, L = 64, N(0, s^2) logits) is about
    4e-7, 4e-3 and 4e-2 at scales s = 1, 3, 6: each median over 7 draws within a factor 10.

    Holds in float32 and is falsified in float64: at scale 1 the truncation gap itself is
    ~1e-11 (float64 medians 4e-11 .. 1e-10), and the reported 4e-7 is float32 rounding
    accumulated over 64 products (float32 medians 2e-7 .. 4e-7). At scales 3 and 6 truncation
    dominates and both dtypes agree. Returns whether every median lies in
    ``[reported / 10, reported * 10]``.
    """
    medians = median_composite_gaps(m, dtype)
    return all(r / 10 <= g <= r * 10 for g, r in zip(medians, REPORTED))


def _published(m, dtype: torch.dtype, logits: torch.Tensor | None = None) -> torch.Tensor:
    w = published_default_logits(m.n) if logits is None else logits
    return m.matrix_in(dtype, logits=w)


@conjecture(families=["sinkhorn"], params={"iters": 20, "temperature": 0.05}, n=(2, 8),
            examples=5, dtypes=BOTH, expected={"float64": "holds", "float32": "falsified"},
            kind="implementation",
            reference="literature ledger claim 37 (Sinkhorn underflow at the published "
                      "defaults: off-diagonal logits -8, temperature 0.05)")
def published_sinkhorn_defaults_are_not_an_exact_permutation(m, dtype):
    """At the published defaults (logits 0 on the diagonal, -8 off it, temperature 0.05) the
    20-iteration Sinkhorn projection keeps every entry positive: it is not an exact
    permutation.

    ``exp(-160) ~ 3e-70``: representable in float64, below float32's smallest subnormal
    (1.4e-45), so in float32 the projection is exactly I. Returns whether the smallest entry
    is > 0.
    """
    return bool(_published(m, dtype).min() > 0)


@conjecture(families=["sinkhorn"], params={"iters": 20, "temperature": 0.05}, n=(2, 8),
            examples=5, tol=0.0, dtypes=BOTH,
            expected={"float64": "holds", "float32": "falsified"}, kind="implementation",
            reference="literature ledger claim 37 (gradient through Sinkhorn at the published "
                      "defaults, in the dtype of use)")
def published_sinkhorn_defaults_gradient_reaches_every_logit(m, dtype):
    """At the published defaults the gradient of 20-iteration Sinkhorn reaches every logit:
    for each W_ij some output entry has a nonzero derivative, in the dtype of use.

    Returns the fraction of logits whose column of the Jacobian ``d SK(W) / d W`` (computed
    by autograd in ``dtype``) is exactly zero: 0 in float64 (derivatives ~6.5e-69), 1 in
    float32 (all of them: the forward pass underflowed).
    """
    w = published_default_logits(m.n).to(dtype)
    jac = torch.autograd.functional.jacobian(lambda x: _published(m, dtype, x), w)
    reach = jac.reshape(m.n * m.n, m.n * m.n).abs().amax(0)
    return float((reach == 0).to(torch.float64).mean())


@conjecture(families=["sinkhorn"], params={"iters": st.integers(1, 30)}, n=(1, 16), tol=1e-12,
            kind="theorem",
            reference=MHC + " (column-last formula) vs row-last implementations "
                            "(which marginal of truncated Sinkhorn is exact)")
def truncated_sinkhorn_last_normalisation_decides_the_exact_marginal(m):
    """Which marginal of truncated Sinkhorn is exact depends on the last normalisation:
    column-last (the paper's formula, this family) has column sums exactly 1, row-last (a
    popular implementation) row sums; the other marginal's gain is >= 1.

    The sums of all row sums and of all column sums are both n, so the inexact marginal's
    largest sum is >= 1: forward gain (max row sum) >= backward gain (max column sum) = 1 for
    column-last, and the reverse for row-last. Returns the largest of the exact marginal's
    error and the amounts by which the inexact marginal's gain falls below 1.
    """
    w = m.logits() / m.params["temperature"]
    column_last = m.dense()
    log_p = w
    for _ in range(m.params["iters"]):
        log_p = log_p - torch.logsumexp(log_p, dim=0, keepdim=True)
        log_p = log_p - torch.logsumexp(log_p, dim=1, keepdim=True)
    row_last = torch.exp(log_p)
    exact = max(float((column_last.sum(0) - 1).abs().max()),
                float((row_last.sum(1) - 1).abs().max()))
    gains = (float(column_last.sum(1).max()), float(row_last.sum(0).max()))
    return max(exact, *(max(0.0, 1.0 - g) for g in gains))


@conjecture(families=["sinkhorn"], params={"iters": 0}, n=(1, 16), tol=1e-12, kind="theorem",
            reference="metamorphic limit of Sinkhorn: t -> 0 iterations (one implementation "
                      "keeps t = 0 on purpose)")
def zero_sinkhorn_iterations_return_the_exponentials(m):
    """t = 0 Sinkhorn iterations return the unnormalised exponentials exp(W / tau): relative
    difference <= 1e-12."""
    expected = torch.exp(m.logits() / m.params["temperature"])
    return float(((m.dense() - expected).abs() / expected).max())


@conjecture(families=["sinkhorn"], params={"iters": 1000, "temperature": st.floats(0.5, 4.0)},
            n=(1, 8), tol=1e-9, examples=10, kind="theorem",
            reference="metamorphic limit of Sinkhorn: t -> infinity converges to the doubly "
                      "stochastic limit (Sinkhorn 1964)")
def many_sinkhorn_iterations_converge_to_doubly_stochastic(m):
    """t -> infinity: 1000 iterations of a positive matrix are doubly stochastic to 1e-9
    (Sinkhorn's theorem; geometric convergence for strictly positive matrices).

    Returns ``max(row error, column error)``.
    """
    h = m.dense()
    return max(float((h.sum(0) - 1).abs().max()), float((h.sum(1) - 1).abs().max()))
