"""Generic tests parametrized over the family registry: every family, sizes and parameter cases.

A new family is covered by these tests without new test code.
"""

import json

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.optimize import linear_sum_assignment

import entangled as E
from mapping_cases import all_cases, case_id

CASES = all_cases(sizes=(1, 2, 5, 16))
LARGE_CASES = all_cases(sizes=(64,))


def build(case):
    family, n, params = case
    return E.make_mapping(family, n, seed=3, **params)


def matched_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest distance in the optimal one-to-one matching of two multisets of complex numbers."""
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].max())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_apply_equals_dense_product_along_any_dim(case):
    m = build(case)
    dense = m.matrix()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3, m.n, 4, generator=generator, dtype=torch.float64)
    expected = torch.einsum("ij,bjk->bik", dense, x)
    torch.testing.assert_close(m.apply(x, dim=1), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(m.apply(x.transpose(1, 2)), expected.transpose(1, 2),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_apply_keeps_dtype_and_device(case):
    m = build(case)
    x = torch.randn(2, m.n, dtype=torch.float32)
    y = m.apply(x)
    assert y.dtype == torch.float32 and y.device == x.device and y.shape == x.shape
    torch.testing.assert_close(y.double(), x.double() @ m.matrix().T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == 5], ids=case_id)
def test_apply_is_autograd_safe(case):
    m = build(case)
    x = torch.randn(2, m.n, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: m.apply(t, dim=1), (x,))


@pytest.mark.parametrize("case", CASES + LARGE_CASES, ids=case_id)
def test_eigvals_match_numeric_eigenvalues_as_multisets(case):
    m = build(case)
    exact = m.eigvals()
    assert exact.dtype == torch.complex128 and exact.shape == (m.n,)
    numeric = scipy.linalg.eigvals(m.matrix().numpy())
    tolerance = 1e-8 * max(1.0, float(np.abs(numeric).max()))
    if not np.allclose(m.matrix().numpy() @ m.matrix().numpy().T,
                       m.matrix().numpy().T @ m.matrix().numpy(), atol=1e-12):
        tolerance = 1e-6 * max(1.0, float(np.abs(numeric).max()))  # non-normal: ill-conditioned
    assert matched_distance(exact.numpy(), numeric) <= tolerance


@pytest.mark.parametrize("case", CASES + LARGE_CASES, ids=case_id)
def test_singular_values_match_scipy(case):
    m = build(case)
    values = m.singular_values()
    assert values.dtype == torch.float64 and values.shape == (m.n,)
    expected = scipy.linalg.svdvals(m.matrix().numpy())
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_graph_edges_are_exactly_the_nonzeros(case):
    m = build(case)
    graph = m.graph()
    dense = m.matrix()
    assert sorted(graph.nodes) == list(range(m.n))
    expected = {(j, i): float(dense[i, j]) for i in range(m.n) for j in range(m.n) if dense[i, j] != 0}
    actual = {(u, v): w for u, v, w in graph.edges(data="weight")}
    assert actual == expected


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_to_dict_round_trips_through_json_exactly(case):
    m = build(case)
    data = json.loads(json.dumps(m.to_dict()))
    again = E.Mapping.from_dict(data)
    assert again == m
    assert torch.equal(again.matrix(), m.matrix())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_family_contains_its_own_matrices(case):
    m = build(case)
    assert E.family_class(m.family).contains(m.matrix(), tol=1e-9)


@pytest.mark.parametrize("case", all_cases(sizes=(16,)), ids=case_id)
def test_seed_determines_the_matrix(case):
    family, n, params = case
    first = E.make_mapping(family, n, seed=11, **params)
    again = E.make_mapping(family, n, seed=11, **params)
    other = E.make_mapping(family, n, seed=12, **params)
    assert torch.equal(first.matrix(), again.matrix())
    if first.uses_seed():
        assert not torch.equal(first.matrix(), other.matrix())
    else:
        assert torch.equal(first.matrix(), other.matrix())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matrix_returns_a_copy(case):
    m = build(case)
    first = m.matrix()
    first.fill_(7.0)
    assert not torch.equal(m.matrix(), first)


def test_families_are_sorted_and_complete():
    names = E.families()
    assert names == sorted(names)
    assert set(names) >= {"identity", "orthogonal", "rotation", "permutation", "sparse",
                          "circulant", "sinkhorn", "birkhoff", "dense"}


@pytest.mark.parametrize("family", E.families())
def test_apply_works_under_torch_func_transforms(family):
    """jacrev of apply is the matrix itself, and vmap matches the batched product."""
    m = E.make_mapping(family, 7, seed=1, **({"density": 0.5} if family == "sparse" else {}))
    x = torch.randn(7, dtype=torch.float64)
    jacobian = torch.func.jacrev(m.apply)(x)
    torch.testing.assert_close(jacobian, m.matrix(), rtol=1e-12, atol=1e-12)
    batch = torch.randn(5, 7, dtype=torch.float64)
    torch.testing.assert_close(torch.func.vmap(m.apply)(batch), batch @ m.matrix().T,
                               rtol=1e-12, atol=1e-12)
