"""Tests of entangled.theory.graph: support-graph properties against networkx, scipy and closed forms."""

import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse.csgraph as csgraph
from hypothesis import given, strategies as st

import entangled as E
from entangled.theory import graph as G
from entangled.theory.spectral import eigenvalue_matching_distance, roots_of_unity_for_cycles


def shift(n, by=1):
    return E.make_mapping("permutation", n, kind="shift", shift=by)


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_cyclic_shift_closed_forms(n):
    m = shift(n)
    assert G.permutation_cycle_lengths(m) == [n]
    assert G.is_strongly_connected(m)
    assert G.strong_component_count(m) == 1 and G.weak_component_count(m) == 1
    assert G.degree_regularity(m) == 1
    assert G.diameter(m) == n - 1


@pytest.mark.parametrize("n, by", [(12, 3), (12, 8), (10, 4), (9, 3)])
def test_shift_by_k_has_gcd_cycles(n, by):
    m = shift(n, by)
    g = math.gcd(n, by)
    assert G.permutation_cycle_lengths(m) == [n // g] * g
    assert G.strong_component_count(m) == g
    assert G.diameter(m) == (n - 1 if g == 1 else math.inf)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_identity_closed_forms(n):
    m = E.make_mapping("identity", n)
    assert G.strong_component_sizes(m) == [1] * n
    assert G.weak_component_count(m) == n
    assert G.permutation_cycle_lengths(m) == [1] * n
    assert G.degree_regularity(m) == 1
    assert G.diameter(m) == (0 if n == 1 else math.inf)
    assert G.is_strongly_connected(m) == (n == 1)


@given(n=st.integers(1, 24), seed=st.integers(0, 10_000))
def test_random_permutation_cycles_match_eigvals_and_family(n, seed):
    m = E.make_mapping("permutation", n, seed=seed)
    lengths = G.permutation_cycle_lengths(m)
    assert lengths == sorted(m.cycle_lengths())
    assert sum(lengths) == n
    assert eigenvalue_matching_distance(m.eigvals(), roots_of_unity_for_cycles(lengths)) < 1e-12
    assert eigenvalue_matching_distance(np.linalg.eigvals(m.dense().numpy()),
                                        roots_of_unity_for_cycles(lengths)) < 1e-9


def test_cycle_lengths_rejects_non_permutations():
    with pytest.raises(ValueError, match="permutation"):
        G.permutation_cycle_lengths(E.make_mapping("birkhoff", 4, k=3))


@given(n=st.integers(1, 20), density=st.floats(0, 1), seed=st.integers(0, 1000))
def test_components_match_scipy_csgraph(n, density, seed):
    m = E.make_mapping("sparse", n, seed=seed, density=density)
    adjacency = (m.dense().numpy() != 0).T  # edge j -> i  <=> adjacency[j, i]
    strong, labels = csgraph.connected_components(adjacency, directed=True, connection="strong")
    weak, _ = csgraph.connected_components(adjacency, directed=True, connection="weak")
    assert G.strong_component_count(m) == strong
    assert G.weak_component_count(m) == weak
    assert G.strong_component_sizes(m) == sorted(np.bincount(labels).tolist())
    assert G.is_strongly_connected(m) == (strong == 1)


@given(n=st.integers(1, 20), density=st.floats(0, 1), seed=st.integers(0, 1000))
def test_diameter_matches_scipy_shortest_paths(n, density, seed):
    m = E.make_mapping("sparse", n, seed=seed, density=density, strength=0.7)
    adjacency = np.ascontiguousarray((m.dense().numpy() != 0).T.astype(float))
    distances = csgraph.shortest_path(adjacency, unweighted=True, directed=True)
    assert G.diameter(m) == float(distances.max())


def test_degrees_match_nonzero_counts():
    m = E.make_mapping("sparse", 9, seed=4, density=0.4)
    nonzero = (m.dense() != 0)
    assert G.in_degrees(m) == nonzero.sum(1).tolist()
    assert G.out_degrees(m) == nonzero.sum(0).tolist()
    # rows have k + 1 nonzeros, columns vary: not regular
    assert set(G.in_degrees(m)) == {1 + round(0.4 * 8)}
    assert G.degree_regularity(m) is None and not G.is_degree_regular(m)


def band_radius(m):
    row = m.dense()[0].numpy()
    j = np.arange(m.n)
    return int(np.minimum(j, m.n - j)[row != 0].max())


@pytest.mark.parametrize("n", [5, 8, 17, 32])
@pytest.mark.parametrize("bandwidth", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("kernel", ["gaussian", "box", "laplace"])
def test_circulant_diameter_and_degree_closed_form(n, bandwidth, kernel):
    m = E.make_mapping("circulant", n, bandwidth=bandwidth, kernel=kernel)
    radius = band_radius(m)
    assert radius == m.radius()
    if radius == 0:
        assert G.diameter(m) == math.inf
    else:
        assert G.diameter(m) == math.ceil((n // 2) / radius)
        assert G.diameter(m) == nx.diameter(m.graph())
    assert G.degree_regularity(m) == min(n, 2 * radius + 1)


@pytest.mark.parametrize("n", [1, 2, 7, 16])
@pytest.mark.parametrize("bandwidth", [0.0, 0.7, 1.5, 4.0])
def test_circulant_markov_gap_closed_form(n, bandwidth):
    m = E.make_mapping("circulant", n, bandwidth=bandwidth, kernel="box")
    count = min(n, 2 * int(math.floor(bandwidth)) + 1)
    # box kernel: c_j = 1/count on the band, DFT_k = (1/count) sum_{|d| <= R} e^{-2 pi i d k / n}
    radius = band_radius(m)
    if n == 1:
        expected = 1.0
    else:
        ks = np.arange(1, n)
        offsets = np.array(sorted({d % n for d in range(-radius, radius + 1)}))
        dft = np.abs(np.exp(-2j * np.pi * np.outer(ks, offsets) / n).sum(1)) / len(offsets)
        expected = 1.0 - dft.max()
    assert len({d % n for d in range(-radius, radius + 1)}) == count
    assert G.markov_spectral_gap(m) == pytest.approx(expected, abs=1e-12)


def test_markov_gap_identity_permutation_and_uniform():
    assert G.markov_spectral_gap(E.make_mapping("identity", 5)) == pytest.approx(0.0, abs=1e-12)
    assert G.markov_spectral_gap(shift(6)) == pytest.approx(0.0, abs=1e-12)
    uniform = E.from_matrix(np.full((4, 4), 0.25))
    assert G.markov_spectral_gap(uniform) == pytest.approx(1.0, abs=1e-12)
    # 2-state chain [[1-p, p], [q, 1-q]]: eigenvalues 1 and 1 - p - q
    p, q = 0.2, 0.3
    chain = E.from_matrix([[1 - p, p], [q, 1 - q]])
    assert G.markov_spectral_gap(chain) == pytest.approx(p + q, abs=1e-12)
    assert G.stochastic_kind(chain) == "row"
    assert G.stochastic_kind(E.from_matrix([[1 - p, q], [p, 1 - q]])) == "column"


def test_markov_gap_rejects_non_stochastic():
    with pytest.raises(ValueError, match="stochastic"):
        G.markov_spectral_gap(E.make_mapping("orthogonal", 4, seed=1))
    with pytest.raises(ValueError, match="stochastic"):
        G.markov_spectral_gap(E.from_matrix([[1.5, -0.5], [0.0, 1.0]]))


def test_support_graph_threshold_and_summary():
    m = E.from_matrix([[1.0, 1e-14], [0.0, 1.0]])
    assert m.graph().number_of_edges() == 3
    assert G.support_graph(m, tol=1e-12).number_of_edges() == 2
    summary = G.graph_summary(shift(4))
    assert summary["cycle_lengths"] == [4] and summary["diameter"] == 3
    assert summary["markov_spectral_gap"] == pytest.approx(0.0, abs=1e-12)
