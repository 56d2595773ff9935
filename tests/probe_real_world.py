"""Factories for the README's real-world probe runs on history-mixing mHC packages.

``entangled probe tests/probe_real_world.py:NAME`` (the package must be importable). The
package's module is used as published; :class:`entangled.theory.adapters.history.HistoryWindow` only
presents its ``skip(x, history)`` call as a ``K``-stream block.
"""

import torch

from entangled.theory.adapters.history import HistoryWindow

WINDOW, WIDTH = 4, 8


def _input():
    return torch.randn(2, WINDOW, WIDTH, generator=torch.Generator().manual_seed(1))


def mhc_matrix_skip():
    """``mhc.layers.matrix_skip.MatrixMHCSkip``: a K x K Sinkhorn-projected mixing matrix."""
    from mhc.layers.matrix_skip import MatrixMHCSkip

    torch.manual_seed(0)
    return {"block": HistoryWindow(MatrixMHCSkip(max_history=WINDOW), WIDTH), "input": _input(),
            "streams": WINDOW, "silence": "branch", "perturb": "mixing_logits",
            "source": "mhc 0.5.5 MatrixMHCSkip(max_history=4) in a history window"}


def mhc_simplex_skip():
    """``mhc.MHCSkip`` (mode "mhc", simplex constraint): scalar weights on the history."""
    from mhc import MHCSkip

    torch.manual_seed(0)
    return {"block": HistoryWindow(MHCSkip(max_history=WINDOW), WIDTH), "input": _input(),
            "streams": WINDOW, "silence": "branch", "perturb": "mixing_logits",
            "source": "mhc 0.5.5 MHCSkip(max_history=4) in a history window"}
