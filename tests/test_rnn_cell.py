"""The pre-norm RNN cell, its ablation, and the state-scale metrics (norm over time,
saturated pre-activations) against explicit recomputation."""

import math

import pytest
import torch
from torch.nn import functional as F

from entangled import metrics
from entangled.errors import InvalidParameterError
from entangled.nn.models import SkipSpec, build_model


def rnn(family="identity", cell_norm=True, seed=0, hidden=16, steps=20):
    return build_model("rnn", input_shape=(steps, 4), output_dim=6, skip=SkipSpec(family, {}, seed=1),
                       config={"hidden": hidden, "cell_norm": cell_norm}, seed=seed).double()


def one_hot_batch(n=32, steps=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, 4, (n, steps), generator=gen), 4).double()


def explicit_states(model, x):
    """``h_0 = 0``, ``h_{t+1} = M h_t + tanh(z_t)``, ``z_t = W_h N(h_t) + W_x x_t + b``."""
    sd = dict(model.named_parameters())
    matrix = model.cell.mapping.matrix().to(x.dtype)
    h = torch.zeros(x.shape[0], model.config.hidden, dtype=x.dtype)
    states, pre = [h], []
    for t in range(x.shape[1]):
        branch_in = h
        if model.config.cell_norm:
            branch_in = F.layer_norm(h, (model.config.hidden,), sd["residual_blocks.0.branch.norm.weight"],
                                     sd["residual_blocks.0.branch.norm.bias"])
        z = (F.linear(branch_in, sd["residual_blocks.0.branch.recurrent.weight"])
             + F.linear(x[:, t], sd["input_proj.weight"], sd["input_proj.bias"]))
        h = h @ matrix.T + torch.tanh(z)
        states.append(h)
        pre.append(z)
    return states, pre


@pytest.mark.parametrize("family", ["identity", "orthogonal"])
@pytest.mark.parametrize("cell_norm", [True, False])
def test_state_norms_and_saturation_equal_explicit_recomputation(family, cell_norm):
    model, x = rnn(family, cell_norm), one_hot_batch()
    with torch.no_grad():
        states, pre = explicit_states(model, x)
    norms = metrics.state_norms(model, x)
    assert len(norms) == 21
    for got, h in zip(norms, states):
        assert got == pytest.approx(float(h.norm(dim=1).mean()), rel=1e-10, abs=1e-12)
    bound = math.atanh(math.sqrt(0.9))  # tanh'(z) = 1 - tanh(z)^2 < 0.1
    expected = [float((z.abs() > bound).double().mean()) for z in pre]
    assert metrics.saturated_fraction(model, x) == pytest.approx(expected)
    snap = metrics.snapshot(model, x, torch.zeros(32, dtype=torch.long))
    assert snap["state_norms"] == pytest.approx(norms)
    assert snap["saturated_fraction"] == pytest.approx(expected)


def test_pre_norm_cell_keeps_the_identity_rnn_out_of_saturation():
    """The issue's measurement: the un-normalised identity cell grows to |h_20| ~ 100 at
    initialisation with a large saturated fraction; the pre-norm cell does not saturate."""
    x = one_hot_batch(64)
    plain, prenorm = rnn(cell_norm=False, hidden=64), rnn(cell_norm=True, hidden=64)
    plain_sat = sum(metrics.saturated_fraction(plain, x)[10:]) / 10
    pre_sat = sum(metrics.saturated_fraction(prenorm, x)[10:]) / 10
    assert metrics.state_norms(plain, x)[-1] > 60
    assert plain_sat > 0.3 and pre_sat < 0.05


def test_same_seed_gives_same_recurrent_weights_with_or_without_the_norm():
    a, b = rnn(cell_norm=True), rnn(cell_norm=False)
    torch.testing.assert_close(a.cell.branch.recurrent.weight, b.cell.branch.recurrent.weight)
    torch.testing.assert_close(a.input_proj.weight, b.input_proj.weight)


def test_saturation_is_none_for_models_without_tanh_branches_and_checks_threshold():
    cnn = build_model("cnn", input_shape=(1, 8, 8), output_dim=10, skip=SkipSpec(), seed=0)
    x = torch.randn(4, 1, 8, 8)
    assert metrics.saturated_fraction(cnn, x) is None
    assert len(metrics.state_norms(cnn, x)) == cnn.num_applications + 1
    with pytest.raises(InvalidParameterError, match="threshold"):
        metrics.saturated_fraction(rnn(), one_hot_batch(), threshold=1.5)


def test_cell_norm_must_be_a_bool():
    with pytest.raises(ValueError, match="cell_norm"):
        rnn(cell_norm="yes")


def test_gradients_equal_those_of_selecting_each_time_step():
    """The cell reads u_t through ``unbind`` (one stack in the backward) rather than T
    selections ``u[:, t]`` (T zero tensors of u's size, added up): the same gradients, bit
    for bit, in float32 as trained."""
    model = rnn("orthogonal", steps=24).float()
    x = one_hot_batch(steps=24).float()
    y = torch.arange(32) % 6

    def gradients(forward) -> list[torch.Tensor]:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(forward(x), y).backward()
        return [p.grad.clone() for p in model.parameters()]

    def selecting(inputs):
        u = model.input_proj(inputs)
        h = model.embed(inputs)
        for t in range(u.shape[1]):
            h = model.cell(h, u[:, t])
        return model.readout(h)

    for ours, selected in zip(gradients(model), gradients(selecting), strict=True):
        assert torch.equal(ours, selected)
