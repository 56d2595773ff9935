"""Multi-stream residual blocks for the probe tests: one correct, one broken per bug class.

Each block holds ``n`` streams of width ``d`` as input ``(batch, n, d)`` (layout ``"... s d"``)
and computes a mixing matrix ``H`` from logits ``W`` (identity-like at init):

* :class:`SinkhornMixer` — correct: ``H = SK_200(exp W)`` (rows, then columns normalised, 200
  times, float64: doubly stochastic to rounding), ``y = (H ⊗ I_d) x + F(x)``;
* :class:`ForgotToApply` — computes ``H`` (and reports it) but returns ``x + F(x)``;
* :class:`WrongAxis` — normalises over the wrong axis: ``H = softmax(W, dim=0)``, so
  ``H`` is column-stochastic (``sum_i H_ij = 1``) but not row-stochastic, one pass only;
* :class:`DetachedSkip` — the right forward value ``(H ⊗ I_d) x``, computed on ``x.detach()``:
  no gradient flows through the skip;
* :class:`Stateful` — adds a running mean of past inputs (a buffer updated on every call) to
  the skip: the same input twice gives two outputs;
* :class:`StreamSummation` — mixes with ``H``, then sums the streams back and re-expands them
  (``y_i = sum_j (H x)_j``): the skip is the all-ones matrix, gain ``n``;
* ``unsilenced`` — the correct block given as a bare ``(block, x)`` tuple: the probe measures
  the whole block.

Factories return probe specs for ``entangled probe tests/probe_fixtures.py:NAME``.
"""

from __future__ import annotations

import torch
from torch import nn

STREAMS, WIDTH = 4, 8


def sinkhorn(logits: torch.Tensor, iters: int) -> torch.Tensor:
    """``iters`` alternating row / column normalisations of ``exp(logits)`` (log domain)."""
    log_p = logits
    for _ in range(iters):
        log_p = log_p - torch.logsumexp(log_p, dim=1, keepdim=True)
        log_p = log_p - torch.logsumexp(log_p, dim=0, keepdim=True)
    return log_p.exp()


class StreamMixer(nn.Module):
    """Base: logits ``W`` (n x n), a tanh branch per stream, ``mixing()`` returns ``H``."""

    def __init__(self, streams: int = STREAMS, width: int = WIDTH, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.logits = nn.Parameter(2.0 * torch.eye(streams)
                                   + 0.5 * torch.randn(streams, streams, generator=generator))
        self.branch = nn.Sequential(nn.Linear(width, width), nn.Tanh())

    def mixing(self) -> torch.Tensor:
        raise NotImplementedError

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ij,...jd->...id", self.mixing().to(x.dtype), x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(x) + self.branch(x)


class SinkhornMixer(StreamMixer):
    """Correct: doubly stochastic ``H`` applied to the streams."""

    def mixing(self) -> torch.Tensor:
        return sinkhorn(self.logits, 200)


class ForgotToApply(SinkhornMixer):
    """Broken: computes the doubly stochastic ``H`` but the skip is the identity."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.last_mixing = self.mixing()          # computed ... and never used
        return x + self.branch(x)


class WrongAxis(StreamMixer):
    """Broken: softmax over columns (dim 0) instead of Sinkhorn: column- not row-stochastic."""

    def mixing(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=0)


class DetachedSkip(SinkhornMixer):
    """Broken: the skip's forward value is right but it is cut from autograd."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(x.detach()) + self.branch(x)


class Stateful(SinkhornMixer):
    """Broken: a buffer of past inputs (updated on every call) leaks into the skip."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_buffer("memory", torch.zeros(WIDTH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mix(x) + self.memory.to(x.dtype) + self.branch(x)
        with torch.no_grad():
            self.memory.mul_(0.9).add_(0.1 * x.detach().mean(dim=tuple(range(x.ndim - 1)))
                                       .to(self.memory.dtype))
        return y


class StreamSummation(SinkhornMixer):
    """Broken: after mixing, the n streams are summed back and copied out again (gain n)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.mix(x).sum(dim=-2, keepdim=True)
        return total.expand_as(x) + self.branch(x)


def perturb_logits(block: StreamMixer, seed: int = 7) -> StreamMixer:
    """Add seeded N(0, 1) noise to the mixing logits (in place)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        block.logits.add_(torch.randn(tuple(block.logits.shape), generator=generator,
                                      dtype=block.logits.dtype))
    return block


def _spec(block: StreamMixer) -> dict:
    x = torch.randn(2, STREAMS, WIDTH, generator=torch.Generator().manual_seed(3),
                    dtype=torch.float64)
    return {
        "block": block,
        "input": x,
        "streams": STREAMS,
        "silence": "branch",
        "exposed": lambda b, _x: b.mixing().detach(),
        "perturb": perturb_logits,
        "source": type(block).__name__,
    }


def correct_mixer() -> dict:
    return _spec(SinkhornMixer())


def forgot_to_apply() -> dict:
    return _spec(ForgotToApply())


def wrong_axis() -> dict:
    return _spec(WrongAxis())


def detached_skip() -> dict:
    return _spec(DetachedSkip())


def stateful() -> dict:
    return _spec(Stateful())


def stream_summation() -> dict:
    return _spec(StreamSummation())


def unsilenced():
    """The correct block as a bare ``(block, input)`` tuple: no branch silenced."""
    spec = _spec(SinkhornMixer())
    return spec["block"], spec["input"]


BROKEN = ("detached_skip", "stateful", "stream_summation", "forgot_to_apply", "wrong_axis",
          "unsilenced")
