"""Bad input raises ValueError naming the parameter, the value and what is allowed."""

import math

import numpy as np
import pytest
import torch

import entangled as E
from entangled.nn import EntangledSkip


@pytest.mark.parametrize("n", [0, -3, 2.5, "8", True, None, 8.0])
def test_bad_n(n):
    with pytest.raises(ValueError, match=r"n=.*allowed: a positive integer") as info:
        E.make_mapping("orthogonal", n)
    assert repr(n) in str(info.value)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(E.UnknownFamilyError) as info:
        E.make_mapping("orthogonall", 4)
    message = str(info.value)
    assert "'orthogonall'" in message
    for name in E.families():
        assert name in message


@pytest.mark.parametrize("family,params,name", [
    ("sparse", {"density": 1.5}, "density"),
    ("sparse", {"density": -0.1}, "density"),
    ("sparse", {"strength": 2}, "strength"),
    ("sparse", {"strength": -1e-9}, "strength"),
    ("sparse", {"strength": float("nan")}, "strength"),
    ("sparse", {"normalise": "rows"}, "normalise"),
    ("rotation", {"theta": math.inf}, "theta"),
    ("rotation", {"theta": float("nan")}, "theta"),
    ("rotation", {"theta": "0.5"}, "theta"),
    ("sinkhorn", {"iters": -1}, "iters"),
    ("sinkhorn", {"iters": 2.5}, "iters"),
    ("sinkhorn", {"temperature": 0.0}, "temperature"),
    ("birkhoff", {"k": 0}, "k"),
    ("birkhoff", {"k": True}, "k"),
    ("circulant", {"bandwidth": -1.0}, "bandwidth"),
    ("circulant", {"kernel": "cauchy"}, "kernel"),
    ("permutation", {"kind": "cyclic"}, "kind"),
    ("permutation", {"shift": 1.5}, "shift"),
    ("dense", {"scale": -1.0}, "scale"),
])
def test_out_of_range_parameters(family, params, name):
    (value,) = params.values()
    with pytest.raises(ValueError, match="allowed") as info:
        E.make_mapping(family, 6, **params)
    message = str(info.value)
    assert f"{name}=" in message and repr(value) in message


def test_unknown_parameter_lists_the_family_parameters():
    with pytest.raises(ValueError, match="density, strength, normalise") as info:
        E.make_mapping("sparse", 6, densty=0.1)
    assert "'densty'" in str(info.value)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, 2**63])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match=r"seed=.*allowed"):
        E.make_mapping("orthogonal", 4, seed=seed)


@pytest.mark.parametrize("matrix,what", [
    (np.ones((2, 3)), "square"),
    (np.ones((2, 2, 2)), "2-D"),
    (np.ones((0, 0)), "non-empty"),
    ([], "2-D"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "finite"),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), "finite"),
    (np.array([[1j, 0], [0, 1]]), "real"),
    ("abc", "2-D"),
])
def test_from_matrix_rejects_bad_arrays(matrix, what):
    with pytest.raises(ValueError, match=what) as info:
        E.from_matrix(matrix)
    assert "matrix=" in str(info.value)


def test_dense_matrix_must_match_n():
    with pytest.raises(ValueError, match="n=3"):
        E.make_mapping("dense", 3, matrix=np.eye(2))


def test_from_dict_missing_and_unknown_fields():
    data = E.make_mapping("rotation", 4).to_dict()
    for field in ("family", "n", "seed", "params"):
        broken = {k: v for k, v in data.items() if k != field}
        with pytest.raises(ValueError, match=f"missing field '{field}'"):
            E.Mapping.from_dict(broken)
    with pytest.raises(ValueError, match="invalid field 'colour'.*allowed fields"):
        E.Mapping.from_dict({**data, "colour": "red"})
    with pytest.raises(ValueError, match="theta="):
        E.Mapping.from_dict({**data, "params": {"theta": "big"}})
    with pytest.raises(ValueError, match="a dict"):
        E.Mapping.from_dict([("family", "rotation")])


@pytest.mark.parametrize("family", ["identity", "permutation", "sparse", "circulant", "rotation", "dense"])
def test_apply_rejects_wrong_size_along_dim(family):
    m = E.make_mapping(family, 8)
    with pytest.raises(ValueError, match=r"x.shape\[1\]=5.*allowed: 8"):
        m.apply(torch.zeros(2, 5, 8), dim=1)
    with pytest.raises(ValueError, match="dim=3"):
        m.apply(torch.zeros(2, 8), dim=3)
    with pytest.raises(ValueError, match="floating-point"):
        m.apply(torch.zeros(2, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="torch.Tensor"):
        m.apply(np.zeros((2, 8)))


def test_entangled_skip_rejects_wrong_size_and_non_mapping():
    skip = EntangledSkip(E.make_mapping("permutation", 4), dim=1)
    with pytest.raises(ValueError, match=r"x.shape\[1\]=3"):
        skip(torch.zeros(2, 3, 5, 5))
    with pytest.raises(ValueError, match="mapping="):
        EntangledSkip(torch.eye(4))


@pytest.mark.parametrize("family,params,name", [
    ("orthogonal", {"n": 10**30}, "n"),
    ("permutation", {"kind": "shift", "shift": 2**64 + 1}, "shift"),
    ("birkhoff", {"k": 10**9}, "k"),
    ("sinkhorn", {"iters": 10**9}, "iters"),
    ("dense", {"scale": 1e308}, "scale"),
])
def test_upper_bounds_fail_fast_with_a_clear_error(family, params, name):
    params = dict(params)
    n = params.pop("n", 4)
    with pytest.raises(E.InvalidParameterError, match=rf"invalid {name}=.*allowed"):
        E.make_mapping(family, n, **params)


def test_large_shift_is_taken_mod_n_without_overflow():
    m = E.make_mapping("permutation", 5, kind="shift", shift=2**62)
    assert m.permutation().tolist() == [(i + 2**62) % 5 for i in range(5)]


def test_dense_matrix_beyond_memory_is_refused_before_allocation():
    m = E.make_mapping("orthogonal", 2**24)  # the description is fine; the matrix is 2 PiB
    with pytest.raises(E.InvalidParameterError, match="n=16777216.*memory"):
        m.matrix()
    big = E.make_mapping("permutation", 2**20, kind="shift", shift=3)  # structure only: 8 MiB
    x = torch.arange(2.0**20)
    assert big.apply(x)[0] == 3.0
    skip = EntangledSkip(big)
    assert "matrix" not in dict(skip.named_buffers())
