"""Probe your own residual module: ``entangled probe tests/probe_user_example.py:my_block``.

A factory takes no arguments and returns ``(block, sample_input)`` or a dict with the keys

* ``block`` — the module (``y = block(x)``, same shape as ``x``) and ``input`` — a sample ``x``;
* ``streams`` / ``dim`` / ``layout`` — ``n`` streams of width ``d`` and where they sit in ``x``
  (``"... s d"``, ``"... f"``, ``"(b s) ... d"``, ``"b f ..."``; see :mod:`entangled.theory.probe`);
* ``silence`` — name of the submodule whose output a hook sets to zero (the residual branch);
* ``exposed`` — the mixing matrix the module claims to apply (``y_i = sum_j H_ij x_j``), or a
  function ``(block, x) -> matrix`` that reads it;
* ``perturb`` — ``block -> block`` moving the mixing parameters away from the identity.
"""

import torch
from torch import nn


class MyStreamMixer(nn.Module):
    """n residual streams mixed by a Sinkhorn-projected matrix: y = (H ⊗ I_d) x + F(x)."""

    def __init__(self, streams=4, dim=32, iters=20):
        super().__init__()
        self.logits = nn.Parameter(torch.eye(streams) + 0.3 * torch.randn(streams, streams))
        self.iters = iters
        self.branch = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU())

    def mixing(self):
        p = self.logits.exp()
        for _ in range(self.iters):
            p = p / p.sum(dim=1, keepdim=True)      # rows
            p = p / p.sum(dim=0, keepdim=True)      # columns
        return p

    def forward(self, x):                            # x: (batch, streams, dim)
        return torch.einsum("ij,bjd->bid", self.mixing(), x) + self.branch(x)


def perturb(block):
    with torch.no_grad():
        block.logits.add_(torch.randn_like(block.logits))
    return block


def my_block():
    torch.manual_seed(0)
    return {
        "block": MyStreamMixer(),
        "input": torch.randn(2, 4, 32),
        "streams": 4,
        "silence": "branch",
        "exposed": lambda block, x: block.mixing(),
        "perturb": perturb,
    }


def my_block_one_iteration():
    """The same block with a single Sinkhorn iteration: columns sum to 1, rows only roughly."""
    spec = my_block()
    spec["block"].iters = 1
    return spec
