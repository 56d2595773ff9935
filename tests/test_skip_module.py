"""EntangledSkip: shapes, buffers, state_dict, dtype/device moves and gradients."""

import hashlib
import json

import pytest
import torch

import entangled as E
from entangled.errors import InvalidParameterError, MappingMismatchError
from entangled.nn import EntangledSkip


@pytest.mark.parametrize("method", ["structured", "auto"])
@pytest.mark.parametrize("family", E.families())
@pytest.mark.parametrize("shape,dim", [((2, 6, 3, 4), 1), ((2, 5, 6), -1), ((3, 6), -1)])
def test_skip_applies_the_mapping_along_dim(family, shape, dim, method):
    mapping = E.make_mapping(family, 6, seed=1)
    skip = EntangledSkip(mapping, dim=dim, method=method).double()
    x = torch.randn(*shape, dtype=torch.float64)
    y = skip(x)
    assert y.shape == x.shape
    expected = torch.movedim(torch.movedim(x, dim, -1) @ mapping.matrix().T, -1, dim)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", E.families())
def test_structure_is_buffers_and_state_dict_round_trips(family):
    mapping = E.make_mapping(family, 5, seed=2)
    skip = EntangledSkip(mapping)
    assert list(skip.parameters()) == []
    state = skip.state_dict()
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    assert json.loads(bytes(state["_extra_state"].tolist()))["mapping"] == mapping.to_dict()
    for buffer in skip.buffers():
        assert buffer.dtype in (torch.float64, torch.int64)  # exact until the module is moved
    skip32 = EntangledSkip(mapping).float()
    assert skip32(torch.randn(3, 5)).dtype == torch.float32
    fresh = EntangledSkip(mapping)
    fresh.load_state_dict(state)
    x = torch.randn(4, 5)
    torch.testing.assert_close(fresh(x), EntangledSkip(mapping)(x))


def extra_state(state: dict) -> dict:
    return json.loads(bytes(state["_extra_state"].tolist()))


def sha256_of_operands(mapping) -> str:
    """The checksum computed independently: name|dtype|shape| then the raw bytes, by name."""
    digest = hashlib.sha256()
    for name in sorted(mapping.operands()):
        tensor = mapping.operands()[name]
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("method", ["dense", "structured"])
@pytest.mark.parametrize("family", E.families())
def test_state_dict_saves_only_the_description_and_a_checksum(family, method):
    """Issue 14 item 2: no tensor of the structure (nor the dense matrix) is saved."""
    mapping = E.make_mapping(family, 6, seed=1)
    state = EntangledSkip(mapping, method=method).state_dict()
    assert list(state) == ["_extra_state"]
    assert extra_state(state) == {"version": 2, "mapping": mapping.to_dict(),
                                  "operands_sha256": sha256_of_operands(mapping)}


@pytest.mark.parametrize("family", ["sparse", "sparse_unit_norm", "orthogonal", "birkhoff"])
def test_checkpoint_is_at_most_one_percent_of_the_dense_matrix(family):
    n = 768
    state = EntangledSkip(E.make_mapping(family, n, seed=0)).state_dict()
    saved = sum(t.numel() * t.element_size() for t in state.values())
    assert saved < 400                                   # bytes: the JSON description
    assert saved <= 0.01 * 8 * n * n


def test_load_refuses_a_rebuild_that_differs_from_the_checksum(monkeypatch):
    """As under a torch version whose random stream builds other tensors: the rebuilt
    structure differs from the saved checksum, so the load is refused, not silently wrong."""
    mapping = E.make_mapping("sparse", 8, seed=2, density=0.4)
    state = EntangledSkip(mapping).state_dict()
    tampered = dict(state)
    data = extra_state(state)
    data["operands_sha256"] = "0" * 64
    tampered["_extra_state"] = torch.tensor(list(json.dumps(data).encode()), dtype=torch.uint8)
    with pytest.raises(MappingMismatchError, match="differs from the saved one"):
        EntangledSkip(E.make_mapping("identity", 8)).load_state_dict(tampered)
    data = extra_state(state)
    data["mapping"]["seed"] = 3                          # an edited description
    tampered["_extra_state"] = torch.tensor(list(json.dumps(data).encode()), dtype=torch.uint8)
    with pytest.raises(MappingMismatchError, match="differs from the saved one"):
        EntangledSkip(E.make_mapping("identity", 8)).load_state_dict(tampered)
    family = type(mapping)
    build = family._operands
    monkeypatch.setattr(family, "_operands",
                        lambda self: {k: (v * (1 + 1e-15) if v.is_floating_point() else v)
                                      for k, v in build(self).items()})
    with pytest.raises(MappingMismatchError, match="differs from the saved one"):
        EntangledSkip(E.make_mapping("identity", 8)).load_state_dict(state)


