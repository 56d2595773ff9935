"""Literature ledger: Hyper-Connection models in the 2026 successors (claims 40, 41, 42, 47,
48).

Small closed-form models of what the sources describe: the HC hidden matrix of ``n`` streams,
one-stream HC against Pre-/Post-Norm blocks, the Pre-Norm norm growth of Xiong et al. under
entangled skips, the composite gains of a circulant mixing, and two published "identity at
initialisation" schemes re-implemented here and probed. The training half of claim 47 (the loss comparison) is a
suite, ``reports/suites/literature/lit47_stream_lm.toml``.
"""

from __future__ import annotations

import torch

from entangled.properties import composite_gain
from entangled.theory import conjecture
from entangled.theory import symbolic

HC = "Zhu et al., Hyper-Connections, arXiv 2409.19606"
XIONG = "Xiong et al. 2020, On Layer Normalization in the Transformer Architecture"
CHC = "circulant hyper-connections, github contactsebi/circulant-hyper-connections"
IDENTITY_INIT = ("ResFormer 2410.17897, DenseFormer 2402.02622, MUDDFormer 2502.12170, "
                 "LAuReL 2411.07501 (identity at initialisation)")
WIDTH = 16
RANK_RTOL = 1e-9


def numerical_rank(matrix: torch.Tensor) -> int:
    values = torch.linalg.svdvals(matrix)
    return int((values > RANK_RTOL * values.max()).sum()) if float(values.max()) > 0 else 0


@conjecture(families=["dense"], depth=(1, 6), n=(2, 8), tol=0.0, kind="theorem",
            reference=HC + "; low-rank reading of the HC hidden matrix (arXiv 2601.02080)")
