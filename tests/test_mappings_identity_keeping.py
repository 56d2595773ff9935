"""Known answers and properties of the sparse families that keep the identity's attributes:
``block_orthogonal`` (sparse orthogonal) and ``sparse_unit_norm`` (unit-gain sparse
perturbation of I), and the at-least-one-entry rule of the default ``sparse``."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings

import entangled as E
from entangled.theory.strategies import mappings


@pytest.mark.parametrize("n,block", [(16, 4), (17, 4), (9, 3), (8, 8), (5, 2), (64, 16)])
def test_block_orthogonal_is_orthogonal_to_1e12_with_n_times_b_nonzeros(n, block):
    m = E.make_mapping("block_orthogonal", n, seed=7, block=block)
    matrix = m.matrix()
    eye = torch.eye(n, dtype=torch.float64)
    assert float((matrix.T @ matrix - eye).abs().max()) <= 1e-12
    assert float((matrix @ matrix.T - eye).abs().max()) <= 1e-12
    assert abs(float(torch.linalg.det(matrix)) - 1) <= 1e-12  # every block is a rotation
    full, rest = divmod(n, block)
    assert int((matrix != 0).sum()) == full * block**2 + rest**2
    np.testing.assert_allclose(scipy.linalg.svdvals(matrix.numpy()), np.ones(n), atol=1e-12)


def test_block_orthogonal_block_one_is_the_identity():
    m = E.make_mapping("block_orthogonal", 9, seed=3, block=1)
    assert torch.equal(m.matrix(), torch.eye(9, dtype=torch.float64))
    assert not m.uses_seed()


def test_block_orthogonal_2x2_blocks_have_eigenvalues_e_to_the_plus_minus_i_theta():
    """A 2x2 rotation [[c, -s], [s, c]] has the exact eigenvalues c +- i s."""
    m = E.make_mapping("block_orthogonal", 6, seed=1, block=2)
    matrix = m.matrix()
    expected = []
    for start in range(0, 6, 2):
        c, s = float(matrix[start, start]), float(matrix[start + 1, start])
        assert math.isclose(c * c + s * s, 1.0, abs_tol=1e-12)
        assert float(matrix[start, start + 1]) == pytest.approx(-s, abs=1e-12)
        expected += [complex(c, s), complex(c, -s)]
    got = sorted(m.eigvals().tolist(), key=lambda z: (round(z.real, 9), z.imag))
    want = sorted(expected, key=lambda z: (round(z.real, 9), z.imag))
    np.testing.assert_allclose(np.array(got), np.array(want), atol=1e-12)
    np.testing.assert_allclose(np.abs(m.eigvals().numpy()), np.ones(6), atol=1e-12)


@pytest.mark.parametrize("rescale", ["norm", "radius"])
@pytest.mark.parametrize("n", [2, 5, 16, 64])
def test_sparse_unit_norm_has_unit_gain_to_1e12(n, rescale):
    m = E.make_mapping("sparse_unit_norm", n, seed=2, rescale=rescale)
    matrix = m.matrix().numpy()
    if rescale == "norm":
        assert abs(scipy.linalg.norm(matrix, 2) - 1) <= 1e-12
    else:
        assert abs(np.abs(scipy.linalg.eigvals(matrix)).max() - 1) <= 1e-10
    k = max(1, round(0.05 * (n - 1)))
    off = matrix - np.diag(np.diag(matrix))
    assert ((off != 0).sum(1) == k).all()
    assert np.allclose(np.diag(matrix), matrix[0, 0]) and matrix[0, 0] > 0


def test_sparse_unit_norm_at_zero_strength_or_density_is_the_identity():
    for params in ({"strength": 0.0}, {"density": 0.0}):
        m = E.make_mapping("sparse_unit_norm", 12, seed=4, **params)
        assert torch.equal(m.matrix(), torch.eye(12, dtype=torch.float64))


def test_sparse_unit_norm_keeps_the_smallest_singular_value_away_from_zero():
    """Where the default sparse is singular (n = 16, one entry per row: 15 of 20 seeds, see
    the README table), the unit-norm perturbation of I is well conditioned."""
    worst = min(float(E.make_mapping("sparse_unit_norm", 16, seed=s).singular_values().min())
                for s in range(20))
    assert worst > 0.05


@pytest.mark.parametrize("n", [2, 5, 8, 16])
def test_default_sparse_keeps_at_least_one_off_diagonal_entry_per_row(n):
    matrix = E.make_mapping("sparse", n, seed=0).matrix()
    off = matrix - torch.diag(torch.diagonal(matrix))
    assert bool(((off != 0).sum(1) >= 1).all())
    assert torch.equal(E.make_mapping("sparse", n, density=0.0).matrix(),
                       torch.eye(n, dtype=torch.float64))


@settings(max_examples=20)
@given(mappings("block_orthogonal", max_n=12))
def test_property_block_orthogonal_is_orthogonal(m):
    matrix = m.matrix()
    assert float((matrix.T @ matrix - torch.eye(m.n, dtype=torch.float64)).abs().max()) <= 1e-12
    assert E.family_class("orthogonal").contains(matrix)  # a member of the Haar family's support


@settings(max_examples=20)
@given(mappings("sparse_unit_norm", max_n=12))
def test_property_sparse_unit_norm_has_unit_gain(m):
    values = m.singular_values() if m.params["rescale"] == "norm" else m.eigvals().abs()
    assert abs(float(values.max()) - 1) <= 1e-9