def test_version_1_checkpoint_with_tensors_still_loads():
    """Checkpoints of the previous format: description (version 1) plus the structure."""
    mapping = E.make_mapping("sparse", 8, seed=2, density=0.4)
    v1 = {"_extra_state": torch.tensor(list(json.dumps(
        {"version": 1, "mapping": mapping.to_dict()}).encode()), dtype=torch.uint8)}
    v1.update({f"op_{k}": v for k, v in mapping.operands().items()
               if k not in type(mapping).derived_operands})
    skip = EntangledSkip(E.make_mapping("identity", 8))
    skip.load_state_dict(v1)
    assert skip.mapping == mapping
    x = torch.randn(3, 8, dtype=torch.float64)
    torch.testing.assert_close(skip.double()(x), x @ mapping.matrix().T)
    v1["op_values"] = v1["op_values"] * 2
    with pytest.raises(MappingMismatchError, match="op_values"):
        EntangledSkip(E.make_mapping("identity", 8)).load_state_dict(v1)


def test_family_opting_in_saves_its_structure_tensors(monkeypatch):
    """A plug-in family that is not reproducible from its description sets
    ``checkpoint_operands = True``: its non-derived structure tensors are saved too."""
    mapping = E.make_mapping("sparse", 8, seed=2, density=0.4)
    monkeypatch.setattr(type(mapping), "checkpoint_operands", True, raising=False)
    state = EntangledSkip(mapping).state_dict()
    assert sorted(state) == ["_extra_state", "op_col", "op_crow", "op_values"]
    assert torch.equal(state["op_values"], mapping.operands()["values"])
    fresh = EntangledSkip(E.make_mapping("sparse", 8, seed=5, density=0.4))
    fresh.load_state_dict(state)
    assert fresh.mapping == mapping


@pytest.mark.parametrize("family", E.families())
def test_load_state_dict_rebuilds_the_mapping_of_the_checkpoint(family):
    """A skip built with other parameters (or seed) takes the saved mapping: forward and
    ``.mapping`` agree with the checkpoint afterwards."""
    saved = EntangledSkip(E.make_mapping(family, 6, seed=4))
    other = EntangledSkip(E.make_mapping("rotation", 6, theta=0.3)).float()
    other.load_state_dict(saved.state_dict())
    assert other.mapping == saved.mapping
    x = torch.randn(3, 6)
    torch.testing.assert_close(other(x), x @ saved.mapping.matrix().float().T,
                               rtol=1e-5, atol=1e-6)
    assert all(b.dtype in (torch.float32, torch.int64) for b in other.buffers())  # kept .float()


def test_load_state_dict_refuses_tensors_that_do_not_match_the_description():
    skip = EntangledSkip(E.make_mapping("permutation", 6, kind="shift", shift=1))
    state = skip.state_dict()
    state["op_index"] = torch.tensor([1, 0, 2, 3, 4, 5])
    with pytest.raises(MappingMismatchError, match="op_index"):
        EntangledSkip(E.make_mapping("identity", 6)).load_state_dict(state)
    with pytest.raises(MappingMismatchError, match="description"):
        EntangledSkip(E.make_mapping("identity", 6)).load_state_dict({"_extra_state": "junk"})


def test_load_state_dict_accepts_a_checkpoint_without_description_if_it_matches():
    """Checkpoints written before descriptions were saved: dense ``matrix`` and every operand."""
    mapping = E.make_mapping("sparse", 8, seed=2, density=0.4)
    legacy = {"matrix": mapping.matrix()}
    legacy.update({f"op_{k}": v for k, v in mapping.operands().items()})
    skip = EntangledSkip(mapping)
    skip.load_state_dict(legacy)
    other = E.make_mapping("sparse", 8, seed=3, density=0.4)
    with pytest.raises(MappingMismatchError):
        EntangledSkip(other).load_state_dict(legacy)


@pytest.mark.parametrize("dim", [5, -5, 4])
def test_skip_rejects_an_axis_the_input_does_not_have(dim):
    skip = EntangledSkip(E.make_mapping("identity", 4), dim=dim)
    with pytest.raises(InvalidParameterError, match="dim"):
        skip(torch.randn(4, 4, 4, 4))