def hyper_connection_hidden_rank_grows_by_one_per_layer(mappings):
    """When all n streams start as copies of the embedding, the HC hidden matrix H_l (n x d)
    has rank <= l + 1 after l layers.

    One HC layer: ``H <- A H + b F(a^T H)^T`` with ``A`` the layer's mixing (the examples'
    matrices), ``a, b`` seeded read-in / write-out weights and ``F`` a seeded tanh layer of
    width d = 16. ``H_0 = 1 x^T`` has rank 1 and each layer adds one rank-1 term. (Per-stream
    embeddings start at full rank: the bound is about the copy initialisation.) Returns the
    largest excess of ``rank(H_l)`` over ``min(l + 1, n)``.
    """
    n = mappings[0].n
    generator = torch.Generator().manual_seed(mappings[0].seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    hidden = torch.ones(n, 1, dtype=torch.float64) @ randn(1, WIDTH)
    worst = 0
    for layer, mixing in enumerate(mappings, 1):
        read, write, weight = randn(n), randn(n), randn(WIDTH, WIDTH) / WIDTH ** 0.5
        branch = torch.tanh(weight @ (read @ hidden))
        hidden = mixing.dense() @ hidden + torch.outer(write, branch)
        worst = max(worst, numerical_rank(hidden) - min(layer + 1, n))
    return float(worst)


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    return x / x.pow(2).mean().sqrt()


@conjecture(families=["dense"], n=(1, 16), tol=1e-12, kind="theorem", reference=HC,
            proof=symbolic.prenorm_is_a_hyper_connection())
def prenorm_block_is_a_one_stream_hyper_connection(m):
    """A Pre-Norm block x + F(N(x)) is a Hyper-Connection with n = 1 and fixed unit weights
    (H_res = H_pre = H_post = 1).

    ``F(h) = tanh(W h)`` with ``W`` the example's matrix, ``N`` the RMS norm, ``x`` seeded.
    Returns ``max |x + F(N(x)) - (H_res x + H_post F(N(H_pre x)))|`` at unit weights.
    """
    w = m.dense()
    x = torch.randn(m.n, generator=torch.Generator().manual_seed(m.seed), dtype=torch.float64)
    prenorm = x + torch.tanh(w @ rms_norm(x))
    h_res = h_pre = h_post = 1.0
    hyper = h_res * x + h_post * torch.tanh(w @ rms_norm(h_pre * x))
    return float((prenorm - hyper).abs().max())


@conjecture(families=["dense"], n=(1, 16), tol=1e-9, examples=10, expected="falsified",
            kind="theorem",
            reference=HC + " (Post-Norm as a one-stream HC with fixed weights)")
def postnorm_block_is_a_fixed_weight_hyper_connection(m):
    """A Post-Norm block N(x + F(x)) is a Hyper-Connection with n = 1 and fixed weights:
    y = a x + b F(x) for constants a, b.

    Believed false: the norm makes the weights depend on the input. With a linear branch
    ``F(x) = W x`` the block is scale-invariant, ``y(2x) = y(x)``, while every fixed-weight
    combination doubles; the best common ``(a, b)`` for the inputs ``x`` and ``2x`` leaves a
    relative residual of exactly ``1/sqrt(10) = 0.316`` whatever W and x (one stream: the
    smallest counterexample, n = 1). Returns that residual (least squares over ``a, b``).
    """
    w = m.dense()
    x = torch.randn(m.n, generator=torch.Generator().manual_seed(m.seed), dtype=torch.float64)
    targets, columns = [], []
    for scale in (1.0, 2.0):
        xs = scale * x
        targets.append(rms_norm(xs + w @ xs))
        columns.append(torch.stack([xs, w @ xs], dim=1))
    target, design = torch.cat(targets), torch.cat(columns)
    solution = torch.linalg.lstsq(design, target.unsqueeze(1)).solution
    residual = target - (design @ solution).squeeze(1)
    return float(torch.linalg.norm(residual) / torch.linalg.norm(target))


NETWORKS, LAYERS = 400, 8


def prenorm_growth(m) -> tuple[float, float]:
    """Mean and standard error over 400 seeded networks of ``||h_L||^2 / d`` after L = 8
    Pre-Norm layers ``h <- M h + W_2 relu(W_1 LN(h))`` (``W ~ N(0, 1/d)``, ``h_0 ~ N(0, I)``,
    ``d = n``, ``M`` the example's mapping, LayerNorm without affine)."""
    d = m.n
    generator = torch.Generator().manual_seed(m.seed)
    skip = m.dense()
    h = torch.randn(NETWORKS, d, generator=generator, dtype=torch.float64)
    for _ in range(LAYERS):
        w1 = torch.randn(NETWORKS, d, d, generator=generator, dtype=torch.float64) / d ** 0.5
        w2 = torch.randn(NETWORKS, d, d, generator=generator, dtype=torch.float64) / d ** 0.5
        normed = torch.nn.functional.layer_norm(h, (d,))
        branch = torch.einsum("bij,bj->bi", w2, torch.relu(torch.einsum("bij,bj->bi", w1, normed)))
        h = h @ skip.T + branch
    values = h.pow(2).sum(1) / d
    return float(values.mean()), float(values.std() / NETWORKS ** 0.5)


def _outside_xiong_bounds(m) -> float:
    mean, error = prenorm_growth(m)
    low, high = 1 + LAYERS / 2, 1 + 3 * LAYERS / 2
    slack = 4 * error
    return max(0.0, low - (mean + slack), (mean - slack) - high)


@conjecture(requires=["orthogonal"], n=(2, 12), tol=0.0, examples=8, kind="empirical",
            reference=XIONG)
def prenorm_growth_within_xiong_bounds_for_norm_preserving_skips(m):
    """Pre-Norm hidden-state growth (1 + l/2) d <= E||h_l||^2 <= (1 + 3l/2) d holds for
    identity skips and carries over to every orthogonal skip (norm-preserving skips add the
    branch's energy the same way): every family declared orthogonal is searched.

    Monte Carlo: 400 seeded networks, L = 8, ``d = n`` (LayerNorm needs n >= 2); holds when
    the mean ± 4 standard errors meets the interval. At initialisation the cross term vanishes
    and ``E||h_l||^2 = (1 + l/2) d`` exactly: the lower bound is attained. Returns the
    distance of the interval of the estimate from the bounds.
    """
    return _outside_xiong_bounds(m)


@conjecture(families=["birkhoff"], n=(2, 12), tol=0.0, examples=8, expected="falsified",
            kind="empirical", reference=XIONG + " (asked of doubly stochastic skips)")
def prenorm_growth_within_xiong_bounds_for_doubly_stochastic_skips(m):
    """The Pre-Norm growth bounds (1 + l/2) d <= E||h_l||^2 <= (1 + 3l/2) d carry over to
    doubly stochastic skips.

    Believed false: a doubly stochastic skip contracts every direction orthogonal to 1, so
    the energy the branches add there saturates instead of accumulating, and E||h_8||^2 falls
    below the lower bound (n = 2 with a mixture of I and the swap: about 2.75 d against 5 d).
    Permutations (``k = 1``) are norm-preserving and stay inside. Same estimate as
    :func:`prenorm_growth_within_xiong_bounds_for_norm_preserving_skips`.
    """
    return _outside_xiong_bounds(m)


@conjecture(families=["circulant"], depth=(1, 64), n=(1, 8), tol=1e-9, examples=10,
            kind="theorem", reference=CHC + " (reported composite gains: circulant 1.00/1.00)")
def circulant_composite_gains_are_one(mappings):
    """Circulant mixing keeps the composite forward and backward Amax gains at exactly 1
    (the reported 1.00/1.00), at every depth.

    A product of nonnegative circulant matrices with rows on the simplex is one again: its
    absolute row and column sums are all 1. Returns ``max |gain - 1|`` over both gains.
    """
    forward, backward = composite_gain(list(mappings))
    return max(abs(forward - 1), abs(backward - 1))


class DepthWeightedAverage(torch.nn.Module):
    """DenseFormer's depth-weighted average over the window of the last K states, initialised
    as published: weight 1 on the newest state, 0 on the others (this project's
    re-implementation)."""

    def __init__(self, window: int):
        super().__init__()
        weights = torch.zeros(window, dtype=torch.float64)
        weights[-1] = 1.0
        self.weights = torch.nn.Parameter(weights)

    def forward(self, branch: torch.Tensor, history: list) -> torch.Tensor:
        return branch + sum(w * h for w, h in zip(self.weights, history))


class LowRankAugmentedResidual(torch.nn.Module):
    """LAuReL-LR: ``y = x + F(x) + A B x`` with ``B`` initialised to 0, as published (this
    project's re-implementation; rank 2)."""

    def __init__(self, width: int, rank: int = 2, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.down = torch.nn.Parameter(torch.zeros(rank, width, dtype=torch.float64))
        self.up = torch.nn.Parameter(torch.randn(width, rank, generator=generator,
                                                 dtype=torch.float64))
        self.branch = torch.nn.Linear(width, width, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x) + x @ self.down.T @ self.up.T


@conjecture(families=["identity"], n=(1, 6), tol=1e-12, examples=4, kind="implementation",
            reference=IDENTITY_INIT)
def published_identity_initialisations_start_as_plain_residuals(m):
    """Value-residual and dense-connection variants initialise their mixing so that the block
    starts as a plain residual: probed, DenseFormer's depth-weighted average over a window of
    n states is the window shift with last row e_n, and LAuReL's low-rank residual is I.

    Both modules are re-implemented here from the published initialisations and measured with
    :func:`entangled.theory.probe.probe` (history window; branch silenced). For a user's own
    module: ``entangled probe ... --claims +skip_is_identity``. Returns the largest deviation
    from the plain-residual maps.
    """
    from entangled.theory.probe import probe

    k = m.n
    window = torch.randn(2, k, 4, generator=torch.Generator().manual_seed(3),
                         dtype=torch.float64)
    dwa = probe(DepthWeightedAverage(k), window, streams=k, no_branch=True,
                kind="history-window", call=lambda x: ((torch.zeros_like(x[:, -1]),
                                                        list(x.unbind(1))), {}),
                checks=False).dense()
    shift = torch.diag(torch.ones(k - 1, dtype=torch.float64), 1)
    shift[-1, -1] = 1.0
    laurel = probe(LowRankAugmentedResidual(4, seed=m.seed), torch.randn(2, 4, dtype=torch.float64),
                   silence="branch", checks=False).dense()
    return max(float((dwa - shift).abs().max()),
               float((laurel - torch.eye(4, dtype=torch.float64)).abs().max()))
