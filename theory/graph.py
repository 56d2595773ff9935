"""Support-graph properties of skip mappings (networkx, imported inside the functions).

The support graph of ``M`` is the directed graph on nodes ``0..n-1`` with an edge
``j -> i`` for every nonzero ``M[i, j]`` (signal flows from coordinate ``j`` into ``i``), as
returned by :meth:`entangled.Mapping.graph`. Self-loops (diagonal entries) are kept in the
graph; they never change connectivity, components or distances.

Conventions
-----------
* :func:`diameter` is the largest directed shortest-path length over ordered pairs of nodes;
  it is ``0`` for ``n = 1`` and ``math.inf`` when the graph is not strongly connected (some
  node cannot reach another), so that ``diameter(m) < math.inf`` iff strongly connected.
* :func:`markov_spectral_gap` is defined only for nonnegative row- or column-stochastic
  mappings (the transition matrix of a Markov chain, or its transpose); other mappings raise
  ``ValueError``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from entangled.errors import EntangledError
from entangled.mappings.base import Mapping


def support_graph(m: Mapping, *, tol: float = 0.0):
    """``networkx.DiGraph``: edge ``j -> i`` (weight ``M[i, j]``) for every ``|M[i, j]| > tol``.

    With ``tol = 0`` this is :meth:`Mapping.graph` (every exactly nonzero entry).
    """
    if tol == 0.0:
        return m.graph()
    import networkx as nx

    dense = m.dense().numpy()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(m.n))
    rows, cols = np.nonzero(np.abs(dense) > tol)
    graph.add_weighted_edges_from((int(j), int(i), float(dense[i, j])) for i, j in zip(rows, cols))
    return graph


def is_strongly_connected(m: Mapping) -> bool:
    """Whether every coordinate reaches every other through nonzero entries
    (``M`` irreducible)."""
    import networkx as nx

    return bool(nx.is_strongly_connected(m.graph()))


def strong_component_sizes(m: Mapping) -> list[int]:
    """Sizes of the strongly connected components, sorted ascending."""
    import networkx as nx

    return sorted(len(c) for c in nx.strongly_connected_components(m.graph()))


def weak_component_sizes(m: Mapping) -> list[int]:
    """Sizes of the weakly connected components, sorted ascending."""
    import networkx as nx

    return sorted(len(c) for c in nx.weakly_connected_components(m.graph()))


def strong_component_count(m: Mapping) -> int:
    """Number of strongly connected components (``n`` for ``I``, 1 iff irreducible)."""
    return len(strong_component_sizes(m))


def weak_component_count(m: Mapping) -> int:
    """Number of weakly connected components (``n`` for ``I``)."""
    return len(weak_component_sizes(m))


def in_degrees(m: Mapping) -> list[int]:
    """In-degree of every node, self-loops counted once: the nonzeros of row ``i``."""
    graph = m.graph()
    return [graph.in_degree(i) for i in range(m.n)]


def out_degrees(m: Mapping) -> list[int]:
    """Out-degree of every node, self-loops counted once: the nonzeros of column ``j``."""
    graph = m.graph()
    return [graph.out_degree(j) for j in range(m.n)]


def degree_regularity(m: Mapping) -> int | None:
    """The common degree ``d`` if every in- and out-degree equals ``d``, else ``None``.

    ``I`` and permutations are 1-regular; a circulant with band radius ``R`` is
    ``min(n, 2R + 1)``-regular.
    """
    degrees = set(in_degrees(m)) | set(out_degrees(m))
    return degrees.pop() if len(degrees) == 1 else None


def is_degree_regular(m: Mapping) -> bool:
    """Whether all in- and out-degrees of the support graph are equal."""
    return degree_regularity(m) is not None


def diameter(m: Mapping) -> float:
    """Largest directed distance between two nodes of the support graph.

    .. math:: \\operatorname{diam} = \\max_{u, v} d(u, v)

    ``0`` for ``n = 1``; ``math.inf`` when the graph is not strongly connected. Returned as a
    ``float`` so that both cases share a type (``int(diameter(m))`` when finite).
    """
    import networkx as nx

    graph = m.graph()
    if not nx.is_strongly_connected(graph):
        return math.inf
    if m.n == 1:
        return 0.0
    return float(nx.diameter(graph))


def is_permutation_matrix(m: Mapping, tol: float = 0.0) -> bool:
    """Whether ``M`` is a 0/1 matrix with exactly one 1 per row and column (within ``tol``)."""
    dense = m.dense()
    binary = ((dense - 1).abs() <= tol) | (dense.abs() <= tol)
    ones = (dense - 1).abs() <= tol
    return bool(binary.all()) and bool((ones.sum(0) == 1).all()) and bool((ones.sum(1) == 1).all())


def permutation_cycle_lengths(m: Mapping) -> list[int]:
    """Sorted cycle lengths of a permutation mapping, read off its support graph.

    The support graph of a permutation matrix is a disjoint union of directed cycles (a fixed
    point is a self-loop), so the cycles are its strongly connected components. The spectrum is
    the union over cycles of the :math:`L`-th roots of unity
    (:func:`entangled.theory.spectral.roots_of_unity_for_cycles`).

    Raises
    ------
    ValueError
        If ``M`` is not exactly a permutation matrix.
    """
    if not is_permutation_matrix(m):
        raise EntangledError(
            f"invalid mapping {m!r} for permutation_cycle_lengths; allowed: a mapping whose "
            "matrix is exactly a permutation matrix (0/1, one 1 per row and column)"
        )
    return strong_component_sizes(m)


def stochastic_kind(m: Mapping, tol: float = 1e-9) -> str | None:
    """``"doubly"``, ``"row"``, ``"column"`` or ``None``: which sums of the nonnegative ``M``
    equal 1 within ``tol``."""
    dense = m.dense()
    if float(dense.min()) < -tol:
        return None
    rows = float((dense.sum(1) - 1).abs().max()) <= tol
    cols = float((dense.sum(0) - 1).abs().max()) <= tol
    if rows and cols:
        return "doubly"
    return "row" if rows else "column" if cols else None


def markov_spectral_gap(m: Mapping, tol: float = 1e-9) -> float:
    """Spectral gap :math:`1 - |\\lambda_2|` of the Markov chain induced by a stochastic mapping.

    For a nonnegative row-stochastic ``M`` (transition matrix) or column-stochastic ``M``
    (its transpose is one) the eigenvalues are those of the chain; :math:`\\lambda_1 = 1`, and
    with the moduli sorted decreasingly the gap is :math:`1 - |\\lambda_2|` (``1.0`` for
    ``n = 1`` — the chain on one state mixes at once). Eigenvalues are computed numerically
    from the dense matrix (``numpy.linalg.eigvals``), independent of family closed forms.

    Raises
    ------
    ValueError
        If ``M`` is not nonnegative and row- or column-stochastic within ``tol``.
    """
    if stochastic_kind(m, tol) is None:
        raise EntangledError(
            f"invalid mapping {m!r} for markov_spectral_gap; allowed: a nonnegative row- or "
            f"column-stochastic mapping (sums within tol={tol:g})"
        )
    if m.n == 1:
        return 1.0
    moduli = np.sort(np.abs(np.linalg.eigvals(m.dense().numpy())))[::-1]
    return float(1.0 - moduli[1])


def graph_summary(m: Mapping) -> dict[str, Any]:
    """All support-graph properties of ``m`` as plain data (for tables and reports)."""
    kind = stochastic_kind(m)
    return {
        "strongly_connected": is_strongly_connected(m),
        "strong_components": strong_component_count(m),
        "weak_components": weak_component_count(m),
        "degree": degree_regularity(m),
        "diameter": diameter(m),
        "cycle_lengths": permutation_cycle_lengths(m) if is_permutation_matrix(m) else None,
        "markov_spectral_gap": markov_spectral_gap(m) if kind is not None else None,
    }
