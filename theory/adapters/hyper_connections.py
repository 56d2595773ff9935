"""Adapter for the ``hyper-connections`` package's manifold-constrained hyper-connections (mHC).

Install with ``pip install "hyper-connections>=0.3"`` (the project's ``probe`` extra). ``mHC``
works with every release from 0.3.0 on; ``mHCv2`` needs 0.4. Releases differ in where the
Sinkhorn projection is computed: 0.4 calls the block's ``residual_mix_constraint_fn``, 0.3
calls the module-level ``sinkhorn_knopps`` (or ``log_domain_sinkhorn_knopps``); the adapter
records whichever the installed release calls.

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

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, cast

import torch
from torch import nn

from entangled.errors import InvalidParameterError
from entangled.theory.probe import ZeroBranch

VERSIONS = ("v1", "v2")


#: Module-level Sinkhorn functions of releases before 0.4 (no ``residual_mix_constraint_fn``).
MODULE_SINKHORN_FUNCTIONS = ("sinkhorn_knopps", "log_domain_sinkhorn_knopps")


def installed_version() -> str:
    """The installed ``hyper-connections`` release (``"unknown"`` without its metadata)."""
    from importlib import metadata

    try:
        return metadata.version("hyper-connections")
    except metadata.PackageNotFoundError:
        return "unknown"


def _module_class(version: str):
    if version == "v1":
        from hyper_connections.manifold_constrained_hyper_connections import (
            ManifoldConstrainedHyperConnections,
        )
    elif version == "v2":
        try:
            from hyper_connections.mHCv2 import ManifoldConstrainedHyperConnections
        except ImportError:
            raise InvalidParameterError(
                "version", version, f"'v1' with hyper-connections {installed_version()} "
                "(mHCv2 needs hyper-connections >= 0.4)", context="hyper_connections adapter") from None
    else:
        raise InvalidParameterError("version", version, "'v1' (mHC) or 'v2' (mHCv2)",
                                    context="hyper_connections adapter")
    return ManifoldConstrainedHyperConnections


@contextlib.contextmanager
def _recording_mixing(block: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Record every Sinkhorn-projected matrix the block computes while the context is open.

    Wraps ``block.residual_mix_constraint_fn`` (0.4) or, where the block has none, the
    module-level Sinkhorn functions of the block's own module (0.3), restoring them after.
    """
    recorded: list[torch.Tensor] = []

    def recording(function: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def wrapper(*args: Any, **kwargs: Any) -> torch.Tensor:
            out = function(*args, **kwargs)
            recorded.append(out.detach())
            return out
        return wrapper

    if hasattr(block, "residual_mix_constraint_fn"):
        targets: list[tuple[Any, str]] = [(block, "residual_mix_constraint_fn")]
    else:
        module = sys.modules[type(block).__module__]
        targets = [(module, name) for name in MODULE_SINKHORN_FUNCTIONS if hasattr(module, name)]
    if not targets:
        raise InvalidParameterError(
            "block", type(block).__name__, "an mHC block with residual_mix_constraint_fn or a "
            f"module-level sinkhorn_knopps (hyper-connections {installed_version()} has neither)",
            context="mhc_mixing_matrix")
    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]
    for owner, name, function in originals:
        setattr(owner, name, recording(function))
    try:
        yield recorded
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)


def mhc_mixing_matrix(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The ``H_res`` the module computes at input ``x``, first position, applied orientation.

    Runs one forward pass with the Sinkhorn projection wrapped (``residual_mix_constraint_fn``
    in 0.4, the module-level function in 0.3) so that its output (the projected ``A``, shape
    ``(..., n, n)``) is recorded, and returns
    ``A[first position].T`` as float64 — the matrix ``H`` with ``y_i = sum_j H_ij x_j``.
    """
    if getattr(block, "num_fracs", 1) != 1:
        raise InvalidParameterError("num_fracs", block.num_fracs, "1 (frac-connections are not "
                                    "supported by this adapter)", context="mhc_mixing_matrix")
    n = int(cast(Any, block.num_residual_streams))
    with _recording_mixing(block) as recorded, torch.no_grad():
        block(x)
    if not recorded:
        raise RuntimeError("the mHC block never computed its Sinkhorn projection")
    mixing = recorded[-1]
    if tuple(mixing.shape[-2:]) != (n, n):
        raise InvalidParameterError(
            "block", type(block).__name__, f"a block whose Sinkhorn projection is n x n = {n} x {n} "
            f"(hyper-connections {installed_version()} projects shape {tuple(mixing.shape)})",
            context="mhc_mixing_matrix")
    if mixing.ndim >= 4 and mixing.shape[0] > 1:           # several dynamic-alpha proposals
        mixing = mixing.mean(0, keepdim=True)
    return mixing.reshape(-1, n, n)[0].T.to(torch.float64)


def perturb_mixing(block: nn.Module, *, scale: float = 1.0, seed: int = 1) -> nn.Module:
    """Add seeded ``N(0, scale^2)`` noise to the static ``H_res`` logits (in place; returns it).

    The logits are ``static_alpha[:, num_input_views:]`` (identity at init), so the Sinkhorn
    projection moves away from its symmetric initial value.
    """
    generator = torch.Generator().manual_seed(seed)
    views = getattr(block, "num_input_views", 1) * getattr(block, "num_fracs", 1)
    with torch.no_grad():
        logits = cast(torch.Tensor, block.static_alpha)[:, views:]
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
    shape: tuple[int, ...]
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
        "mixing": "static_alpha",
        "source": (f"hyper_connections {'mHC' if version == 'v1' else 'mHCv2'}"
                   f"(streams={streams}, dim={dim}, sinkhorn_iters={sinkhorn_iters}, "
                   f"logit_scale={logit_scale:g}, dynamic_scale={dynamic_scale:g})"),
        "description": "manifold-constrained hyper-connections block, branch silenced",
    }
    if not zero_branch:
        spec["silence"] = "branch"
    return spec
