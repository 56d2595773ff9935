"""Sinkhorn-Knopp as a module-level function (the layers import it by name)."""

import torch


def sinkhorn_knopp(logits: torch.Tensor, iters: int = 20, tau: float = 1.0) -> torch.Tensor:
    """``iters`` row-then-column normalisations of ``exp(logits / tau)`` (log domain); the
    result's columns sum to 1 exactly, its rows approximately."""
    log_p = logits / tau
    for _ in range(iters):
        log_p = log_p - torch.logsumexp(log_p, dim=-1, keepdim=True)
        log_p = log_p - torch.logsumexp(log_p, dim=-2, keepdim=True)
    return log_p.exp()
