"""Hypothesis strategies for skip mappings of every registered family.

The strategies read each family's :class:`~entangled.mappings.params.Param` specifications
(``kind``, ``low``/``high``, ``search_range``, ``exclusive_low``, ``choices``,
``identity_value``), so a newly registered family is covered without code changes.

Shrinking
---------
Hypothesis shrinks integers towards 0, floats towards 0 and ``sampled_from`` towards its first
element. The strategies map those shrink targets onto the *identity end* of each parameter:

* size ``n`` shrinks to ``min_n``;
* a numeric parameter with an ``identity_value`` ``v`` in search range ``[lo, hi]`` is drawn as
  ``v + d`` or ``v - d`` with an offset ``d >= 0`` that shrinks to 0 (and a side that shrinks
  to ``+``), so ``theta -> 0``, ``strength -> 0``, ``bandwidth -> 0``, ``k -> 1``,
  ``shift -> 0``; a parameter without an identity value shrinks towards its default;
* a choice parameter shrinks to its ``identity_value`` (else its default);
* the seed shrinks to 0, and is 0 whenever the mapping does not use it (so two draws that
  build the same matrix are the same example);
* ``matrix`` parameters (family ``dense``) keep their default unless given.

Examples
--------
>>> from hypothesis import find
>>> from entangled.theory.strategies import mappings
>>> find(mappings("rotation", max_n=8), lambda m: m.n >= 3).n
3
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

from entangled.errors import InvalidParameterError

MAX_SEED = 2**32 - 1


# ----------------------------------------------------------------------- validation
def _is_int(value: Any) -> bool:
    from entangled.mappings.params import is_integer

    return is_integer(value)


def _check_size(name: str, value: Any, context: str) -> int:
    if not _is_int(value) or int(value) < 1:
        raise InvalidParameterError(name, value, "a positive integer (>= 1)", context=context)
    return int(value)


def resolve_families(family: Any, *, context: str = "mappings") -> list[str]:
    """Family names to draw from: ``None`` -> every registered family, a name -> ``[name]``,
    a non-empty sequence of names -> that list (each must be registered)."""
    import entangled as E

    known = E.families()
    if family is None:
        return known
    names = [family] if isinstance(family, str) else family
    if isinstance(names, (list, tuple)) and names and all(isinstance(f, str) for f in names):
        for name in names:
            if name not in known:
                raise InvalidParameterError(
                    "family", name, "None or one of " + ", ".join(known), context=context)
        return list(dict.fromkeys(names))
    raise InvalidParameterError(
        "family", family, "None, a family name or a non-empty list of names: "
        + ", ".join(known), context=context)


def check_size_bounds(n: Any, min_n: Any, max_n: Any, *, context: str = "mappings"):
    """Validate ``n`` / ``min_n`` / ``max_n``; return the inclusive size range ``(lo, hi)``."""
    lo = _check_size("min_n", min_n, context)
    hi = _check_size("max_n", max_n, context)
    if lo > hi:
        raise InvalidParameterError("max_n", max_n, f"an integer >= min_n={lo}", context=context)
    if n is None:
        return lo, hi
    size = _check_size("n", n, context)
    if not lo <= size <= hi:
        raise InvalidParameterError("n", n, f"an integer in [min_n={lo}, max_n={hi}]",
                                    context=context)
    return size, size


def check_range(name: str, value: Any, *, context: str, default: tuple[int, int] | None = None):
    """``int`` or inclusive ``(lo, hi)`` of positive integers -> ``(lo, hi)``."""
    if value is None and default is not None:
        return default
    if _is_int(value):
        size = _check_size(name, value, context)
        return size, size
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(_is_int(v) and int(v) >= 1 for v in value) and int(value[0]) <= int(value[1])):
        return int(value[0]), int(value[1])
    raise InvalidParameterError(
        name, value, "a positive integer or a pair (lo, hi) of positive integers, lo <= hi",
        context=context)


def _check_seed(seed: Any, context: str) -> int | None:
    if seed is None:
        return None
    if not _is_int(seed) or not 0 <= int(seed) < 2**63:
        raise InvalidParameterError("seed", seed, "None or an integer in [0, 2**63)",
                                    context=context)
    return int(seed)


def _is_strategy(value: Any) -> bool:
    from hypothesis.strategies import SearchStrategy

    return isinstance(value, SearchStrategy)


def _families_accepting(families: list[str], params: dict, context: str) -> list[str]:
    """Families that declare every name in ``params``; fixed values are checked per family."""
    import entangled as E

    accepting = []
    for name in families:
        specs = {p.name: p for p in E.family_class(name).parameters}
        if all(key in specs for key in params):
            for key, value in params.items():
                if not _is_strategy(value):
                    specs[key].check(value, context=f"{context} ({name})")
            accepting.append(name)
    if not accepting:
        allowed = "; ".join(
            f"{f}: {', '.join(p.name for p in E.family_class(f).parameters) or 'none'}"
            for f in families)
        raise InvalidParameterError("parameter", ", ".join(params),
                                    f"parameters of the family ({allowed})", context=context)
    return accepting


# ------------------------------------------------------------------ parameter draws
def parameter_strategy(param) -> Any:
    """Strategy for one :class:`~entangled.mappings.params.Param`, shrinking to its identity end.

    Returns ``None`` for parameters that are not searched (kind ``"matrix"``). The same
    parameter gives the same strategy object (built once: hypothesis works out a strategy's
    properties once per object, and a strategy built afresh for every example is most of the
    cost of drawing one); the draws do not depend on it.
    """
    try:
        return _parameter_strategy_of(param, param.search_range)
    except TypeError:  # a parameter with an unhashable default
        return _parameter_strategy(param)


@functools.cache
def _parameter_strategy_of(param, search_range) -> Any:
    # search_range is not part of a Param's equality (compare=False), so it is part of the key
    return _parameter_strategy(param)


def _parameter_strategy(param) -> Any:
    import hypothesis.strategies as st

    if param.kind == "matrix":
        return None
    if param.kind == "choice":
        target = param.identity_value if param.identity_value in param.choices else param.default
        ordered = [target] + [c for c in param.choices if c != target]
        return st.sampled_from(ordered)
    lo, hi = _search_bounds(param)
    target = param.identity_value if param.identity_value is not None else param.default
    target = min(max(target, lo), hi)
    is_int = param.kind == "int"
    above, below = hi - target, target - lo

    def offset(extent):
        if is_int:
            return st.integers(0, int(extent))
        return st.floats(0.0, float(extent), allow_nan=False, allow_infinity=False)

    def place(side_and_offset):
        sign, d = side_and_offset
        value = target + d if sign > 0 else target - d
        value = min(max(value, lo), hi)
        if param.exclusive_low and param.low is not None and value <= param.low:
            value = math.nextafter(float(param.low), math.inf)
        return int(value) if is_int else float(value)

    sides = []
    if above > 0:
        sides.append(st.tuples(st.just(1), offset(above)))
    if below > 0:
        sides.append(st.tuples(st.just(-1), offset(below)))
    if not sides:
        return st.just(place((1, 0)))
    return st.one_of(*sides).map(place)


def _search_bounds(param) -> tuple[float, float]:
    """Inclusive numeric range to search: ``search_range`` clipped to ``[low, high]``."""
    if param.search_range is not None:
        lo, hi = param.search_range
    else:
        lo = param.low if param.low is not None else param.default - 8
        hi = param.high if param.high is not None else param.default + 8
    if param.low is not None:
        lo = max(lo, param.low)
    if param.high is not None:
        hi = min(hi, param.high)
    if param.kind == "int":
        lo, hi = math.ceil(lo), math.floor(hi)
    return lo, hi


def _params_strategy(family: str, fixed: dict):
    """The strategy of a family's parameters with ``fixed`` ones fixed (one object per family
    class and fixed values, as :func:`parameter_strategy`)."""
    import entangled as E

    cls = E.family_class(family)
    try:
        key = tuple((name, type(value), value) for name, value in sorted(
            fixed.items(), key=lambda item: item[0]))
        return _params_strategy_of(cls, key)
    except TypeError:  # an unhashable fixed value
        return _params_strategy_for(cls, fixed)


@functools.lru_cache(maxsize=1024)
def _params_strategy_of(cls, fixed: tuple):
    # the key holds each value's type: 1, 1.0 and True are equal but not the same parameter
    return _params_strategy_for(cls, {name: value for name, _, value in fixed})


def _params_strategy_for(cls, fixed: dict):
    import hypothesis.strategies as st

    parts = {}
    for param in cls.parameters:
        if param.name in fixed:
            value = fixed[param.name]
            parts[param.name] = value if _is_strategy(value) else st.just(value)
        else:
            drawn = parameter_strategy(param)
            if drawn is not None:
                parts[param.name] = drawn
    return st.fixed_dictionaries(parts)


def _build(family: str, n: int, seed: int, params: dict):
    """Build the mapping; the seed becomes 0 when the construction does not use it."""
    import entangled as E

    mapping = E.make_mapping(family, n, seed=seed, **params)
    if seed != 0 and not mapping.uses_seed():
        mapping = E.make_mapping(family, n, seed=0, **params)
    return mapping


def _mapping_of(draw, family: str, n: int, seed: int | None, fixed: dict):
    import hypothesis.strategies as st

    params = draw(_params_strategy(family, fixed))
    drawn_seed = seed if seed is not None else draw(st.integers(0, MAX_SEED))
    return _build(family, n, drawn_seed, params)


def with_structure(families: list[str], structure: Any, params: dict, context: str
                   ) -> dict[str, dict]:
    """``{family: parameters to draw with}`` for the families whose members (all, or those of
    one :class:`~entangled.mappings.structure.When`) have every term of ``structure``: the
    ``params`` given, plus, for a conditional structure, the narrowed parameters of its
    ``When`` that ``params`` do not fix. An error when no family has it."""
    import entangled as E
    from entangled.mappings.structure import as_terms, restriction_for

    if structure is None:
        return {name: dict(params) for name in families}
    terms = as_terms(structure, context=context)
    out = {}
    for name in families:
        cls = E.family_class(name)
        when = restriction_for(cls, terms)
        if when is False:
            continue
        narrowed = {} if when is None or when is True else {
            key: parameter_strategy(param) for key, param in when.narrowed(cls.parameters).items()}
        out[name] = {**narrowed, **params}
    if not out:
        raise InvalidParameterError(
            "structure", sorted(t.value for t in terms),
            "terms that one of the families " + ", ".join(families) + " declares", context=context)
    return out


# ------------------------------------------------------------------------- public
def mappings(family: str | Sequence[str] | None = None, *, n: int | None = None,
             min_n: int = 1, max_n: int = 64, seed: int | None = None, structure: Any = None,
             **params: Any):
    """Strategy for :class:`~entangled.Mapping` objects.

    Parameters
    ----------
    family : str, sequence of str or None, default None
        Family name(s) to draw from; ``None`` draws from every registered family (those that
        declare all names in ``params``). Shrinks towards the first listed family.
    n : int, optional
        Fixed size; must lie in ``[min_n, max_n]``. Default: drawn from ``[min_n, max_n]``,
        shrinking to ``min_n``.
    min_n, max_n : int, default 1 and 64
        Inclusive bounds of the size.
    seed : int, optional
        Fixed construction seed; default: drawn from ``[0, 2**32)``, shrinking to 0.
    structure : str or list of str, optional
        Only members with these terms of :class:`~entangled.mappings.structure.Structure`
        (e.g. ``"orthogonal"``): the families that declare them for every member, and those
        that declare them for some parameter values (``structure_when``), drawn in those
        ranges only.
    **params
        Per parameter either a fixed value (validated against the family's ``Param``) or a
        hypothesis strategy that replaces the default draw. Unspecified parameters are drawn
        from their search range and shrink towards the identity end (see module docstring).

    Raises
    ------
    InvalidParameterError
        (a ``ValueError``) for an unknown family, bad sizes or seed, a parameter name no
        requested family declares, or a fixed value outside the parameter's range.
    """
    import hypothesis.strategies as st

    context = "entangled.theory.strategies.mappings"
    names = resolve_families(family, context=context)
    lo, hi = check_size_bounds(n, min_n, max_n, context=context)
    fixed_seed = _check_seed(seed, context)
    names = _families_accepting(names, params, context) if params else names
    drawn = with_structure(names, structure, params, context)
    names = list(drawn)

    @st.composite
    def draw_mapping(draw):
        name = draw(st.sampled_from(names))
        size = draw(st.integers(lo, hi))
        return _mapping_of(draw, name, size, fixed_seed, drawn[name])

    return draw_mapping()


def mapping_sequences(family: str | Sequence[str] | None = None, *,
                      depth: int | tuple[int, int] = (1, 8), n: int | None = None,
                      min_n: int = 1, max_n: int = 64, seed: int | None = None,
                      structure: Any = None, **params: Any):
    """Strategy for tuples ``(M_1, ..., M_L)`` of mappings of one family and one size ``n``.

    Used for composition claims (products ``M_L ... M_1``, composite gain across depth). Each
    element gets an independent seed and independently drawn parameters, except those fixed
    in ``params`` (a fixed ``seed`` gives every element that seed).

    Parameters
    ----------
    family : str, sequence of str or None, default None
        As in :func:`mappings`; all elements of one tuple share the family.
    depth : int or (lo, hi), default (1, 8)
        Length ``L`` of the tuple, or its inclusive range (shrinks to ``lo``).
    n, min_n, max_n, seed, structure, **params
        As in :func:`mappings` (every element has the ``structure``).
    """
    import hypothesis.strategies as st

    context = "entangled.theory.strategies.mapping_sequences"
    names = resolve_families(family, context=context)
    d_lo, d_hi = check_range("depth", depth, context=context)
    lo, hi = check_size_bounds(n, min_n, max_n, context=context)
    fixed_seed = _check_seed(seed, context)
    names = _families_accepting(names, params, context) if params else names
    drawn = with_structure(names, structure, params, context)
    names = list(drawn)

    @st.composite
    def draw_sequence(draw):
        name = draw(st.sampled_from(names))
        size = draw(st.integers(lo, hi))
        length = draw(st.integers(d_lo, d_hi))
        return tuple(_mapping_of(draw, name, size, fixed_seed, drawn[name])
                     for _ in range(length))

    return draw_sequence()
