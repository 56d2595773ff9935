"""Structure and graph conjectures: sparsity vs I, support graphs, cycles, Markov spectral gaps.

Support-graph quantities come from :mod:`entangled.theory.graph` (networkx): edge ``j -> i`` for every
nonzero ``M[i, j]``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st

from entangled.properties import nonzero_count, symmetry_error
from entangled.theory import conjecture
from entangled.theory import graph
from entangled.theory.spectral import eigenvalue_matching_distance, numeric_eigvals, roots_of_unity_for_cycles



def circulant_band_radius(m) -> int:
    """Largest circular distance :math:`\\min(j, n - j)` with :math:`M_{0j} \\ne 0`."""
    row = m.dense()[0]
    j = torch.arange(m.n)
    distances = torch.minimum(j, m.n - j)
    return int(distances[row != 0].max())


@conjecture(families=["birkhoff"], tol=1e-9, params={"k": 1})
def single_permutation_birkhoff_spectrum_matches_cycles(m):
    """A Birkhoff mapping with k = 1 is a permutation whose eigenvalues are the roots of unity of its cycles.

    .. math:: \\operatorname{spec} M = \\biguplus_{c} \\{e^{2\\pi i k/L_c}\\}_{k < L_c},
              \\qquad L_c = \\text{cycle lengths of the support graph}
    """
    if not graph.is_permutation_matrix(m):
        return math.inf
    expected = roots_of_unity_for_cycles(graph.permutation_cycle_lengths(m))
    return eigenvalue_matching_distance(numeric_eigvals(m), expected)


@conjecture(requires=["doubly_stochastic"])
def doubly_stochastic_support_has_no_transient_coordinates(m):
    """In the support graph of a doubly stochastic mapping every weakly connected component is strongly connected.

    The uniform vector is stationary, so no coordinate is transient: signal that leaves a
    coordinate comes back (the weak and strong components coincide).
    """
    return graph.strong_component_sizes(m) == graph.weak_component_sizes(m)


@conjecture(requires=["permutation"])
def permutation_support_matches_identity_sparsity(m):
    """Identity and permutation mappings have n nonzeros and a 1-regular support graph.

    .. math:: \\operatorname{nnz}(M) = n, \\qquad \\deg^{in}(i) = \\deg^{out}(i) = 1
    """
    return nonzero_count(m) == m.n and graph.degree_regularity(m) == 1


@conjecture(families=["circulant"])
def circulant_support_is_band_regular(m):
    """A circulant mapping with band radius R has a min(n, 2R+1)-regular support graph.

    .. math:: \\deg^{in}(i) = \\deg^{out}(i) = \\min(n, 2R + 1)
    """
    return graph.degree_regularity(m) == min(m.n, 2 * circulant_band_radius(m) + 1)


@conjecture(families=["circulant"])
def circulant_diameter_closed_form(m):
    """A circulant mapping with band radius R >= 1 has support diameter ceil(floor(n/2) / R).

    .. math:: \\operatorname{diam} = \\left\\lceil \\frac{\\lfloor n/2 \\rfloor}{R} \\right\\rceil

    (``R = 0`` is ``I``: diameter 0 for ``n = 1``, else not strongly connected, ``inf``).
    """
    radius = circulant_band_radius(m)
    if radius == 0:
        expected = 0.0 if m.n == 1 else math.inf
    else:
        expected = float(math.ceil((m.n // 2) / radius))
    return graph.diameter(m) == expected


@conjecture(families=["circulant"], tol=1e-9)
def circulant_markov_gap_closed_form(m):
    """The Markov spectral gap of a circulant mapping is 1 - max_{k != 0} |DFT(first row)_k|.

    .. math:: 1 - |\\lambda_2| = 1 - \\max_{k \\ne 0} |\\hat c_k|

    (``n = 1``: gap 1 by convention of :func:`entangled.theory.graph.markov_spectral_gap`).
    """
    spectrum = np.abs(np.fft.fft(m.dense()[0].numpy()))
    expected = 1.0 if m.n == 1 else 1.0 - float(spectrum[1:].max())
    return abs(graph.markov_spectral_gap(m) - expected)


@conjecture(families=["sparse"])
def sparse_nonzeros_and_diagonal_bounded(m):
    """A sparse mapping has at most n(k+1) nonzeros, k = max(1, round(density (n-1))) for density > 0, and diagonal >= 1 - strength.

    .. math:: \\operatorname{nnz}(M) \\le n(k + 1),\\qquad M_{ii} \\ge 1 - s
    """
    k = m.off_diagonal_per_row()
    diagonal_ok = float(m.dense().diagonal().min()) >= 1 - m.params["strength"] - 1e-12
    return nonzero_count(m) <= m.n * (k + 1) and diagonal_ok


@conjecture(families=["sinkhorn"])
def sinkhorn_support_is_complete(m):
    """A Sinkhorn mapping is entrywise positive: its support graph is complete (diameter <= 1).

    .. math:: M_{ij} > 0\\;\\forall i, j \\Rightarrow \\operatorname{diam} \\le 1
    """
    return bool((m.dense() > 0).all()) and graph.diameter(m) <= 1


@conjecture(families=["sparse"], tol=1e-9, expected="falsified",
            reference="arXiv 2206.01261 (Lechner et al. 2022)")
def every_sparse_mapping_is_symmetric(m):
    """Every sparse entangled mapping is symmetric, like I.

    Believed false: ``S`` has random off-diagonal columns per row, so ``M != M^T`` once
    ``n >= 3`` with ``density, strength > 0``.

    .. math:: \\max |M - M^T| \\le 10^{-9}
    """
    return symmetry_error(m)


@conjecture(families=["sparse"], n=(2, 64), expected="falsified")
def every_sparse_mapping_is_strongly_connected(m):
    """Every sparse entangled mapping mixes all coordinates (strongly connected support).

    Believed false: at ``density = 0`` or ``strength = 0`` it is ``I`` (``n`` components),
    and low densities leave coordinates unreachable.
    """
    return graph.is_strongly_connected(m)


@conjecture(requires=["orthogonal"], excludes=["nonnegative"], tol=1e-9, n=(2, 64),
            expected="falsified")
def orthogonal_mappings_are_doubly_stochastic(m):
    """Orthogonal mappings are doubly stochastic (nonnegative with unit row and column sums).

    Believed false: a Haar orthogonal matrix has negative entries and row sums != 1.

    .. math:: \\max\\big(\\max_i|\\textstyle\\sum_j M_{ij} - 1|, \\max_j|\\sum_i M_{ij} - 1|, \\max(0, -\\min M)\\big) \\le 10^{-9}
    """
    dense = m.dense()
    return max(float((dense.sum(1) - 1).abs().max()), float((dense.sum(0) - 1).abs().max()),
               max(0.0, -float(dense.min())))


@conjecture(families=["sparse"], params={"normalise": "row", "strength": st.floats(0.1, 0.99)})
def row_stochastic_sparse_closed_classes_have_unit_eigenvalues(m):
    """A row-stochastic sparse mapping with strength < 1 has eigenvalue 1 with multiplicity = number of closed classes.

    Closed classes are the strongly connected components with no edge leaving them (a
    Markov chain fact: each closed class is aperiodic here, thanks to the self-loops of
    :math:`(1 - s) I`, and contributes one eigenvalue 1). Multiplicity is counted as the number
    of numeric eigenvalues within ``1e-6`` of 1.
    """
    import networkx as nx

    condensed = nx.condensation(m.graph().reverse())
    # In the reversed graph an edge i -> j means M[i, j] != 0 (i moves to j in the chain).
    closed = sum(1 for node in condensed.nodes if condensed.out_degree(node) == 0)
    ones = int(((numeric_eigvals(m) - 1).abs() < 1e-6).sum())
    return closed == ones


@conjecture()
def matrix_is_finite(m):
    """Every mapping's matrix is finite (no NaN or inf entries) for every allowed parameter value.

    A basic invariant of the library (``from_matrix`` rejects non-finite input, so a family
    must never build one), searched down to subnormal parameters such as ``bandwidth = 1e-300``.
    Unnormalised Sinkhorn (``iters = 0``) entries reach :math:`e^{100}` but stay finite.
    """
    return bool(torch.isfinite(m.dense()).all())
