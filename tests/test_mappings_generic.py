"""Generic tests parametrized over the family registry: every family, sizes and parameter cases.

A new family is covered by these tests without new test code.
"""

import functools
import json

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.optimize import linear_sum_assignment

import entangled as E
from entangled.errors import InvalidMatrixError, InvalidParameterError
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
    for method in ("structured", "auto"):
        torch.testing.assert_close(m.apply(x, dim=1, method=method), expected,
                                   rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(m.apply(x.transpose(1, 2), method=method),
                                   expected.transpose(1, 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_apply_keeps_dtype_and_device(case):
    m = build(case)
    x = torch.randn(2, m.n, dtype=torch.float32)
    y = m.apply(x, method="structured")
    assert y.dtype == torch.float32 and y.device == x.device and y.shape == x.shape
    torch.testing.assert_close(y.double(), x.double() @ m.matrix().T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == 5], ids=case_id)
def test_apply_is_autograd_safe(case):
    m = build(case)
    x = torch.randn(2, m.n, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: m.apply(t, dim=1, method="structured"), (x,))


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
    family = E.family_class(m.family)
    assert family.contains(m.matrix(), tol=1e-9)
    assert family.contains(m.matrix(), tol=1e-9, **m.params)


def perturbations(matrix: torch.Tensor, eps: float = 1e-3) -> list[torch.Tensor]:
    """The matrix with ``eps`` added at (0, 0), and at a zero entry where there is one (a
    change of the nonzero pattern)."""
    positions = [(0, 0)]
    zeros = torch.nonzero(matrix == 0)
    if len(zeros):
        positions.append(tuple(zeros[len(zeros) // 2].tolist()))
    out = []
    for i, j in positions:
        bumped = matrix.clone()
        bumped[i, j] += eps
        out.append(bumped)
    return out


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_family_rejects_perturbed_members(case):
    """Membership is a closed condition: a perturbation of 1e-3 leaves the family (with the
    member's parameters pinned, and for the whole family) unless the member set is open."""
    m = build(case)
    family = E.family_class(m.family)
    for pinned in (m.params, {}):
        if family.member_set_is_open(pinned):
            continue
        for bumped in perturbations(m.matrix()):
            assert not family.contains(bumped, tol=1e-9, **pinned), pinned


@pytest.mark.parametrize("family", E.families())
def test_a_gaussian_matrix_is_in_no_structured_family(family):
    cls = E.family_class(family)
    gaussian = torch.randn(8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert cls.contains(gaussian) == (family == "dense")  # dense: every matrix, documented


# Known answers: which family (row) contains which matrix (column), n = 16, seed 3, default
# parameters. Two digits: for the whole family, and with the defaults pinned. A 1 in another
# family's column is a genuine membership: the identity is a rotation by 0, a circulant with
# h = 0, sparse with s = 0; every orthogonal matrix is in the Haar family's support; the seed-3
# permutation (cycles 3, 3, 8, 2) is a derangement, i.e. sparse with s = 1, k = 1; the
# circulant at h = 1 has 14 off-diagonals per row and rows summing to 1 (sparse with
# k = 14), is doubly stochastic (Birkhoff), and the uniform matrix 1/n is the box kernel with
# h >= n/2, the Sinkhorn limit and sparse with k = n - 1. Sinkhorn's iters = 0 is exp(W/tau):
# any positive matrix (ones included) is in the family, but not at the default iters = 20.
MEMBER_COLUMNS = ("birkhoff", "circulant", "dense", "identity", "orthogonal", "permutation",
                  "rotation", "sinkhorn", "sparse", "ones", "gauss", "uniform")
MEMBERSHIP = {
    "birkhoff":    "11 10 00 11 00 11 00 10 00 00 00 10",
    "circulant":   "00 11 00 10 00 00 00 00 00 00 00 10",
    "dense":       "11 11 11 11 11 11 11 11 11 11 11 11",
    "identity":    "00 00 00 11 00 00 00 00 00 00 00 00",
    "orthogonal":  "00 00 00 11 11 11 11 00 00 00 00 00",
    "permutation": "00 00 00 11 00 11 00 00 00 00 00 00",
    "rotation":    "00 00 00 10 00 00 11 00 00 00 00 00",
    "sinkhorn":    "00 00 00 00 00 00 00 11 00 10 00 11",
    "sparse":      "00 10 00 10 00 10 00 00 11 00 00 10",
}


def membership_matrix(name: str) -> torch.Tensor:
    if name == "ones":
        return torch.ones(16, 16, dtype=torch.float64)
    if name == "uniform":
        return torch.full((16, 16), 1 / 16, dtype=torch.float64)
    if name == "gauss":
        return torch.randn(16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return E.make_mapping(name, 16, seed=3).matrix()


@pytest.mark.parametrize("family", sorted(MEMBERSHIP))
def test_membership_known_answers_across_families(family):
    cls = E.family_class(family)
    defaults = {p.name: p.default for p in cls.parameters}
    for column, expected in zip(MEMBER_COLUMNS, MEMBERSHIP[family].split()):
        matrix = membership_matrix(column)
        got = f"{int(cls.contains(matrix))}{int(cls.contains(matrix, **defaults))}"
        assert got == expected, (family, column)


def test_contains_rejects_unknown_parameters_and_bad_matrices():
    with pytest.raises(InvalidParameterError, match="strenght"):
        E.family_class("sparse").contains(torch.eye(3), strenght=0.5)
    with pytest.raises(InvalidMatrixError):
        E.family_class("sinkhorn").contains(torch.ones(2, 3))


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
    structured = functools.partial(m.apply, method="structured")
    jacobian = torch.func.jacrev(structured)(x)
    torch.testing.assert_close(jacobian, m.matrix(), rtol=1e-12, atol=1e-12)
    batch = torch.randn(5, 7, dtype=torch.float64)
    torch.testing.assert_close(torch.func.vmap(structured)(batch), batch @ m.matrix().T,
                               rtol=1e-12, atol=1e-12)


HALF_TOLERANCE = {torch.float16: 2e-2, torch.bfloat16: 8e-2}  # ~ 10 units of the last place


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("family", E.families())
def test_apply_in_half_precision_matches_float64(family, dtype):
    """Every kernel takes float16/bfloat16 (FFT and CSR compute them in float32) and returns
    that dtype, within a dtype-appropriate tolerance of the float64 product."""
    m = E.make_mapping(family, 16, seed=2, **({"density": 0.3} if family == "sparse" else {}))
    x = torch.randn(4, 16, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = torch.einsum("ij,bjk->bik", m.matrix(), x)
    tol = HALF_TOLERANCE[dtype]
    for method in ("structured", "dense", "auto"):
        y = m.apply(x.to(dtype), dim=1, method=method)
        assert y.dtype == dtype
        torch.testing.assert_close(y.double(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("family", E.families())
def test_kernels_agree_within_float_tolerance(family):
    m = E.make_mapping(family, 33, seed=5)
    x = torch.randn(2, 33, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    dense = m.apply(x, dim=1, method="dense")
    torch.testing.assert_close(m.apply(x, dim=1, method="structured"), dense, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(m.apply(x, dim=1), dense, rtol=1e-12, atol=1e-12)
    x32 = x.float()
    torch.testing.assert_close(m.apply(x32, dim=1, method="structured"),
                               m.apply(x32, dim=1, method="dense"), rtol=1e-5, atol=1e-5)


def test_auto_kernel_follows_the_measured_crossover():
    cls = E.family_class("permutation")
    below = cls.dense_below.get("cpu", 0)
    assert cls.choose_kernel(max(below, 1) * 4, "cpu") == "structured"
    if below > 1:
        assert cls.choose_kernel(below - 1, "cpu") == "dense"
    assert cls.choose_kernel(4, "cpu", "structured") == "structured"
    assert cls.choose_kernel(10**6, "cpu", "dense") == "dense"
    assert cls.choose_kernel(8, "no-such-device") == "structured"
    with pytest.raises(InvalidParameterError, match="method"):
        E.make_mapping("permutation", 4).apply(torch.randn(4), method="fft")
