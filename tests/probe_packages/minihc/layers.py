"""Residual layers of minihc. Inputs are ``(batch, num_streams, dim)`` unless said otherwise."""


import torch
from torch import nn

from minihc.config import HCConfig
from minihc.sinkhorn import sinkhorn_knopp


def _mixing_logits(config: HCConfig) -> nn.Parameter:
    n = config.num_streams
    logits = torch.full((n, n), float(config.init_offdiag))
    logits.fill_diagonal_(0.0)
    return nn.Parameter(logits + config.init_noise * torch.randn(n, n))


class SinkhornMixer(nn.Module):
    """``y = (H ⊗ I) x + F(x)``, ``H = sinkhorn_knopp(logits)`` (correct)."""

    def __init__(self, config: HCConfig):
        super().__init__()
        self.config = config
        self.logits = _mixing_logits(config)
        self.branch = nn.Sequential(nn.Linear(config.dim, config.dim), nn.Tanh())

    def mixing(self) -> torch.Tensor:
        return sinkhorn_knopp(self.logits, self.config.sinkhorn_iters, self.config.tau)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mixing()
        return torch.einsum("ij,bjd->bid", h.to(x.dtype), x) + self.branch(x)


class TransposedSinkhornMixer(SinkhornMixer):
    """Bug: applies ``H^T`` (the einsum indices swapped). ``H^T`` is column-stochastic only
    approximately, so only the exposed matrix — the module-level function's output — shows it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.mixing()
        return torch.einsum("ji,bjd->bid", h.to(x.dtype), x) + self.branch(x)


class PublishedSinkhornMixer(SinkhornMixer):
    """The published defaults: off-diagonal logits -8, temperature 0.05 (correct in float64;
    in float32 ``exp(-160)`` underflows and no gradient reaches the logits)."""

    def __init__(self, config: HCConfig | None = None):
        config = config or HCConfig(init_offdiag=-8.0, tau=0.05, init_noise=0.0)
        super().__init__(config)


class TupleBlock(nn.Module):
    """Returns ``(hidden, aux_loss)``, as mixture-of-experts blocks do; the skip is ``H``."""

    def __init__(self, config: HCConfig):
        super().__init__()
        self.inner = SinkhornMixer(config)

    def forward(self, x: torch.Tensor):
        hidden = self.inner(x)
        return hidden, hidden.pow(2).mean()


class HistoryMix(nn.Module):
    """mHC over a window of previous states: ``x_{l+1} = f(x_l) + sum_k alpha_k h_k``,
    ``alpha = softmax(logits)`` on the simplex, identity-like at init (the latest state)."""

    def __init__(self, max_history: int = 4):
        super().__init__()
        self.max_history = max_history
        logits = torch.full((max_history,), -10.0)
        logits[-1] = 0.0
        self.mixing_logits = nn.Parameter(logits)

    def forward(self, x: torch.Tensor, history: list[torch.Tensor]) -> torch.Tensor:
        window = history[-self.max_history:]
        alphas = torch.softmax(self.mixing_logits[-len(window):], dim=-1)
        mixed = sum(alpha * state for alpha, state in zip(alphas, window))
        return x + mixed


class ScalarGatedBlock(nn.Module):
    """``y = alpha x + F(x)`` with a learnable scalar skip gain (correct; alpha = 0.5)."""

    def __init__(self, dim: int = 8, alpha: float = 0.5):
        super().__init__()
        self.skip_scale = nn.Parameter(torch.tensor(float(alpha)))
        self.branch = nn.Sequential(nn.Linear(dim, dim), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip_scale * x + self.branch(x)


class PostActivationBlock(nn.Module):
    """``y = relu(x + F(x))``: the original ResNet block, a ReLU after the sum (correct)."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.branch = nn.Sequential(nn.Linear(dim, dim), nn.Tanh())
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.branch(x))


class CachedSkipBlock(SinkhornMixer):
    """Bug: an incremental-decoding cache. The first call stores the mixed streams; later calls
    reuse the stored tensor (detached) instead of mixing the new input, so the skip is lost from
    the second call on. The same input twice still gives the same output."""

    def __init__(self, config: HCConfig):
        super().__init__(config)
        self.cache = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cache is None:
            mixed = torch.einsum("ij,bjd->bid", self.mixing().to(x.dtype), x)
            self.cache = mixed.detach()
        else:
            mixed = self.cache.to(x.dtype)
        return mixed + self.branch(x)
