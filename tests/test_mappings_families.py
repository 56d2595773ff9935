"""Family-specific known answers: closed forms, scipy/sympy cross-checks, distributions."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy import stats
from sympy.combinatorics import Permutation

import entangled as E
from entangled.properties import column_sum_error, row_sum_error, spectral_radius


def test_orthogonal_is_orthogonal_to_1e12():
    for seed in range(5):
        m = E.make_mapping("orthogonal", 64, seed=seed).matrix()
        torch.testing.assert_close(m.T @ m, torch.eye(64, dtype=torch.float64), rtol=0, atol=1e-12)


def _traces_and_corners(matrices):
    matrices = np.asarray(matrices)
    return np.trace(matrices, axis1=1, axis2=2), matrices[:, 0, 0]


def test_orthogonal_is_haar_distributed_ks_against_scipy_ortho_group():
    n, count = 4, 400
    ours = [E.make_mapping("orthogonal", n, seed=s).matrix().numpy() for s in range(count)]
    reference = stats.ortho_group.rvs(n, size=count, random_state=np.random.default_rng(1))
    for ours_stat, ref_stat in zip(_traces_and_corners(ours), _traces_and_corners(reference)):
        assert stats.ks_2samp(ours_stat, ref_stat).pvalue > 0.01


def test_haar_ks_check_has_power_against_qr_without_sign_fix():
    """Negative control: plain QR (no sign fix) is not Haar and the same KS test detects it."""
    n, count = 4, 400
    generator = torch.Generator().manual_seed(0)
    biased = [torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))[0].numpy()
              for _ in range(count)]
    reference = stats.ortho_group.rvs(n, size=count, random_state=np.random.default_rng(1))
    traces = [_traces_and_corners(biased)[0], _traces_and_corners(reference)[0]]
    assert stats.ks_2samp(*traces).pvalue < 1e-6


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [1, 7, 30])
def test_permutation_eigenvalues_are_roots_of_unity_of_its_cycles(n, seed):
    m = E.make_mapping("permutation", n, seed=seed)
    perm = m.permutation().tolist()
    structure = Permutation(perm).cycle_structure  # sympy: {length: count}, independent of ours
    expected = []
    for length, count in structure.items():
        expected += [np.exp(2j * np.pi * k / length) for k in range(length)] * count
    got = m.eigvals().numpy()
    np.testing.assert_allclose(np.sort_complex(np.round(got, 12)),
                               np.sort_complex(np.round(np.array(expected), 12)), atol=1e-12)
    assert sorted(m.cycle_lengths()) == sorted(l for l, c in structure.items() for _ in range(c))


def test_cyclic_shift_is_a_single_cycle_with_all_nth_roots():
    m = E.make_mapping("permutation", 12, kind="shift", shift=1)
    assert m.cycle_lengths() == [12]
    x = torch.arange(12.0)
    assert m.apply(x).tolist() == [float((i + 1) % 12) for i in range(12)]


def test_rotation_at_zero_is_exactly_identity():
    for n in (1, 2, 7, 64):
        assert torch.equal(E.make_mapping("rotation", n, theta=0.0).matrix(), torch.eye(n, dtype=torch.float64))


def test_rotation_eigenvalues_are_e_to_plus_minus_i_theta():
    theta = 0.3
    values = E.make_mapping("rotation", 5, theta=theta).eigvals()
    expected = [np.exp(1j * theta), np.exp(-1j * theta)] * 2 + [1.0]
    np.testing.assert_allclose(np.sort_complex(values.numpy()), np.sort_complex(np.array(expected)), atol=1e-15)
    block = E.make_mapping("rotation", 2, theta=theta).matrix()
    torch.testing.assert_close(block, torch.tensor([[math.cos(theta), -math.sin(theta)],
                                                    [math.sin(theta), math.cos(theta)]], dtype=torch.float64))


def test_circulant_bandwidth_zero_is_identity_and_tends_to_identity():
    assert torch.equal(E.make_mapping("circulant", 9, bandwidth=0.0).matrix(), torch.eye(9, dtype=torch.float64))
    distances = [float(torch.linalg.norm(E.make_mapping("circulant", 32, bandwidth=h).matrix()
                                          - torch.eye(32, dtype=torch.float64))) for h in (2.0, 1.0, 0.5, 0.2, 0.1)]
    assert distances == sorted(distances, reverse=True)
    assert 0 < distances[-2] < 1e-4
    assert distances[-1] == 0.0  # exp(-1 / (2 * 0.1**2)) = exp(-50) is below the 1e-12 cut-off


def test_circulant_matches_scipy_circulant_and_fft_eigenvalues():
    m = E.make_mapping("circulant", 11, bandwidth=1.5, kernel="laplace")
    row = m.first_row().numpy()
    # scipy.linalg.circulant(c) has first COLUMN c; for symmetric c this is the same matrix.
    np.testing.assert_allclose(m.matrix().numpy(), scipy.linalg.circulant(row), atol=1e-15)
    np.testing.assert_allclose(np.sort(m.eigvals().numpy().real), np.sort(np.fft.fft(row).real), atol=1e-14)
    assert np.abs(m.eigvals().numpy().imag).max() < 1e-14
    gaussian = E.make_mapping("circulant", 11, bandwidth=1.0).first_row().numpy()
    weights = np.exp(-np.minimum(np.arange(11), 11 - np.arange(11)) ** 2 / 2.0)
    np.testing.assert_allclose(gaussian, weights / weights.sum(), rtol=1e-14)


def test_circulant_apply_multiplies_by_its_eigenvalues_in_fourier_space():
    m = E.make_mapping("circulant", 16, bandwidth=2.0)
    spectrum = m.operands()["spectrum"]
    torch.testing.assert_close(spectrum, m.eigvals().real[: 16 // 2 + 1], rtol=0, atol=1e-15)
    assert m.radius() == 8  # exp(-d^2/8) >= exp(-8) > 1e-12 up to the largest distance n/2 = 8
    assert E.make_mapping("circulant", 64, bandwidth=1.0).radius() == 7  # exp(-64/2) < 1e-12


def test_sinkhorn_stochasticity_error_falls_with_iterations():
    errors = [max(row_sum_error(m), column_sum_error(m))
              for m in (E.make_mapping("sinkhorn", 16, seed=2, iters=k, temperature=0.5)
                        for k in (0, 1, 2, 5, 10, 20, 50))]
    assert all(later <= earlier for earlier, later in zip(errors, errors[1:]))
    assert errors[0] > 1.0 and errors[-1] < 1e-6
    m = E.make_mapping("sinkhorn", 16, seed=2, iters=3)
    assert column_sum_error(m) < 1e-12  # the last step normalises columns exactly


def test_birkhoff_is_doubly_stochastic_to_1e12():
    for k in (1, 2, 7):
        m = E.make_mapping("birkhoff", 33, seed=k, k=k)
        assert row_sum_error(m) < 1e-12 and column_sum_error(m) < 1e-12
        assert float(m.matrix().min()) >= 0


def test_birkhoff_with_one_permutation_is_a_permutation():
    m = E.make_mapping("birkhoff", 10, seed=4, k=1)
    assert E.family_class("permutation").contains(m.matrix())


def test_sparse_row_stochastic_has_eigenvalue_one_and_spectral_radius_one():
    m = E.make_mapping("sparse", 64, seed=5, density=0.1, strength=0.7)
    assert row_sum_error(m) < 1e-12
    assert abs(spectral_radius(m) - 1) < 1e-9
    assert np.abs(m.eigvals().numpy() - 1).min() < 1e-9


def test_sparse_has_exactly_density_off_diagonal_entries_per_row():
    n, density = 41, 0.1
    m = E.make_mapping("sparse", n, seed=1, density=density, strength=0.5)
    off_diagonal = m.matrix() * (1 - torch.eye(n, dtype=torch.float64))
    per_row = (off_diagonal != 0).sum(1)
    assert per_row.tolist() == [round(density * (n - 1))] * n


def test_sparse_identity_ends():
    assert torch.equal(E.make_mapping("sparse", 8, strength=0.0).matrix(), torch.eye(8, dtype=torch.float64))
    assert torch.equal(E.make_mapping("sparse", 8, density=0.0, strength=1.0).matrix(),
                       torch.eye(8, dtype=torch.float64))


def test_sparse_column_normalisation_gives_column_stochastic():
    m = E.make_mapping("sparse", 20, seed=3, density=0.3, normalise="column")
    assert column_sum_error(m) < 1e-12 and row_sum_error(m) > 1e-3


def test_dense_from_matrix_keeps_the_matrix_exactly():
    values = np.array([[0.5, -1.25], [3.0, 1e-300]])
    m = E.from_matrix(values)
    assert m.family == "dense" and m.n == 2
    assert m.matrix().numpy().tolist() == values.tolist()
    assert E.from_matrix(torch.eye(3)).matrix().equal(torch.eye(3, dtype=torch.float64))


def test_dense_random_mixing_is_identity_at_scale_zero():
    assert torch.equal(E.make_mapping("dense", 6, scale=0.0).matrix(), torch.eye(6, dtype=torch.float64))


@pytest.mark.parametrize("kernel", ["gaussian", "laplace", "box"])
def test_circulant_with_a_tiny_bandwidth_is_the_identity_not_nan(kernel):
    """Regression: h**2 underflowed to 0 for h < 1e-154 and the Gaussian gave 0/0 = NaN."""
    m = E.make_mapping("circulant", 5, bandwidth=1e-300, kernel=kernel)
    assert torch.equal(m.matrix(), torch.eye(5, dtype=torch.float64))
