"""Metrics of ``entangled.metrics`` on cases with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import entangled as E
from entangled import metrics
from entangled.errors import EntangledError
from entangled.nn import EntangledModel, EntangledSkip, ResidualBlock, SkipSpec, build_model
from entangled.properties import composite_gain, product_matrix


def gen(seed):
    return torch.Generator().manual_seed(seed)


def make(arch, family="identity", shape=None, **config):
    shapes = {"cnn": (1, 8, 8), "vit": (1, 8, 8), "transformer": (8, 3), "rnn": (12, 3)}
    small = {"cnn": {"width": 4, "depth": 3}, "vit": {"dim": 8, "heads": 2},
             "transformer": {"dim": 8, "heads": 2}, "rnn": {"hidden": 6}}
    model = build_model(arch, input_shape=shape or shapes[arch], output_dim=4,
                        skip=SkipSpec(family, seed=1), config={**small[arch], **config})
    x = torch.randn(32, *(shape or shapes[arch]), generator=gen(7))
    y = torch.randint(0, 4, (32,), generator=gen(8))
    return model.double(), x.double(), y


def zero_branch_outputs(block, model=None):
    """Zero the last layer of a branch so that ``f(h) = 0`` exactly (for the RNN cell
    ``tanh(W_h h + W_x x + b)`` pass the model: its input projection is zeroed too)."""
    branch = block.branch
    if model is not None and hasattr(model, "input_proj"):
        with torch.no_grad():
            model.input_proj.weight.zero_()
            model.input_proj.bias.zero_()
    with torch.no_grad():
        for name in ("conv2", "proj", "fc2", "recurrent"):
            layer = getattr(branch, name, None)
            if layer is not None:
                layer.weight.zero_()
                if layer.bias is not None:
                    layer.bias.zero_()


# ----------------------------------------------------------------------------- CKA
def numpy_cka(X, Y):
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    return (np.linalg.norm(Y.T @ X, "fro") ** 2
            / (np.linalg.norm(X.T @ X, "fro") * np.linalg.norm(Y.T @ Y, "fro")))


def test_cka_hand_computed_tiny_example():
    # centred x = (-1, 0, 1), y = (-5/3, -2/3, 7/3): (y.x)^2 / (|x|^2 |y|^2) = 16 / (2 * 26/3)
    X = np.array([[0.0], [1.0], [2.0]])
    Y = np.array([[0.0], [1.0], [4.0]])
    assert metrics.linear_cka(X, Y) == pytest.approx(12 / 13, abs=1e-14)
    assert numpy_cka(X, Y) == pytest.approx(12 / 13, abs=1e-14)


@pytest.mark.parametrize("n,p,q", [(40, 5, 7), (6, 20, 30)])  # feature and Gram code paths
def test_cka_golden_value_against_numpy_formula(n, p, q):
    rng = np.random.default_rng(123)
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, q)) + 0.5 * rng.standard_normal((n, q))
    expected = numpy_cka(X, Y)
    assert 0.05 < expected < 0.999
    assert metrics.linear_cka(torch.from_numpy(X), torch.from_numpy(Y)) == pytest.approx(
        expected, rel=1e-12)
    assert metrics.linear_cka(X, Y) == pytest.approx(metrics.linear_cka(Y, X), rel=1e-12)


def test_cka_is_one_under_orthogonal_maps_and_invariant_to_scaling():
    X = torch.randn(50, 6, generator=gen(0), dtype=torch.float64)
    Q = torch.linalg.qr(torch.randn(6, 6, generator=gen(1), dtype=torch.float64)).Q
    assert metrics.linear_cka(X, X @ Q) == pytest.approx(1.0, abs=1e-12)
    Y = torch.randn(50, 3, generator=gen(2), dtype=torch.float64)
    base = metrics.linear_cka(X, Y)
    assert base < 0.5
    assert metrics.linear_cka(3.7 * X, Y) == pytest.approx(base, rel=1e-12)
    assert metrics.linear_cka(X, 0.01 * Y + 5.0) == pytest.approx(base, rel=1e-12)


def test_cka_degenerate_and_bad_inputs():
    X = torch.randn(10, 3, generator=gen(0), dtype=torch.float64)
    assert np.isnan(metrics.linear_cka(X, torch.ones(10, 2)))
    with pytest.raises(EntangledError, match="same number of examples"):
        metrics.linear_cka(X, X[:5])
    with pytest.raises(EntangledError, match="2-D array"):
        metrics.linear_cka(X[0], X[0])


def test_cka_between_blocks_is_one_for_zero_branches_with_orthogonal_skips():
    model, x, _ = make("vit", "orthogonal")
    for block in model.residual_blocks:
        zero_branch_outputs(block)
    values = metrics.cka_between_blocks(model, x)
    assert len(values) == 4
    np.testing.assert_allclose(values, 1.0, atol=1e-12)


# ----------------------------------------------------------------------------- refinement
class Refiner(nn.Module):
    """``f(h) = -c (h - t)``: with ``L = 1/2 ||h + f(h) - t||^2`` the gradient at ``h_1`` is
    ``(1 - c)(h - t)``, so ``cos(f, dL/dh_1) = -sign(1 - c)`` and ``||f|| / ||h|| = |c| ||h -
    t|| / ||h||``."""

    def __init__(self, c, target):
        super().__init__()
        self.c = c
        self.register_buffer("target", target)

    def forward(self, h):
        return -self.c * (h - self.target)


class OneBlock(EntangledModel):
    arch = "toy"

    def __init__(self, c, target):
        super().__init__(config=None, skip_spec=SkipSpec(), input_shape=(3,), output_dim=3)
        self.residual_blocks = nn.ModuleList([
            ResidualBlock(EntangledSkip(E.make_mapping("identity", 3)), Refiner(c, target))])
        self.scale = nn.Parameter(torch.ones((), dtype=torch.float64))

    def embed(self, x):
        return x * self.scale

    def readout(self, h):
        return h


def squared_error(outputs, y):
    return 0.5 * ((outputs - y) ** 2).sum()


@pytest.mark.parametrize("c,sign", [(0.3, -1.0), (-0.5, 1.0), (1.5, 1.0)])
def test_refinement_cosine_sign_and_ratio_on_constructed_branch(c, sign):
    target = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    x = torch.randn(5, 3, generator=gen(3), dtype=torch.float64)
    y = target.expand(5, 3)
    result = metrics.refinement(OneBlock(c, target), x, y, loss_fn=squared_error)
    assert result["cosine"] == [pytest.approx(sign, abs=1e-12)]
    expected_ratio = abs(c) * torch.linalg.norm(x - target) / torch.linalg.norm(x)
    assert result["ratio"] == [pytest.approx(float(expected_ratio), rel=1e-12)]


def test_refinement_matches_retained_gradients_on_a_real_model():
    model, x, y = make("transformer", "permutation")
    result = metrics.refinement(model, x, y)
    model.eval()
    run = model.run(x)
    for app in run.applications:
        app.output.retain_grad()
    nn.functional.cross_entropy(run.outputs, y).backward()
    for app, cosine, ratio in zip(run.applications, result["cosine"], result["ratio"]):
        f = app.branch.detach().reshape(32, -1)
        g = app.output.grad.reshape(32, -1)
        expected = nn.functional.cosine_similarity(f, g, dim=1).mean()
        assert cosine == pytest.approx(float(expected), rel=1e-9)
        assert ratio == pytest.approx(float(f.norm() / app.skip.detach().norm()), rel=1e-12)


# ----------------------------------------------------------------------------- zero branch, lesion
@pytest.mark.parametrize("arch,block", [("cnn", 1), ("vit", 2), ("transformer", 3)])
def test_zero_branch_has_ratio_zero_and_its_lesion_changes_nothing(arch, block):
    model, x, y = make(arch, "sparse")
    zero_branch_outputs(model.residual_blocks[block], model)
    apps = [block]
    ratios = metrics.refinement(model, x, y)["ratio"]
    assert ratios[block] == 0.0
    assert all(r > 0 for i, r in enumerate(ratios) if i != block)
    baseline = metrics.accuracy(model.eval()(x), y)
    lesioned = metrics.lesion(model, x, y, applications=apps)
    assert lesioned == [baseline]
    # and the lesioned network computes exactly the same outputs
    with torch.no_grad():
        torch.testing.assert_close(model.run(x, drop=apps).outputs, model(x), rtol=0, atol=0)


def test_lesion_of_a_live_branch_matches_explicit_computation_and_rnn_subsampling():
    model, x, y = make("cnn", "orthogonal")
    model.eval()
    with torch.no_grad():
        h = model.embed(x)
        for l, block in enumerate(model.residual_blocks):
            h = block.skip(h) if l == 1 else block(h)
        expected = metrics.accuracy(model.readout(h), y)
    assert metrics.lesion(model, x, y, applications=[1]) == [expected]
    rnn, xs, ys = make("rnn", shape=(40, 2))
    assert metrics.default_lesion_applications(rnn) == sorted(
        {round(v) for v in np.linspace(0, 39, 16)})
    assert len(metrics.lesion(rnn, xs, ys)) == 16
    with pytest.raises(EntangledError, match="indices in"):
        metrics.lesion(rnn, xs, ys, applications=[40])


# ----------------------------------------------------------------------------- Jacobian
@pytest.mark.parametrize("arch,max_dim", [("cnn", 10_000), ("cnn", 100), ("vit", 10_000),
                                          ("vit", 40), ("rnn", 512)])
def test_orthogonal_skips_with_zero_branches_have_unit_jacobian_singular_values(arch, max_dim):
    model, x, _ = make(arch, "orthogonal")
    for block in model.residual_blocks:
        zero_branch_outputs(block)
    values = metrics.jacobian_singular_values(model, x, example=3, max_dim=max_dim)
    size = model.embed(x[:1]).numel()
    assert len(values) == size if max_dim >= size else 0 < len(values) <= max_dim
    torch.testing.assert_close(values, torch.ones_like(values), rtol=0, atol=1e-6)


def test_jacobian_of_zero_branch_stack_is_the_product_of_the_skips():
    # RNN with W_h = 0: f(h_t, x_t) does not depend on h_t, so dh_T/dh_0 = M^T exactly
    model, x, _ = make("rnn", "circulant", shape=(5, 2))
    zero_branch_outputs(model.residual_blocks[0])
    m = model.residual_blocks[0].mapping.matrix()
    expected = torch.linalg.svdvals(torch.linalg.matrix_power(m, 5))
    torch.testing.assert_close(metrics.jacobian_singular_values(model, x), expected,
                               rtol=1e-10, atol=1e-12)
    assert float(expected.min()) < 0.9  # a non-trivial spectrum


def test_reverse_jacobian_is_known_and_equals_jacrev_to_the_last_bit():
    from entangled.nn.transformer import explicit_attention

    a = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.5, -1.0]], dtype=torch.float64)
    x = torch.tensor([0.3, -0.7], dtype=torch.float64)
    # f(x) = tanh(A x) * [1, 1, 0] + [0, 0, 5]: J = diag(1 - tanh(A x)^2, masked) A, last row 0
    mask = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)

    def f(v):
        return torch.tanh(a @ v) * mask + torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)

    expected = ((1 - torch.tanh(a @ x) ** 2) * mask)[:, None] * a
    torch.testing.assert_close(metrics.reverse_jacobian(f, x), expected, rtol=1e-14, atol=0)
    assert torch.equal(metrics.reverse_jacobian(lambda v: torch.ones(2) * 3, x),
                       torch.zeros(2, 2))  # outputs that do not depend on x
    for arch in ("cnn", "vit", "transformer", "rnn"):
        model, xs, _ = make(arch, "orthogonal")
        model, xi = model.float(), xs[:1].float()
        start = model.embed(xi).detach()
        h0 = start.reshape(-1)

        def stack(values, model=model, shape=start.shape, xi=xi):
            return model.run_stack(values.reshape(shape), xi).reshape(-1)

        with metrics.evaluating(model), explicit_attention(model):
            ours = metrics.reverse_jacobian(stack, h0)
            theirs = torch.func.jacrev(stack)(h0)
        assert torch.equal(ours, theirs), arch


def test_a_snapshot_does_not_import_torch_dynamo():
    """jacrev imports torch._dynamo on first use (1-2 s, more under load); the snapshot
    avoids it (a training run imports it anyway: torch.optim does, once per process)."""
    import subprocess
    import sys

    code = ("import sys, torch\n"
            "from entangled.metrics import snapshot\n"
            "from entangled.nn import SkipSpec, build_model\n"
            "model = build_model('transformer', input_shape=(6, 3), output_dim=4,\n"
            "    skip=SkipSpec('orthogonal'), config={'dim': 8, 'depth': 1, 'heads': 2})\n"
            "values = snapshot(model, torch.randn(5, 6, 3), torch.arange(5) % 4)\n"
            "assert len(values['jacobian_singular_values']) == 48\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=600)
    assert out.stdout.strip() == "False"


def test_jacobian_coordinates_keep_whole_mixing_groups():
    model, _, _ = make("cnn")
    coords = metrics.jacobian_coordinates(model, (4, 8, 8), max_dim=40)
    assert len(coords) == 40  # 10 positions x all 4 channels
    positions = coords % 64
    assert all((positions == p).sum() == 4 for p in positions.unique())
    assert metrics.jacobian_coordinates(model, (4, 8, 8), max_dim=256) is None


# ----------------------------------------------------------------------------- gradients, gain
def test_gradient_norms_match_backward_and_leave_grad_untouched():
    model, x, y = make("cnn", "permutation")
    model.eval()
    nn.functional.cross_entropy(model(x), y).backward()
    expected = [float(torch.sqrt(sum((p.grad ** 2).sum() for p in b.branch.parameters())))
                for b in model.residual_blocks]
    grads = [p.grad.clone() for p in model.parameters()]
    assert metrics.gradient_norms(model) == pytest.approx(expected, rel=1e-12)
    assert metrics.gradient_norms(model, x, y) == pytest.approx(expected, rel=1e-10)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    model.zero_grad(set_to_none=True)
    assert metrics.gradient_norms(model) == [0.0, 0.0, 0.0]


def test_skip_gain_identity_orthogonal_and_rnn():
    assert metrics.skip_gain(make("vit")[0]) == {"forward": 1.0, "backward": 1.0}
    cnn = make("cnn", "orthogonal")[0]
    matrices = [E.make_mapping("orthogonal", 4, seed=1 + l).matrix() for l in range(3)]
    product = (matrices[2] @ matrices[1] @ matrices[0]).abs()
    gain = metrics.skip_gain(cnn)
    assert gain["forward"] == pytest.approx(float(product.sum(1).max()), rel=1e-12)
    assert gain["backward"] == pytest.approx(float(product.sum(0).max()), rel=1e-12)
    assert gain["forward"] > 1.0
    rnn = make("rnn", "rotation")[0]
    power = torch.linalg.matrix_power(rnn.residual_blocks[0].mapping.matrix(), 12).abs()
    assert metrics.skip_gain(rnn)["forward"] == pytest.approx(float(power.sum(1).max()))


# ----------------------------------------------------------------------------- snapshot
@pytest.mark.parametrize("arch", ["cnn", "vit", "transformer", "rnn"])
def test_snapshot_is_plain_json_and_leaves_the_model_unchanged(arch):
    model, x, y = make(arch, "circulant", **({"depth": 2} if arch == "cnn" else {}))
    model.train()
    model.residual_blocks[0].branch.eval()  # a mixed mode must be restored as it was
    nn.functional.cross_entropy(model(x[:4]), y[:4]).backward()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    rng = torch.get_rng_state()
    snap = metrics.snapshot(model, x, y)
    assert [m.training for m in model.modules()] == modes
    text = json.dumps(snap, allow_nan=False)
    assert json.loads(text) == snap
    assert set(snap) >= {"refinement_ratio", "refinement_cosine", "lesion_accuracy", "cka",
                         "jacobian_singular_values", "gradient_norms", "skip_gain",
                         "accuracy", "loss"}
    L = model.num_applications
    assert len(snap["refinement_ratio"]) == len(snap["refinement_cosine"]) == len(snap["cka"]) == L
    assert len(snap["lesion_accuracy"]) == len(snap["lesion_applications"]) == min(L, 16)
    assert len(snap["gradient_norms"]) == len(model.residual_blocks)
    assert set(snap["skip_gain"]) == {"forward", "backward"}
    assert snap["skip_gain"]["forward"] == pytest.approx(
        composite_gain(model.application_mappings())[0])
    with torch.no_grad():
        model.eval()
        assert snap["accuracy"] == metrics.accuracy(model(x), y)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert torch.equal(torch.get_rng_state(), rng)


def test_snapshot_modes_restored_without_touching():
    model, x, y = make("cnn")
    model.train()
    running = model.residual_blocks[0].branch.bn1.running_mean.clone()
    metrics.snapshot(model, x, y)
    assert model.training and model.residual_blocks[0].branch.bn1.training
    assert torch.equal(model.residual_blocks[0].branch.bn1.running_mean, running)


def test_product_matrix_used_by_skip_gain_is_ordered_first_to_last():
    model = make("transformer", "permutation")[0]
    maps = model.application_mappings()
    expected = maps[3].matrix() @ maps[2].matrix() @ maps[1].matrix() @ maps[0].matrix()
    torch.testing.assert_close(product_matrix(maps), expected, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("arch", ["cnn", "vit", "transformer", "rnn"])
def test_models_and_snapshot_run_on_cuda(arch):
    model, x, y = make(arch, "sparse")
    cpu = metrics.snapshot(model, x, y)
    model.cuda()
    assert all(b.is_cuda for b in model.buffers())
    gpu = metrics.snapshot(model, x.cuda(), y.cuda())
    assert gpu["accuracy"] == cpu["accuracy"]
    # None marks an undefined ratio (the RNN's first step, where h_0 = 0); as floats it is NaN.
    np.testing.assert_allclose(np.asarray(gpu["refinement_ratio"], dtype=float),
                               np.asarray(cpu["refinement_ratio"], dtype=float), rtol=1e-6)
    np.testing.assert_allclose(gpu["jacobian_singular_values"],
                               cpu["jacobian_singular_values"], rtol=1e-6, atol=1e-9)
