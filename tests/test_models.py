"""Models of ``entangled.nn``: identity skips give exactly the standard residual model (checked
against plain functional references written here), entangled skips apply the right ``M_l``,
building is deterministic, and bad arguments are rejected with clear errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

import entangled as E
from entangled.errors import EntangledError
from entangled.nn import (ARCHITECTURES, CNNConfig, EntangledSkip, SkipSpec, SpatialSkip,
                          build_model, config_for)
from entangled.nn.vit import patchify
from entangled.properties import product_matrix

SHAPES = {"cnn": (1, 8, 8), "vit": (1, 8, 8), "transformer": (12, 3), "rnn": (10, 3)}
SMALL = {"cnn": {"width": 6, "depth": 3}, "vit": {"dim": 8, "depth": 2, "heads": 2},
         "transformer": {"dim": 8, "depth": 2, "heads": 2}, "rnn": {"hidden": 6}}


def make(arch, family="identity", params=None, seed=0, spatial=False, shape=None, **config):
    model = build_model(arch, input_shape=shape or SHAPES[arch], output_dim=5,
                        skip=SkipSpec(family, params or {}, seed=3, spatial=spatial),
                        config={**SMALL[arch], **config}, seed=seed)
    return model.double()


def batch(arch, n=7, seed=1, shape=None):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, *(shape or SHAPES[arch]), generator=gen, dtype=torch.float64)


def randomise_norms(model, seed=2):
    """Give BatchNorm/LayerNorm non-trivial affine parameters and running statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                module.weight.copy_(1 + 0.3 * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(0.3 * torch.randn(module.bias.shape, generator=gen))
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(0.5 * torch.randn(module.running_mean.shape,
                                                            generator=gen))
                module.running_var.copy_(0.5 + torch.rand(module.running_var.shape,
                                                          generator=gen))


# ----------------------------------------------------------------------------- references
def ref_cnn(model, x, training):
    """Pre-activation ResNet written out with functional ops and ``h + f(h)``."""
    sd = dict(model.named_parameters()) | dict(model.named_buffers())

    def bn(h, name):
        return F.batch_norm(h, sd[name + ".running_mean"].clone(),
                            sd[name + ".running_var"].clone(), sd[name + ".weight"],
                            sd[name + ".bias"], training=training, eps=1e-5)

    h = F.conv2d(x, sd["stem.weight"], padding=1)
    for l in range(model.config.depth):
        p = f"residual_blocks.{l}.branch."
        a = F.conv2d(F.relu(bn(h, p + "bn1")), sd[p + "conv1.weight"], padding=1)
        a = F.conv2d(F.relu(bn(a, p + "bn2")), sd[p + "conv2.weight"], padding=1)
        h = h + a
    pooled = F.relu(bn(h, "bn_out")).mean(dim=(2, 3))
    return F.linear(pooled, sd["head.weight"], sd["head.bias"])


def ref_encoder(model, tokens):
    """Pre-LN Transformer encoder with explicit attention and ``h + f(h)``."""
    sd = dict(model.named_parameters())
    c = model.config

    def ln(h, name):
        return F.layer_norm(h, (c.dim,), sd[name + ".weight"], sd[name + ".bias"])

    def lin(h, name):
        return F.linear(h, sd[name + ".weight"], sd[name + ".bias"])

    h = lin(tokens, "token_embed") + sd["pos"]
    batch_size, length, _ = h.shape
    head_dim = c.dim // c.heads
    for layer in range(c.depth):
        p = f"residual_blocks.{2 * layer}.branch."
        q, k, v = lin(ln(h, p + "ln"), p + "qkv").split(c.dim, dim=-1)
        out = torch.zeros_like(h)
        for head in range(c.heads):
            sl = slice(head * head_dim, (head + 1) * head_dim)
            weights = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2)
                                    / math.sqrt(head_dim), dim=-1)
            out[..., sl] = weights @ v[..., sl]
        h = h + lin(out, p + "proj")
        p = f"residual_blocks.{2 * layer + 1}.branch."
        h = h + lin(F.gelu(lin(ln(h, p + "ln"), p + "fc1")), p + "fc2")
    return lin(ln(h, "ln_out").mean(dim=1), "head")


