"""Tests of entangled.theory.strategies: validity, fixed arguments, shrinking, bad arguments."""

import math

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import entangled as E
from entangled.theory.strategies import mapping_sequences, mappings, parameter_strategy

FAMILIES = E.families()


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=10)
@given(data=st.data())
def test_mappings_are_valid_members_of_their_family(family, data):
    m = data.draw(mappings(family, max_n=8))
    assert m.family == family
    assert 1 <= m.n <= 8
    rebuilt = E.Mapping.from_dict(m.to_dict())
    assert rebuilt == m
    assert E.family_class(family).contains(m.matrix(), **m.params)  # membership, pinned
    if not m.uses_seed():
        assert m.seed == 0


@settings(max_examples=15)
@given(mappings(n=5, seed=3))
def test_fixed_n_and_seed_are_honoured(m):
    assert m.n == 5
    assert m.seed in (0, 3)  # 0 when the construction does not use the seed
    if m.uses_seed():
        assert m.seed == 3


@settings(max_examples=15)
@given(mappings("sparse", max_n=6, strength=0.25, density=st.just(0.5)))
def test_fixed_values_and_strategies_override_params(m):
    assert m.params["strength"] == 0.25
    assert m.params["density"] == 0.5


@settings(max_examples=15)
@given(mappings(min_n=3, max_n=4, theta=0.5))
def test_family_none_with_params_draws_only_families_declaring_them(m):
    assert m.family == "rotation"
    assert 3 <= m.n <= 4


@settings(max_examples=15)
@given(mapping_sequences("birkhoff", depth=(2, 4), max_n=5))
def test_sequences_share_family_and_size(seq):
    assert isinstance(seq, tuple) and 2 <= len(seq) <= 4
    assert {m.family for m in seq} == {"birkhoff"}
    assert len({m.n for m in seq}) == 1


# ------------------------------------------------------------------------- shrinking
def _identity_end(param):
    """Expected shrink target of one parameter, read from its spec."""
    if param.kind == "matrix":
        return param.default
    if param.kind == "choice":
        return param.identity_value if param.identity_value in param.choices else param.default
    return param.identity_value if param.identity_value is not None else param.default


@pytest.mark.parametrize("family", FAMILIES)
def test_unconstrained_draw_shrinks_to_n1_seed0_and_identity_end(family):
    m = find(mappings(family), lambda m: True)
    assert m.n == 1 and m.seed == 0
    for param in E.family_class(family).parameters:
        assert m.params[param.name] == param.check(_identity_end(param)), param.name


def test_n_shrinks_to_smallest_satisfying_size():
    assert find(mappings("orthogonal"), lambda m: m.n >= 4).n == 4
    assert find(mappings("orthogonal", min_n=6, max_n=9), lambda m: True).n == 6


def test_numeric_params_shrink_towards_identity_value():
    assert find(mappings("birkhoff"), lambda m: m.params["k"] >= 3).params["k"] == 3
    assert find(mappings("rotation"), lambda m: m.params["theta"] <= -1).params["theta"] == -1.0
    assert find(mappings("rotation"), lambda m: m.params["theta"] >= 2).params["theta"] == 2.0
    shift = find(mappings("permutation", kind="shift"), lambda m: abs(m.params["shift"]) >= 2)
    assert shift.params["shift"] == 2
    strength = find(mappings("sparse"), lambda m: m.params["strength"] > 0).params["strength"]
    assert 0 < strength <= 1


def test_seed_shrinks_to_zero_and_sequences_to_shortest():
    m = find(mappings("orthogonal"), lambda m: m.seed >= 5)
    assert m.seed == 5
    seq = find(mapping_sequences("orthogonal"), lambda s: len(s) >= 3)
    assert len(seq) == 3 and all(x.n == 1 and x.seed == 0 for x in seq)


def test_parameter_without_identity_value_shrinks_to_default():
    (iters,) = [p for p in E.family_class("sinkhorn").parameters if p.name == "iters"]
    assert find(parameter_strategy(iters), lambda v: True) == iters.default
    assert find(parameter_strategy(iters), lambda v: v < iters.default) == iters.default - 1


def test_exclusive_low_is_never_drawn():
    (temperature,) = [p for p in E.family_class("sinkhorn").parameters
                      if p.name == "temperature"]
    lowest = find(parameter_strategy(temperature), lambda v: v < 0.06)
    assert lowest > temperature.low and math.isfinite(lowest)


# ------------------------------------------------------------------- bad arguments
BAD_MAPPINGS = [
    (dict(family="nope"), "family"),
    (dict(family=3), "family"),
    (dict(family=[]), "family"),
    (dict(n=0), "n"),
    (dict(n=2.5), "n"),
    (dict(n="3"), "n"),
    (dict(n=70), "n"),
    (dict(min_n=0), "min_n"),
    (dict(max_n=-1), "max_n"),
    (dict(min_n=5, max_n=2), "max_n"),
    (dict(seed=-1), "seed"),
    (dict(seed=1.5), "seed"),
    (dict(family="sparse", theta=0.1), "parameter"),
    (dict(family="sparse", strength=2.0), "strength"),
    (dict(family="permutation", kind="zigzag"), "kind"),
    (dict(nonexistent_param=1), "parameter"),
]


@pytest.mark.parametrize("kwargs, name", BAD_MAPPINGS)
def test_bad_arguments_of_mappings_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"invalid {name}"):
        mappings(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(depth=0), "depth"), (dict(depth=(3, 1)), "depth"), (dict(depth="x"), "depth"),
    (dict(depth=(1, 2, 3)), "depth"), (dict(n=0), "n"), (dict(family="nope"), "family"),
])
def test_bad_arguments_of_mapping_sequences_raise(kwargs, name):
    with pytest.raises(ValueError, match=f"invalid {name}"):
        mapping_sequences(**kwargs)


def test_bounds_are_keyword_only():
    with pytest.raises(TypeError):
        mappings("rotation", 3)  # n must be given by keyword


def test_a_parameters_strategy_is_built_once_and_draws_as_a_fresh_one():
    """parameter_strategy and the family's parameter strategy are one object per parameter
    (hypothesis works out a strategy's properties per object); the cached strategy draws
    exactly what one built afresh draws, and a parameter that differs only in its search
    range (not part of Param equality) gets its own."""
    import dataclasses

    from hypothesis import HealthCheck, Phase

    from entangled.theory import strategies as module

    density = {p.name: p for p in E.family_class("sparse").parameters}["density"]
    assert parameter_strategy(density) is parameter_strategy(density)
    narrower = dataclasses.replace(density, search_range=(0.2, 0.3))
    assert narrower == density and parameter_strategy(narrower) is not parameter_strategy(density)
    assert module._params_strategy("sparse", {"strength": 0.5}) is \
        module._params_strategy("sparse", {"strength": 0.5})
    assert module._params_strategy("sparse", {"strength": 1}) is not \
        module._params_strategy("sparse", {"strength": 1.0})  # equal values, other types

    def draws(strategy_of) -> list:
        seen = []

        @settings(max_examples=25, derandomize=True, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(st.data())
        def collect(data):
            seen.append(data.draw(strategy_of()))

        collect()
        return seen

    cached = draws(lambda: module._params_strategy("sparse", {}))
    fresh = draws(lambda: module._params_strategy_for(E.family_class("sparse"), {}))
    assert cached == fresh and len({tuple(sorted(d.items())) for d in cached}) > 5
