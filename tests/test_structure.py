"""Declared structure (entangled.mappings.structure): the vocabulary's checks on known
matrices, and every family's declaration held against its own sampled matrices across its
parameter space (hypothesis, the same strategies the conjecture engine searches)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given

import entangled as E
from entangled.errors import InvalidParameterError
from entangled.mappings.base import Mapping
from entangled.mappings.structure import (
    Structure,
    When,
    admits,
    as_terms,
    check_declaration,
    closure,
    declared,
    holds,
    restriction_for,
    violations,
)
from entangled.theory import strategies

S = Structure


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def rotation(theta: float) -> torch.Tensor:
    return t([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


# ---------------------------------------------------------------- the vocabulary's checks
KNOWN = [  # (matrix, terms it has, terms it lacks)
    (torch.eye(3, dtype=torch.float64), set(S) - {S.SPARSE, S.POSITIVE}, {S.POSITIVE}),
    (t([[0, 1, 0], [0, 0, 1], [1, 0, 0]]),
     {S.PERMUTATION, S.ORTHOGONAL, S.DOUBLY_STOCHASTIC, S.NONNEGATIVE, S.NORMAL},
     {S.SYMMETRIC, S.POSITIVE}),
    (rotation(0.3), {S.ORTHOGONAL, S.NORMAL}, {S.NONNEGATIVE, S.SYMMETRIC, S.PERMUTATION}),
    (t([[0.5, 0.5], [0.5, 0.5]]), {S.DOUBLY_STOCHASTIC, S.SYMMETRIC, S.POSITIVE, S.NORMAL},
     {S.ORTHOGONAL, S.PERMUTATION}),
    (t([[1.0, 0.0], [0.5, 0.5]]), {S.ROW_STOCHASTIC, S.NONNEGATIVE},
     {S.COLUMN_STOCHASTIC, S.DOUBLY_STOCHASTIC, S.NORMAL, S.POSITIVE, S.SYMMETRIC}),
    (t([[0.2, 0.6], [0.8, 0.4]]), {S.COLUMN_STOCHASTIC, S.POSITIVE},
     {S.ROW_STOCHASTIC, S.SYMMETRIC, S.NORMAL}),
    (t([[1.0, 1.0], [0.0, 1.0]]), {S.NONNEGATIVE}, {S.NORMAL, S.ORTHOGONAL, S.ROW_STOCHASTIC}),
    (t([[2.0, -1.0], [-1.0, 2.0]]), {S.SYMMETRIC, S.NORMAL}, {S.NONNEGATIVE, S.ORTHOGONAL}),
    (t([[0.6, -0.8], [0.8, 0.6]]) * 2, {S.NORMAL}, {S.ORTHOGONAL}),  # normal, not orthogonal
]


@pytest.mark.parametrize("matrix, has, lacks", KNOWN)
def test_checks_give_the_known_answers(matrix, has, lacks):
    for term in has:
        assert holds(term, matrix), term
    for term in lacks:
        assert not holds(term, matrix), term


def test_normality_agrees_with_a_diagonal_schur_form():
    """Known answer: M is normal iff its complex Schur form T (M = Z T Z*) is diagonal."""
    generator = np.random.default_rng(0)
    cases = [generator.normal(size=(4, 4)), scipy.linalg.circulant([1.0, 2.0, 0.0, 3.0]),
             scipy.linalg.expm(np.triu(generator.normal(size=(4, 4)), 1)
                               - np.triu(generator.normal(size=(4, 4)), 1).T)]
    for matrix in cases:
        schur, _ = scipy.linalg.schur(matrix, output="complex")
        diagonal = np.abs(schur - np.diag(np.diag(schur))).max() < 1e-9
        assert holds(S.NORMAL, torch.from_numpy(matrix)) == diagonal


def test_sparse_compares_the_exact_nonzero_count_with_the_declared_bound():
    matrix = t([[1, 0, 2], [0, 1, 0], [0, 0, 1]])
    assert holds(S.SPARSE, matrix, max_nonzeros=4)
    assert not holds(S.SPARSE, matrix, max_nonzeros=3)
    with pytest.raises(InvalidParameterError, match="max_nonzeros"):
        holds(S.SPARSE, matrix)


def test_closure_follows_implications():
    assert closure({S.PERMUTATION}) == {S.PERMUTATION, S.ORTHOGONAL, S.NORMAL,
                                         S.DOUBLY_STOCHASTIC, S.ROW_STOCHASTIC,
                                         S.COLUMN_STOCHASTIC, S.NONNEGATIVE}
    assert closure({S.SYMMETRIC}) == {S.SYMMETRIC, S.NORMAL}
    assert closure(()) == frozenset()


def test_implications_hold_on_matrices_that_have_the_implying_term():
    for matrix, has, _ in KNOWN:
        for term in [t for t in has if t is not S.SPARSE]:
            for implied in closure({term}):
                assert holds(implied, matrix), (term, implied)


def test_terms_are_strings_and_unknown_terms_are_refused():
    assert S.ORTHOGONAL == "orthogonal" and as_terms(["orthogonal"]) == {S.ORTHOGONAL}
    with pytest.raises(InvalidParameterError, match="invalid structure='unitary'; allowed: "
                                                    "structure terms: orthogonal, permutation"):
        as_terms(["unitary"])


# ------------------------------------------------------------ every family keeps its word
def _cases():
    """(family, When or None): the unconditional declaration and each conditional one."""
    out = []
    for family in E.families():
        cls = E.family_class(family)
        out.append((family, None))
        out += [(family, when) for when in cls.structure_when]
    return out


def _case_id(case):
    family, when = case
    return family if when is None else f"{family}-when-{'-'.join(k for k, _ in when.ranges)}"


@pytest.mark.parametrize("case", _cases(), ids=_case_id)
def test_every_declaration_holds_on_the_familys_own_matrices(case):
    family, when = case
    cls = E.family_class(family)
    narrowed = {} if when is None else {
        name: strategies.parameter_strategy(param)
        for name, param in when.narrowed(cls.parameters).items()}

    @given(strategies.mappings(family, max_n=24, **narrowed))
    def check(m):
        if when is not None:
            assert when.applies(m.params) and when.structure <= m.declared_structure()
        assert violations(m) == [], (m, m.params)

    check()


def test_declarations_of_the_built_in_families():
    assert {f for f in E.families() if S.ORTHOGONAL in declared(E.family_class(f))} == {
        "block_orthogonal", "identity", "orthogonal", "permutation", "rotation"}
    assert {f for f in E.families() if S.DOUBLY_STOCHASTIC in declared(E.family_class(f))} == {
        "birkhoff", "circulant", "identity", "permutation"}
    assert {f for f in E.families() if S.PERMUTATION in declared(E.family_class(f))} == {
        "identity", "permutation"}
    assert declared(E.family_class("dense")) == frozenset()


def test_a_family_that_claims_what_its_matrices_lack_is_caught():
    class Doubled(Mapping):
        family = "doubled"
        structure = frozenset({S.ORTHOGONAL})

        def _build_matrix(self):
            return 2 * torch.eye(self.n, dtype=torch.float64)

    assert violations(Doubled(3)) == [S.ORTHOGONAL]


def test_bad_declarations_are_refused_when_a_family_is_registered():
    class Unknown(Mapping):
        family = "unknown_term"
        structure = frozenset({"unitary"})

    class NoSuchParameter(Mapping):
        family = "no_such_parameter"
        structure_when = (When(S.SYMMETRIC, width=(1, None)),)

    class SparseWithoutBound(Mapping):
        family = "sparse_without_bound"
        structure = frozenset({S.SPARSE})

    with pytest.raises(InvalidParameterError, match="invalid structure='unitary'"):
        E.register_family(Unknown)
    with pytest.raises(InvalidParameterError, match="invalid structure_when='width'; allowed: "
                                                    "parameters of the family: none"):
        E.register_family(NoSuchParameter)
    with pytest.raises(InvalidParameterError, match="implements max_nonzeros"):
        check_declaration(SparseWithoutBound, unbounded=Mapping.max_nonzeros)
    assert {"unknown_term", "no_such_parameter"}.isdisjoint(E.families())


# ------------------------------------------------------------------------------ planning
def test_conditional_structure_narrows_the_parameters_that_are_searched():
    sinkhorn, sparse = E.family_class("sinkhorn"), E.family_class("sparse")
    when = restriction_for(sinkhorn, {S.COLUMN_STOCHASTIC})
    assert when is not None and when is not False and when.describe() == \
        "column_stochastic when iters >= 1"
    narrowed = when.narrowed(sinkhorn.parameters)["iters"]
    assert (narrowed.low, narrowed.high, narrowed.search_range) == (1, 10_000, (1, 50))
    assert restriction_for(sparse, {S.ROW_STOCHASTIC}).narrowed(sparse.parameters)[
        "normalise"].choices == ("row",)
    assert restriction_for(E.family_class("birkhoff"), {S.COLUMN_STOCHASTIC}) is None
    assert restriction_for(E.family_class("orthogonal"), {S.DOUBLY_STOCHASTIC}) is False


def test_admits_requires_declared_terms_and_excludes_guaranteed_ones():
    def admitted(requires=(), excludes=()):
        return {f for f in E.families() if admits(E.family_class(f), requires, excludes)}

    assert admitted({S.ORTHOGONAL}, {S.NONNEGATIVE}) == {"block_orthogonal", "orthogonal",
                                                          "rotation"}
    assert admitted({S.COLUMN_STOCHASTIC}) == {"birkhoff", "circulant", "identity",
                                               "permutation", "sinkhorn", "sparse"}
    assert admitted() == set(E.families())
    assert "identity" not in admitted(excludes={S.PERMUTATION})