def ref_patches(x, patch):
    """Row-major patches, each flattened channel-major, by explicit slicing."""
    batch_size, channels, height, width = x.shape
    rows = []
    for i in range(0, height, patch):
        for j in range(0, width, patch):
            rows.append(x[:, :, i:i + patch, j:j + patch].reshape(batch_size, -1))
    return torch.stack(rows, dim=1)


def ref_rnn(model, x):
    """Residual RNN ``h_{t+1} = h_t + tanh(W_h LN(h_t) + W_x x_t + b)`` from ``h_0 = 0``
    (``W_h h_t`` without the LayerNorm for the ``cell_norm=False`` ablation)."""
    sd = dict(model.named_parameters())
    h = torch.zeros(x.shape[0], model.config.hidden, dtype=x.dtype)
    for t in range(x.shape[1]):
        branch_in = h
        if model.config.cell_norm:
            branch_in = F.layer_norm(h, (model.config.hidden,), sd["residual_blocks.0.branch.norm.weight"],
                                     sd["residual_blocks.0.branch.norm.bias"])
        pre = (F.linear(branch_in, sd["residual_blocks.0.branch.recurrent.weight"])
               + F.linear(x[:, t], sd["input_proj.weight"], sd["input_proj.bias"]))
        h = h + torch.tanh(pre)
    h = F.layer_norm(h, (model.config.hidden,), sd["ln_out.weight"], sd["ln_out.bias"])
    return F.linear(h, sd["head.weight"], sd["head.bias"])


# ----------------------------------------------------------------------------- identity = standard
@pytest.mark.parametrize("training", [False, True])
def test_identity_cnn_is_a_preactivation_resnet(training):
    model = make("cnn")
    randomise_norms(model)
    x = batch("cnn")
    model.train(training)
    expected = ref_cnn(model, x, training)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-12)


def test_identity_vit_is_a_standard_vit():
    model = make("vit")
    randomise_norms(model)
    x = batch("vit")
    torch.testing.assert_close(patchify(x, 2), ref_patches(x, 2), rtol=0, atol=0)
    torch.testing.assert_close(model(x), ref_encoder(model, ref_patches(x, 2)),
                               rtol=0, atol=1e-12)


