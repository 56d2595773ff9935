"""EntangledSkip: shapes, buffers, state_dict, dtype/device moves and gradients."""

import pytest
import torch

import entangled as E
from entangled.nn import EntangledSkip


@pytest.mark.parametrize("family", E.families())
@pytest.mark.parametrize("shape,dim", [((2, 6, 3, 4), 1), ((2, 5, 6), -1), ((3, 6), -1)])
def test_skip_applies_the_mapping_along_dim(family, shape, dim):
    mapping = E.make_mapping(family, 6, seed=1)
    skip = EntangledSkip(mapping, dim=dim).double()
    x = torch.randn(*shape, dtype=torch.float64)
    y = skip(x)
    assert y.shape == x.shape
    expected = torch.movedim(torch.movedim(x, dim, -1) @ mapping.matrix().T, -1, dim)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", E.families())
def test_matrix_is_a_buffer_not_a_parameter(family):
    mapping = E.make_mapping(family, 5, seed=2)
    skip = EntangledSkip(mapping)
    assert list(skip.parameters()) == []
    state = skip.state_dict()
    assert "matrix" in state
    torch.testing.assert_close(state["matrix"].double(), mapping.matrix(), rtol=1e-6, atol=1e-7)
    assert skip.matrix.dtype == torch.float64  # exact until the module is moved
    skip32 = EntangledSkip(mapping).float()
    assert skip32.matrix.dtype == torch.float32
    assert skip32(torch.randn(3, 5)).dtype == torch.float32
    fresh = EntangledSkip(mapping)
    fresh.load_state_dict(state)
    x = torch.randn(4, 5)
    torch.testing.assert_close(fresh(x), EntangledSkip(mapping)(x))


@pytest.mark.parametrize("family", E.families())
def test_skip_gradcheck_float64(family):
    skip = EntangledSkip(E.make_mapping(family, 4, seed=3), dim=1).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(skip, (x,))


def test_skip_uses_its_buffers_after_load_state_dict():
    """The forward pass reads the buffers, so a loaded state is what gets applied."""
    shift1 = EntangledSkip(E.make_mapping("permutation", 6, kind="shift", shift=1))
    shift2 = EntangledSkip(E.make_mapping("permutation", 6, kind="shift", shift=2))
    shift1.load_state_dict(shift2.state_dict())
    x = torch.arange(6.0)
    assert torch.equal(shift1(x), shift2(x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available on this machine")
def test_skip_moves_to_cuda():
    skip = EntangledSkip(E.make_mapping("sparse", 8, seed=1, density=0.3)).cuda()
    x = torch.randn(3, 8, device="cuda")
    y = skip(x)
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), EntangledSkip(skip.mapping)(x.cpu()), rtol=1e-5, atol=1e-6)


def test_cast_operands_are_cached_and_follow_buffer_changes():
    skip = EntangledSkip(E.make_mapping("rotation", 4, theta=0.5))
    x = torch.randn(3, 4)
    first = skip(x)
    assert skip._operand("cos", torch.float32) is skip._operand("cos", torch.float32)
    with torch.no_grad():  # rotation by 0
        skip.op_cos.fill_(1.0)
        skip.op_sin.fill_(0.0)
    torch.testing.assert_close(skip(x), x)
    assert not torch.allclose(first, x)