@pytest.mark.parametrize("family", E.families())
def test_skip_gradcheck_float64(family):
    skip = EntangledSkip(E.make_mapping(family, 4, seed=3), dim=1, method="structured").double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(skip, (x,))


def test_skip_uses_its_buffers_after_load_state_dict():
    """The forward pass reads the buffers, and ``.mapping`` follows the loaded state."""
    shift1 = EntangledSkip(E.make_mapping("permutation", 6, kind="shift", shift=1))
    shift2 = EntangledSkip(E.make_mapping("permutation", 6, kind="shift", shift=2))
    shift1.load_state_dict(shift2.state_dict())
    x = torch.arange(6.0)
    assert torch.equal(shift1(x), shift2(x))
    assert shift1.mapping.params["shift"] == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available on this machine")
def test_skip_moves_to_cuda():
    skip = EntangledSkip(E.make_mapping("sparse", 8, seed=1, density=0.3)).cuda()
    x = torch.randn(3, 8, device="cuda")
    y = skip(x)
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), EntangledSkip(skip.mapping)(x.cpu()), rtol=1e-5, atol=1e-6)


def test_cast_operands_are_cached_and_follow_buffer_changes():
    skip = EntangledSkip(E.make_mapping("rotation", 4, theta=0.5), method="structured")
    x = torch.randn(3, 4)
    first = skip(x)
    assert skip._operand("cos", "op_cos", torch.float32) is skip._operand("cos", "op_cos",
                                                                          torch.float32)
    with torch.no_grad():  # rotation by 0
        skip.op_cos.fill_(1.0)
        skip.op_sin.fill_(0.0)
    torch.testing.assert_close(skip(x), x)
    assert not torch.allclose(first, x)


def small_mapping(family: str) -> E.Mapping:
    return E.make_mapping(family, 8, seed=1, **({"density": 0.4} if family == "sparse" else {}))


@pytest.mark.parametrize("family", E.families())
def test_skip_under_autocast_matches_float64(family):
    """torch.autocast(bfloat16) around a block: the skip works for every family (autocast
    is switched off inside the CSR product, which has no bfloat16 kernel)."""
    mapping = small_mapping(family)
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(2))
    expected = x.double() @ mapping.matrix().T
    for method in ("structured", "dense"):
        skip = EntangledSkip(mapping, method=method).float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = skip(torch.nn.functional.linear(x, torch.eye(8)))  # a bfloat16 activation
        torch.testing.assert_close(y.double(), expected, rtol=8e-2, atol=8e-2)


@pytest.mark.parametrize("family", E.families())
def test_skip_exports_with_torch_export(family):
    mapping = small_mapping(family)
    x = torch.randn(3, 8)
    for method in ("structured", "dense"):
        skip = EntangledSkip(mapping, method=method).float()
        exported = torch.export.export(skip, (x,))
        torch.testing.assert_close(exported.module()(x).double(), x.double() @ mapping.matrix().T,
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", E.families())
def test_skip_compiles_without_graph_breaks(family):
    """fullgraph torch.compile (aot_eager backend: the graph capture, without a C compiler)."""
    mapping = small_mapping(family)
    x = torch.randn(3, 8)
    for method in ("structured", "auto"):  # auto: the dense product at n = 8
        torch._dynamo.reset()
        skip = EntangledSkip(mapping, method=method).float()
        compiled = torch.compile(skip, fullgraph=True, backend="aot_eager")
        torch.testing.assert_close(compiled(x).double(), x.double() @ mapping.matrix().T,
                                   rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(compiled(x.half()).double(), x.double() @ mapping.matrix().T,
                                   rtol=2e-2, atol=2e-2)


def test_auto_method_keeps_a_dense_matrix_only_below_the_crossover_and_never_saves_it():
    small = EntangledSkip(E.make_mapping("circulant", 16))
    assert "matrix" in dict(small.named_buffers()) and "matrix" not in small.state_dict()
    large = EntangledSkip(E.make_mapping("circulant", 512))
    assert "matrix" not in dict(large.named_buffers())
    x = torch.randn(3, 16, dtype=torch.float64)
    structured = EntangledSkip(E.make_mapping("circulant", 16), method="structured").double()
    torch.testing.assert_close(small.double()(x), structured(x), rtol=1e-12, atol=1e-12)
    small.set_method("structured")
    assert "matrix" not in dict(small.named_buffers())
    assert small.op_spectrum.dtype == torch.float64  # placement kept