def test_identity_transformer_is_a_standard_encoder():
    model = make("transformer")
    randomise_norms(model)
    x = batch("transformer")
    torch.testing.assert_close(model(x), ref_encoder(model, x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell_norm", [True, False])
def test_identity_rnn_is_a_standard_residual_rnn(cell_norm):
    model = make("rnn", cell_norm=cell_norm)
    assert isinstance(model.cell.branch.norm, torch.nn.LayerNorm) == cell_norm
    randomise_norms(model)
    x = batch("rnn")
    torch.testing.assert_close(model(x), ref_rnn(model, x), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- entangled skips
def dense_along(matrix, h, axis):
    """``M`` applied along ``axis`` with a dense einsum (reference for the structured skips)."""
    moved = h.movedim(axis, -1)
    return (moved @ matrix.T.to(h.dtype)).movedim(-1, axis)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("family,params", [("permutation", {}), ("orthogonal", {}),
                                           ("sparse", {"density": 0.3, "strength": 0.5})])
def test_entangled_model_applies_m_l_of_block_l(arch, family, params):
    model = make(arch, family, params)
    x = batch(arch)
    for l, block in enumerate(model.residual_blocks):
        expected = E.make_mapping(family, block.mapping.n, seed=3 + l, **params)
        torch.testing.assert_close(block.mapping.matrix(), expected.matrix(), rtol=0, atol=0)
        assert isinstance(block.skip, EntangledSkip)
        assert not any(True for _ in block.skip.parameters())  # fixed, not trained
    axis = 1 if arch == "cnn" else -1
    h = model.embed(x)
    for block, context in model.applications(x):
        h = dense_along(block.mapping.matrix(), h, axis) + block.branch(h, *context)
    torch.testing.assert_close(model(x), model.readout(h), rtol=0, atol=1e-12)
    assert not torch.allclose(model(x), make(arch)(x))  # the mapping changes the function


def test_spatial_cnn_skip_is_kronecker_product_on_positions():
    model = make("cnn", "circulant", {"bandwidth": 1.5}, spatial=True)
    x = batch("cnn")
    h = model.embed(x)
    skip = model.residual_blocks[1].skip
    assert isinstance(skip, SpatialSkip)
    m8 = E.make_mapping("circulant", 8, bandwidth=1.5).matrix()
    kron = torch.kron(m8, m8)
    torch.testing.assert_close(skip.mapping.matrix(), kron, rtol=0, atol=1e-15)
    flat = h.reshape(h.shape[0], h.shape[1], 64)
    expected = (flat @ kron.T).reshape(h.shape)
    torch.testing.assert_close(skip(h), expected, rtol=1e-10, atol=1e-12)
    assert skip.use_kron  # 64 positions: one dense matmul; the per-axis path gives the same
    skip.use_kron = False
    torch.testing.assert_close(skip(h), expected, rtol=1e-10, atol=1e-12)
    # a permutation along positions moves pixels, never mixes channels
    perm = make("cnn", "permutation", spatial=True).residual_blocks[0].skip
    ph, pw = perm.along_h.mapping.matrix(), perm.along_w.mapping.matrix()
    assert torch.equal(ph, E.make_mapping("permutation", 8, seed=3).matrix())
    torch.testing.assert_close(perm(h), dense_along(pw, dense_along(ph, h, 2), 3),
                               rtol=0, atol=0)
    perm.use_kron = False
    torch.testing.assert_close(perm(h), dense_along(pw, dense_along(ph, h, 2), 3),
                               rtol=0, atol=0)


def test_run_traces_every_application_and_lesion_keeps_only_the_skip():
    model = make("vit", "orthogonal")
    x = batch("vit")
    run = model.run(x)
    assert len(run.applications) == model.num_applications == 4
    torch.testing.assert_close(run.outputs, model(x), rtol=0, atol=0)
    for l, app in enumerate(run.applications):
        assert app.index == l
        torch.testing.assert_close(app.output, app.skip + app.branch, rtol=0, atol=0)
        torch.testing.assert_close(app.skip, dense_along(model.residual_blocks[l]
                                                         .mapping.matrix(), app.input, -1))
    all_dropped = model.run(x, drop=range(4))
    product = product_matrix(model.application_mappings())
    torch.testing.assert_close(all_dropped.hL, dense_along(product, all_dropped.h0, -1))
    assert all(app.branch is None for app in all_dropped.applications)


@pytest.mark.parametrize("arch,expected", [("cnn", 3), ("vit", 4), ("transformer", 4),
                                           ("rnn", 10)])
def test_shapes_and_number_of_applications(arch, expected):
    model = make(arch, "rotation", {"theta": 0.3})
    x = batch(arch)
    assert model(x).shape == (7, 5)
    assert model.num_applications == expected == len(model.application_mappings())
    loss = model(x).square().mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in model.parameters())


def test_vit_accepts_patches_and_transformer_options():
    model = make("vit", shape=(16, 4))
    assert model(batch("vit", shape=(16, 4))).shape == (7, 5)
    causal = make("transformer", causal=True, pool="last")
    x = batch("transformer")
    z = x.clone()
    z[:, 0] += 1.0  # the first token still reaches the last one
    assert not torch.allclose(causal(x), causal(z))
    h0 = causal.embed(x)
    h1 = causal.run_stack(h0, x)
    h0[:, -1] += 1.0
    h2 = causal.run_stack(h0, x)
    torch.testing.assert_close(h1[:, :-1], h2[:, :-1], rtol=0, atol=0)  # no look-ahead


# ----------------------------------------------------------------------------- determinism, devices
def test_build_is_deterministic_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = build_model("vit", input_shape=(1, 8, 8), output_dim=10, seed=5)
    b = build_model("vit", input_shape=(1, 8, 8), output_dim=10, seed=5)
    c = build_model("vit", input_shape=(1, 8, 8), output_dim=10, seed=6)
    assert torch.equal(torch.get_rng_state(), state)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert not torch.equal(a.state_dict()["token_embed.weight"],
                           c.state_dict()["token_embed.weight"])


def test_model_is_dtype_agnostic_and_skips_are_buffers():
    model = build_model("cnn", input_shape=(1, 8, 8), output_dim=3,
                        skip=SkipSpec("orthogonal"), config={"width": 4, "depth": 1})
    names = dict(model.named_buffers())
    assert "residual_blocks.0.skip.matrix" in names
    assert "residual_blocks.0.skip.matrix" not in dict(model.named_parameters())
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert model(x).dtype == torch.float32
    out64 = model.double()(x.double())
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), model.float()(x), rtol=1e-4, atol=1e-5)


