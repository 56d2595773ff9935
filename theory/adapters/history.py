"""A generic adapter for history-mixing skips ``skip(x, history) -> x + sum_k a_k h_k``.

Some mHC-style packages mix a sliding window of the last ``K`` states instead of ``n``
parallel streams. Seen as a map of the state window ``(h_1, ..., h_K)`` (oldest first) to the
next window, one layer is

.. math:: (h_1, \\dots, h_K) \\mapsto (h_2, \\dots, h_K,\\ F(h_K) + \\textstyle\\sum_k a_k h_k),

so with the branch ``F`` silenced the stream map is a companion matrix: a shift, with the
mixing weights as its last row. :class:`HistoryWindow` wraps any module with the signature
``skip(x, history)`` into that ``K``-stream block (input ``(batch, K, d)``, layout
``"... s d"``), with a ``Linear`` branch named ``branch`` for ``--silence branch``.
"""

from __future__ import annotations

import torch
from torch import nn


class HistoryWindow(nn.Module):
    """``(B, K, d) -> (B, K, d)``: shift the window and append ``skip(branch(h_K), window)``."""

    def __init__(self, skip: nn.Module, dim: int, seed: int = 0):
        super().__init__()
        self.skip = skip
        generator = torch.Generator().manual_seed(seed)
        self.branch = nn.Linear(dim, dim)
        with torch.no_grad():
            self.branch.weight.copy_(torch.randn(dim, dim, generator=generator) / dim ** 0.5)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        history = list(window.unbind(dim=1))
        new = self.skip(self.branch(history[-1]), history)
        return torch.cat([window[:, 1:], new.unsqueeze(1)], dim=1)
