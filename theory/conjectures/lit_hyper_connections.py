"""Literature ledger: Hyper-Connections, Zhu et al., arXiv 2409.19606 (claims 3-4).

.. math:: x_{l+1} = H^{res}_l x_l + H^{post\\,T}_l F(H^{pre}_l x_l)

with ``n`` streams. The real ``hyper-connections`` package is probed in the README
("Probing your own residual module"); the conjectures here check the algebra.
"""

from __future__ import annotations

import torch

from entangled.mappings.sinkhorn import sinkhorn_log
from entangled.properties import composite_gain
from entangled.theory import conjecture

HC = "Zhu et al., Hyper-Connections, arXiv 2409.19606"
STREAMS = 4
HC_DEPTH = 64


def hc_layer(streams: torch.Tensor, h_res: torch.Tensor, h_pre: torch.Tensor,
             h_post: torch.Tensor, branch) -> torch.Tensor:
    """One HC layer on ``streams`` of shape ``(n, d)``: ``H_res x + H_post^T F(H_pre x)``."""
    return h_res @ streams + h_post.unsqueeze(1) * branch(h_pre @ streams).unsqueeze(0)


@conjecture(families=["dense"], tol=1e-12, n=(1, 16), reference=HC + " §2.2 (initialisation)",
            kind="theorem", examples=10)
def hc_initialisation_is_a_plain_residual(m):
    """At its initialisation HC reduces to an ordinary (pre-norm) residual connection.

    With the paper's initialisation ``H_res = I``, ``H_pre = e_k^T`` (stream ``k = l mod n``),
    ``H_post = 1`` and the streams expanded as ``n`` copies of ``h``, every stream after the
    layer equals ``h + F(h)``. Checked with ``F(h) = tanh(M h)`` for the sampled dense ``M``
    (width ``d = m.n``, ``n = 4`` streams); returns ``max |x'_i - (h + F(h))|``.
    """
    d = m.n
    generator = torch.Generator().manual_seed(m.seed)
    h = torch.randn(d, generator=generator, dtype=torch.float64)
    weight = m.dense()

    def branch(v):
        return torch.tanh(weight @ v)

    streams = h.expand(STREAMS, d).clone()
    h_pre = torch.zeros(STREAMS, dtype=torch.float64)
    h_pre[0] = 1.0
    out = hc_layer(streams, torch.eye(STREAMS, dtype=torch.float64), h_pre,
                   torch.ones(STREAMS, dtype=torch.float64), branch)
    return float((out - (h + branch(h))).abs().max())


@conjecture(families=["identity"], tol=1e-9, n=(1, 8), expected="falsified",
            reference=HC + " §2.2, transferred to mHC (arXiv 2512.24880) as implemented in "
                           "hyper-connections 0.4", kind="theorem")
def mhc_initialisation_is_identity_skip(m):
    """Sharpened transfer of claim 3 to mHC: identity logits projected by 20 Sinkhorn
    iterations give the identity skip, SK_20(exp(I)) = I (max deviation <= 1e-9).

    Not a claim of the mHC paper: it is what "HC reduces to a residual at init" would need
    when ``H_res`` is Sinkhorn-projected from identity logits, as in the ``hyper-connections``
    package. Believed false: ``exp(I)`` has diagonal ``e`` and off-diagonal 1, already doubly
    stochastic after scaling, so
    ``SK(exp(I)) = ((e - 1) I + J) / (e + n - 1) != I`` for ``n >= 2`` (``n = 2``: diagonal
    ``e / (e + 1) = 0.731``). The probe of ``hyper_connections.mHC`` at init in the README
    measures exactly this matrix.
    """
    skip = sinkhorn_log(m.dense(), 20).exp()
    return float((skip - torch.eye(m.n, dtype=torch.float64)).abs().max())


@conjecture(families=["orthogonal"], n=(STREAMS, STREAMS), reference=HC + "; reproduction "
            "in the mHC paper arXiv 2512.24880 (composite gain ~1e16 at depth 64)",
            kind="empirical", examples=10)
def unconstrained_composite_gain_explodes(m):
    """With unconstrained H_res the composite skip over depth amplifies without bound: 64
    layers of N(0, 1) 4x4 mixing matrices give a composite Amax gain >= 1e10.

    The source reports gains of order 1e16 at depth 64 for ``N(0, 1)`` mixing logits used
    directly as ``H_res``. The sampled mapping only supplies a seed: the 64 ``N(0, 1)``
    matrices are drawn from it. The top Lyapunov exponent of 4x4 Gaussian products,
    ``(log 2 + psi(2)) / 2 = 0.558`` per layer, predicts ``e^{35.7} = 3e15``; the bound
    ``1e10`` leaves room for the seed-to-seed spread. Returns whether the gain (max of the
    forward and backward Amax) reaches 1e10.
    """
    from entangled.mappings.dense import DenseMapping

    generator = torch.Generator().manual_seed(m.seed)
    layers = [DenseMapping(STREAMS, matrix=torch.randn(STREAMS, STREAMS, generator=generator,
                                                        dtype=torch.float64).tolist())
              for _ in range(HC_DEPTH)]
    return max(composite_gain(layers)) >= 1e10
