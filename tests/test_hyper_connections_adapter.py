"""The hyper-connections adapter reads the Sinkhorn projection of every release layout: the
block's ``residual_mix_constraint_fn`` (0.4) or its module's ``sinkhorn_knopps`` (0.3), and
refuses a projection that is not n x n with the release named. Stand-in modules play the two
layouts, so these run without the package; tests/test_probe.py runs the installed release."""

import sys
import types

import pytest
import torch
from torch import nn

from entangled.errors import InvalidParameterError
from entangled.theory.adapters.hyper_connections import mhc_mixing_matrix

N = 3
A = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.4, 0.1, 0.5]], dtype=torch.float64)


def sinkhorn_knopps(logits, iters=20):
    """Stand-in projection: the fixed A for every position, shaped like the logits."""
    return A.expand(*logits.shape[:-2], N, N).clone()


def stand_in_module(name, *, with_attribute, projection):
    """A module defining a block class, in the 0.4 (attribute) or 0.3 (module function) layout."""
    module = types.ModuleType(name)
    module.sinkhorn_knopps = projection

    class Block(nn.Module):
        num_residual_streams = N

        def __init__(self):
            super().__init__()
            self.logits = nn.Parameter(torch.zeros(N, N, dtype=torch.float64))
            if with_attribute:
                self.residual_mix_constraint_fn = projection

        def forward(self, x):                      # x: (positions, N, d)
            project = self.residual_mix_constraint_fn if with_attribute else module.sinkhorn_knopps
            mixing = project(self.logits.expand(x.shape[0], N, N))
            return torch.einsum("pst,psd->ptd", mixing, x)   # y_t = sum_s A_st x_s

    Block.__module__ = name
    module.Block = Block
    return module


@pytest.mark.parametrize("with_attribute", [True, False], ids=["0.4 layout", "0.3 layout"])
def test_the_recorded_projection_is_returned_in_the_applied_orientation(with_attribute, monkeypatch):
    module = stand_in_module("fake_hc", with_attribute=with_attribute, projection=sinkhorn_knopps)
    monkeypatch.setitem(sys.modules, "fake_hc", module)
    block = module.Block()
    x = torch.randn(2, N, 4, dtype=torch.float64)
    torch.testing.assert_close(mhc_mixing_matrix(block, x), A.T, atol=0, rtol=0)
    # the wrapped function is restored after the measurement
    assert (block.residual_mix_constraint_fn if with_attribute else module.sinkhorn_knopps) is sinkhorn_knopps


def test_a_projection_of_another_shape_is_refused_naming_it(monkeypatch):
    def column_projection(logits, iters=20):       # 0.3.0 projected (streams x 1) columns
        return torch.ones(*logits.shape[:-1], 1, dtype=logits.dtype)

    module = stand_in_module("fake_hc_old", with_attribute=False, projection=column_projection)
    monkeypatch.setitem(sys.modules, "fake_hc_old", module)
    with pytest.raises(InvalidParameterError, match=r"n x n = 3 x 3 .*projects shape \(2, 3, 1\)"):
        mhc_mixing_matrix(module.Block(), torch.randn(2, N, 4, dtype=torch.float64))


def test_a_block_without_any_projection_is_refused(monkeypatch):
    module = types.ModuleType("fake_hc_none")

    class Block(nn.Module):
        num_residual_streams = N

    Block.__module__ = "fake_hc_none"
    monkeypatch.setitem(sys.modules, "fake_hc_none", module)
    with pytest.raises(InvalidParameterError, match="residual_mix_constraint_fn or a module-level"):
        mhc_mixing_matrix(Block(), torch.zeros(1, N, 2))