def test_config_for_defaults_and_overrides():
    assert config_for("cnn") == CNNConfig()
    assert config_for("cnn", {"width": 24}).width == 24
    assert config_for("vit").patch == 2 and config_for("rnn").hidden == 64
    assert model_description_is_plain()


def model_description_is_plain():
    import json

    model = build_model("rnn", input_shape=(5, 2), output_dim=3,
                        skip=SkipSpec("sparse", {"density": 0.2}, seed=4))
    description = json.loads(json.dumps(model.describe()))
    return (description["skip"] == {"family": "sparse", "params": {"density": 0.2}, "seed": 4,
                                    "spatial": False}
            and description["num_applications"] == 5)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call,message", [
    (lambda: build_model("mlp", input_shape=(1, 8, 8), output_dim=2), "cnn, vit, transformer, rnn"),
    (lambda: build_model("cnn", input_shape=(64,), output_dim=2), "image shape (C, H, W)"),
    (lambda: build_model("rnn", input_shape=(1, 8, 8), output_dim=2), "sequence shape (T, D_in)"),
    (lambda: build_model("rnn", input_shape=(0, 3), output_dim=2), "positive integers"),
    (lambda: build_model("cnn", input_shape=(1, 8, 8), output_dim=0), "output_dim"),
    (lambda: config_for("cnn", {"widht": 3}), "fields of CNNConfig: width, depth"),
    (lambda: config_for("vit", {"dim": 30, "heads": 4}), "a divisor of dim=30"),
    (lambda: config_for("transformer", {"pool": "max"}), "'mean', 'last'"),
    (lambda: config_for("cnn", {"depth": 2.5}), "invalid depth=2.5"),
    (lambda: build_model("vit", input_shape=(1, 8, 8), output_dim=2, config={"patch": 3}),
     "divisor of the image height 8"),
    (lambda: build_model("vit", input_shape=(1, 8, 8), output_dim=2,
                         skip=SkipSpec("circulant", spatial=True)), "CNN only"),
    (lambda: build_model("cnn", input_shape=(1, 8, 8), output_dim=2, skip=SkipSpec("nope")),
     "identity"),
    (lambda: build_model("cnn", input_shape=(1, 8, 8), output_dim=2,
                         skip=SkipSpec("sparse", {"density": 2.0})), "density"),
])
def test_bad_arguments_raise_clear_value_errors(call, message):
    with pytest.raises(EntangledError, match=None) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)
