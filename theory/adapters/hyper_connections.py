"""Adapter for the ``hyper-connections`` package's manifold-constrained hyper-connections (mHC).

Install with ``pip install "hyper-connections>=0.4"`` (the project's ``probe`` extra).

What the module does (``hyper_connections`` 0.4, both ``ManifoldConstrainedHyperConnections``
— exported as ``mHC`` — and ``mHCv2``), for ``n`` streams of width ``d`` at one position:

.. math::
    A &= \\operatorname{SK}_{20}\\big(\\alpha_{static} + s\\,\\bar x W_{dyn}\\big)
         \\quad (n \\times n,\\ \\text{rows index the input stream } s,
         \\text{ columns the output stream } t),\\\\
    y_t &= \\sum_s A_{st}\\, x_s + \\beta_t\\, F\\Big(\\sum_s a_s x_s\\Big),

``SK_K`` being ``K`` Sinkhorn-Knopp iterations in float32 (column then row normalisation of
``exp``), ``\\bar x`` the RMS-normalised input, ``s = residual_scale`` (1e-2 at init). So the
skip map in the probe's orientation ``y_i = sum_j H_ij x_j`` is ``H = A^T``: after the final row
normalisation of ``A`` the **columns** of ``H`` sum to 1 exactly and its rows only approximately.

Layouts: ``mHC`` folds the streams into the batch axis, input ``(b*n, ..., d)`` with the stream
index fastest (layout ``"(b s) ... d"``); ``mHCv2`` takes ``(b, ..., n, d)`` (``"... s d"``).

The branch is silenced by a forward hook on the submodule ``"branch"`` (the block is built with
``branch=nn.Linear(d, d)``), or the block is built around :class:`entangled.theory.probe.ZeroBranch`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from entangled.errors import InvalidParameterError
from entangled.theory.probe import ZeroBranch

VERSIONS = ("v1", "v2")


def _module_class(version: str):
    if version == "v1":
        from hyper_connections.manifold_constrained_hyper_connections import (
            ManifoldConstrainedHyperConnections,
        )
    elif version == "v2":
        from hyper_connections.mHCv2 import ManifoldConstrainedHyperConnections
    else:
        raise InvalidParameterError("version", version, "'v1' (mHC) or 'v2' (mHCv2)",
                                    context="hyper_connections adapter")
    return ManifoldConstrainedHyperConnections


def mhc_mixing_matrix(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The ``H_res`` the module computes at input ``x``, first position, applied orientation.

    Runs one forward pass with ``block.residual_mix_constraint_fn`` wrapped so that its output
    (the Sinkhorn-projected ``A``, shape ``(..., n, n)``) is recorded, and returns
    ``A[first position].T`` as float64 — the matrix ``H`` with ``y_i = sum_j H_ij x_j``.
    """
    if getattr(block, "num_fracs", 1) != 1:
        raise InvalidParameterError("num_fracs", block.num_fracs, "1 (frac-connections are not "
                                    "supported by this adapter)", context="mhc_mixing_matrix")
    n = block.num_residual_streams
    original = block.residual_mix_constraint_fn
    recorded: list[torch.Tensor] = []

    def recording(logits: torch.Tensor) -> torch.Tensor:
        out = original(logits)
        recorded.append(out.detach())
        return out

    block.residual_mix_constraint_fn = recording
    try:
        with torch.no_grad():
            block(x)
    finally:
        block.residual_mix_constraint_fn = original
    if not recorded:
        raise RuntimeError("the mHC block never called residual_mix_constraint_fn")
    mixing = recorded[-1]
    if mixing.ndim >= 4 and mixing.shape[0] > 1:           # several dynamic-alpha proposals
        mixing = mixing.mean(0, keepdim=True)
    return mixing.reshape(-1, n, n)[0].T.to(torch.float64)


def perturb_mixing(block: nn.Module, *, scale: float = 1.0, seed: int = 1) -> nn.Module:
    """Add seeded ``N(0, scale^2)`` noise to the static ``H_res`` logits (in place; returns it).

    The logits are ``static_alpha[:, num_input_views:]`` (identity at init), so the Sinkhorn
    projection moves away from its symmetric initial value.
    """
    generator = torch.Generator().manual_seed(seed)
    views = block.num_input_views * block.num_fracs
    with torch.no_grad():
        logits = block.static_alpha[:, views:]
        noise = torch.randn(tuple(logits.shape), generator=generator, dtype=torch.float64)
        logits.add_((scale * noise).to(logits.dtype))
    return block


def mhc_spec(*, streams: int = 4, dim: int = 16, batch: int = 2, seq: int = 3,
             version: str = "v1", logit_scale: float = 0.0, dynamic_scale: float = 0.0,
             sinkhorn_iters: int = 20, zero_branch: bool = False, seed: int = 0) -> dict:
    """Probe spec of an mHC block from the ``hyper-connections`` package.

    Parameters
    ----------
    streams, dim : int
        ``n`` residual streams of width ``d``.
    batch, seq : int
        Positions of the sample input (``batch * seq`` positions).
    version : {"v1", "v2"}
        ``ManifoldConstrainedHyperConnections`` (layout ``(b s) ... d``) or ``mHCv2``
        (layout ``... s d``).
    logit_scale : float
        Standard deviation of seeded noise added to the static ``H_res`` logits (0: the
        package's initialisation, logits = I). Large values make the Sinkhorn input peaked.
    dynamic_scale : float
        Standard deviation of the input-dependent weights ``dynamic_alpha_fn`` (0 at init):
        ``> 0`` makes ``H_res`` depend on the input, as in a trained model.
    sinkhorn_iters : int
        Passed to the module (package default 20).
    zero_branch : bool
        Silence by construction (:class:`~entangled.theory.probe.ZeroBranch`) instead of a hook.
    seed : int
        Seeds the module's parameters, the perturbations and the sample input.
    """
    cls = _module_class(version)
    torch.manual_seed(seed)
    branch = ZeroBranch() if zero_branch else nn.Linear(dim, dim)
    block = cls(streams, dim=dim, branch=branch, layer_index=0, sinkhorn_iters=sinkhorn_iters)
    generator = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        if logit_scale:
            perturb_mixing(block, scale=logit_scale, seed=seed + 200)
        if dynamic_scale:
            block.dynamic_alpha_fn.copy_(dynamic_scale * torch.randn(
                tuple(block.dynamic_alpha_fn.shape), generator=generator))
    if version == "v1":
        shape, layout = (batch * streams, seq, dim), "(b s) ... d"
    else:
        shape, layout = (batch, seq, streams, dim), "... s d"
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    spec: dict[str, Any] = {
        "block": block,
        "input": x,
        "streams": streams,
        "dim": dim,
        "layout": layout,
        "exposed": mhc_mixing_matrix,
        "perturb": lambda b: perturb_mixing(b, scale=1.0, seed=seed + 300),
        "source": (f"hyper_connections {'mHC' if version == 'v1' else 'mHCv2'}"
                   f"(streams={streams}, dim={dim}, sinkhorn_iters={sinkhorn_iters}, "
                   f"logit_scale={logit_scale:g}, dynamic_scale={dynamic_scale:g})"),
        "description": "manifold-constrained hyper-connections block, branch silenced",
    }
    if not zero_branch:
        spec["silence"] = "branch"
    return spec
