"""The vocabulary of structure that mapping families declare, and its checks on matrices.

A family says what its matrices are on the class::

    @register_family
    class HouseholderMapping(Mapping):
        family = "householder"
        structure = frozenset({Structure.ORTHOGONAL})

``structure`` holds for **every** member (every parameter value and seed). Structure that holds
only for some parameter values is declared with :class:`When`::

    structure_when = (When(Structure.COLUMN_STOCHASTIC, iters=(1, None)),)

A declaration is verified, not trusted: a generic test draws each family's own matrices across
its parameter space and checks every declared term (:func:`holds`). Conjectures state what they
require (``@conjecture(requires=["orthogonal"])``) and the engine chooses the families whose
declared structure admits them (:func:`admits`, :func:`restriction_for`).

Terms imply others (:data:`IMPLIES`, closed by :func:`closure`): a family declares the
strongest terms it has and gets the implied ones.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Iterable

import torch

from entangled.errors import InvalidParameterError
from entangled.words import Word

if TYPE_CHECKING:  # pragma: no cover
    from entangled.mappings.base import Mapping
    from entangled.mappings.params import Param

#: Default tolerance of the checks (entrywise, float64).
DEFAULT_TOL = 1e-9


class Structure(Word):
    """A property of a matrix ``M`` (``n x n``, float64) that a family can declare.

    The value is the term as written in declarations and ``requires=`` (``"orthogonal"``); a
    member equals its string, but hashes differently, so convert strings with
    :func:`as_terms` before set operations.
    """

    #: :math:`M^T M = I`.
    ORTHOGONAL = "orthogonal"
    #: Exactly one entry 1 in every row and every column, zeros elsewhere.
    PERMUTATION = "permutation"
    #: :math:`M \ge 0`, :math:`M\mathbf 1 = \mathbf 1` and :math:`\mathbf 1^T M = \mathbf 1^T`.
    DOUBLY_STOCHASTIC = "doubly_stochastic"
    #: :math:`M \ge 0` and :math:`M\mathbf 1 = \mathbf 1`.
    ROW_STOCHASTIC = "row_stochastic"
    #: :math:`M \ge 0` and :math:`\mathbf 1^T M = \mathbf 1^T`.
    COLUMN_STOCHASTIC = "column_stochastic"
    #: Every entry :math:`M_{ij} \ge 0`.
    NONNEGATIVE = "nonnegative"
    #: Every entry :math:`M_{ij} > 0`.
    POSITIVE = "positive"
    #: :math:`M = M^T`.
    SYMMETRIC = "symmetric"
    #: :math:`M^T M = M M^T` (unitarily diagonalisable).
    NORMAL = "normal"
    #: At most ``m.max_nonzeros()`` nonzero entries: the family declares a density bound
    #: :math:`\operatorname{nnz}(M) / n^2` as a function of ``n`` and its parameters.
    SPARSE = "sparse"


#: Direct implications between terms (:func:`closure` follows them transitively).
IMPLIES: dict[Structure, frozenset[Structure]] = {
    Structure.PERMUTATION: frozenset({Structure.ORTHOGONAL, Structure.DOUBLY_STOCHASTIC}),
    Structure.DOUBLY_STOCHASTIC: frozenset({Structure.ROW_STOCHASTIC,
                                            Structure.COLUMN_STOCHASTIC}),
    Structure.ROW_STOCHASTIC: frozenset({Structure.NONNEGATIVE}),
    Structure.COLUMN_STOCHASTIC: frozenset({Structure.NONNEGATIVE}),
    Structure.POSITIVE: frozenset({Structure.NONNEGATIVE}),
    Structure.ORTHOGONAL: frozenset({Structure.NORMAL}),
    Structure.SYMMETRIC: frozenset({Structure.NORMAL}),
}


def as_terms(terms: Any, *, name: str = "structure", context: str | None = None
             ) -> frozenset[Structure]:
    """Validate a term or an iterable of terms (``Structure`` members or their strings)."""
    items = [terms] if isinstance(terms, str) else terms
    try:
        items = list(items)
    except TypeError:
        items = None
    allowed = "structure terms: " + ", ".join(s.value for s in Structure)
    if items is None:
        raise InvalidParameterError(name, terms, allowed, context=context)
    out = set()
    for term in items:
        try:
            out.add(Structure(term))
        except ValueError:
            raise InvalidParameterError(name, term, allowed, context=context) from None
    return frozenset(out)


def closure(terms: Iterable[Structure]) -> frozenset[Structure]:
    """``terms`` and every term they imply (:data:`IMPLIES`)."""
    found = set(terms)
    todo = list(found)
    while todo:
        for implied in IMPLIES.get(todo.pop(), ()):
            if implied not in found:
                found.add(implied)
                todo.append(implied)
    return frozenset(found)


@dataclasses.dataclass(frozen=True, init=False)
class When:
    """Structure that holds for the members whose parameters lie in narrowed ranges.

    ``When(Structure.COLUMN_STOCHASTIC, iters=(1, None))``: every member with ``iters >= 1``
    is column stochastic; ``When(Structure.ROW_STOCHASTIC, normalise=("row",))``: every member
    with ``normalise="row"``. A range is a tuple of allowed values for a choice parameter and
    an inclusive interval ``(low, high)`` (``None``: unbounded) for a numeric one.
    """

    structure: frozenset[Structure]
    ranges: tuple[tuple[str, tuple], ...]

    def __init__(self, *terms: Any, **ranges: tuple):
        object.__setattr__(self, "structure", as_terms(terms, context="When"))
        for key, value in ranges.items():
            if not isinstance(value, tuple) or not value:
                raise InvalidParameterError(key, value, "a non-empty tuple: allowed choices, or "
                                            "an interval (low, high)", context="When")
        object.__setattr__(self, "ranges", tuple(sorted(ranges.items())))

    def narrowed(self, parameters: Iterable["Param"]) -> dict[str, "Param"]:
        """The family's :class:`~entangled.mappings.params.Param` specs of the restricted
        parameters, narrowed to the ranges (what property-based search draws from)."""
        specs = {p.name: p for p in parameters}
        out = {}
        for key, allowed in self.ranges:
            param = specs[key]
            if param.kind == "choice":
                out[key] = dataclasses.replace(param, choices=allowed,
                                               identity_value=None, default=allowed[0])
                continue
            low, high = allowed
            new_low = param.low if low is None else max(low, param.low if param.low is not None
                                                         else low)
            new_high = param.high if high is None else min(high, param.high if param.high
                                                           is not None else high)
            search = param.search_range
            if search is not None:
                search = (search[0] if low is None else max(search[0], low),
                          search[1] if high is None else min(search[1], high))
            inside = new_low is None or param.default >= new_low
            inside = inside and (new_high is None or param.default <= new_high)
            default = param.default if inside else (new_low if new_low is not None else new_high)
            identity = param.identity_value
            if identity is not None and ((new_low is not None and identity < new_low)
                                         or (new_high is not None and identity > new_high)):
                identity = None
            out[key] = dataclasses.replace(
                param, low=new_low, high=new_high, search_range=search, default=default,
                identity_value=identity,
                exclusive_low=param.exclusive_low and new_low == param.low)
        return out

    def applies(self, params: dict) -> bool:
        """Whether members with these (validated) parameters have :attr:`structure`."""
        for key, allowed in self.ranges:
            value = params.get(key)
            if isinstance(value, str) or not isinstance(value, (int, float)):
                if value not in allowed:
                    return False
                continue
            low, high = allowed
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True

    def describe(self) -> str:
        """``"column_stochastic when iters >= 1"`` (for listings)."""
        parts = []
        for key, allowed in self.ranges:
            if all(isinstance(a, str) for a in allowed):
                parts.append(f"{key} in {', '.join(map(repr, allowed))}" if len(allowed) > 1
                             else f"{key} = {allowed[0]!r}")
            else:
                low, high = allowed
                parts.append(f"{key} >= {low:g}" if high is None else
                             f"{key} <= {high:g}" if low is None else f"{low:g} <= {key} <= {high:g}")
        return f"{', '.join(sorted(s.value for s in self.structure))} when {' and '.join(parts)}"


# --------------------------------------------------------------------------- declarations
def declared(cls: type["Mapping"]) -> frozenset[Structure]:
    """What every member of family class ``cls`` is (its ``structure``, closed)."""
    return closure(as_terms(getattr(cls, "structure", ()), context=_name(cls)))


def conditional(cls: type["Mapping"]) -> tuple[When, ...]:
    """The family's :class:`When` declarations."""
    return tuple(getattr(cls, "structure_when", ()))


def of_member(cls: type["Mapping"], params: dict) -> frozenset[Structure]:
    """What a member with these parameters is (unconditional and applicable conditional)."""
    terms = set(declared(cls))
    for when in conditional(cls):
        if when.applies(params):
            terms |= when.structure
    return closure(terms)


def check_declaration(cls: type["Mapping"], unbounded: Any = None) -> None:
    """Raise :class:`~entangled.errors.InvalidParameterError` for a declaration that is not in
    the vocabulary, names a parameter the family lacks, or declares ``sparse`` while its
    ``max_nonzeros`` is still ``unbounded`` (the base class's method, which declares no bound).
    Called when a family is registered."""
    context = _name(cls)
    terms = as_terms(getattr(cls, "structure", ()), context=context)
    whens = getattr(cls, "structure_when", ())
    if not isinstance(whens, tuple) or not all(isinstance(w, When) for w in whens):
        raise InvalidParameterError("structure_when", whens, "a tuple of When(...) declarations",
                                    context=context)
    names = {p.name: p for p in cls.parameters}
    for when in whens:
        for key, allowed in when.ranges:
            if key not in names:
                raise InvalidParameterError("structure_when", key, "parameters of the family: "
                                            + (", ".join(names) or "none"), context=context)
            if names[key].kind == "choice" and not set(allowed) <= set(names[key].choices):
                raise InvalidParameterError("structure_when", allowed,
                                            f"choices of {key}: {names[key].allowed()}",
                                            context=context)
    sparse = Structure.SPARSE in terms or any(Structure.SPARSE in w.structure for w in whens)
    if sparse and getattr(cls, "max_nonzeros", unbounded) is unbounded:
        raise InvalidParameterError("structure", "sparse", "a family that implements "
                                    "max_nonzeros() (the declared density bound)", context=context)


def _name(cls: Any) -> str:
    return f"family {getattr(cls, 'family', None) or getattr(cls, '__name__', cls)!r}"


# --------------------------------------------------------------------------- planning
def admits(cls: type["Mapping"], requires: Iterable[Structure] = (),
           excludes: Iterable[Structure] = ()) -> bool:
    """Whether a conjecture that ``requires`` these terms and ``excludes`` those is searched on
    family ``cls``: every required term is declared, for all members or for the members of one
    :class:`When`, and no excluded term is declared for all members."""
    if as_terms(excludes, name="excludes") & declared(cls):
        return False
    return restriction_for(cls, requires) is not False


def restriction_for(cls: type["Mapping"], requires: Iterable[Structure]) -> "When | bool | None":
    """How to draw members of ``cls`` that have every term of ``requires``: ``None`` (every
    member has them), the first :class:`When` whose members have them, or ``False`` (none)."""
    required = as_terms(requires, name="requires")
    base = declared(cls)
    if required <= base:
        return None
    for when in conditional(cls):
        if required <= closure(base | when.structure):
            return when
    return False


# ------------------------------------------------------------------------------- checks
def holds(term: Structure, matrix: torch.Tensor, *, tol: float = DEFAULT_TOL,
          max_nonzeros: int | None = None) -> bool:
    """Whether ``matrix`` (float64 ``n x n``) has ``term``, entrywise up to ``tol`` (relative
    to the largest entry for symmetry and normality; ``sparse`` compares the exact number of
    nonzeros with ``max_nonzeros``)."""
    m = matrix.to(torch.float64)
    n = m.shape[0]
    eye = torch.eye(n, dtype=m.dtype)
    ones = torch.ones(n, dtype=m.dtype)
    scale = max(1.0, float(m.abs().max()))
    term = Structure(term)
    if term is Structure.ORTHOGONAL:
        return _close(m.T @ m, eye, tol)
    if term is Structure.PERMUTATION:
        binary = bool(((m.abs() <= tol) | ((m - 1).abs() <= tol)).all())
        return binary and _close(m.sum(0), ones, tol) and _close(m.sum(1), ones, tol)
    if term is Structure.DOUBLY_STOCHASTIC:
        return (holds(Structure.ROW_STOCHASTIC, m, tol=tol)
                and holds(Structure.COLUMN_STOCHASTIC, m, tol=tol))
    if term is Structure.ROW_STOCHASTIC:
        return holds(Structure.NONNEGATIVE, m, tol=tol) and _close(m.sum(1), ones, tol)
    if term is Structure.COLUMN_STOCHASTIC:
        return holds(Structure.NONNEGATIVE, m, tol=tol) and _close(m.sum(0), ones, tol)
    if term is Structure.NONNEGATIVE:
        return bool(m.min() >= -tol)
    if term is Structure.POSITIVE:
        return bool(m.min() > 0)
    if term is Structure.SYMMETRIC:
        return _close(m, m.T, tol * scale)
    if term is Structure.NORMAL:
        return _close(m.T @ m, m @ m.T, tol * scale * scale)
    if term is Structure.SPARSE:
        if max_nonzeros is None:
            raise InvalidParameterError("max_nonzeros", None, "the declared bound (an integer) "
                                        "to check 'sparse' against")
        return int(torch.count_nonzero(m)) <= max_nonzeros
    raise AssertionError(term)  # pragma: no cover - every member is handled above


def _close(a: torch.Tensor, b: torch.Tensor, tol: float) -> bool:
    return bool((a - b).abs().max() <= tol)


def violations(m: "Mapping", *, tol: float = DEFAULT_TOL) -> list[Structure]:
    """The terms a mapping declares (:meth:`~entangled.Mapping.declared_structure`) but its matrix does
    not have (empty for a family that keeps its word)."""
    dense = m.dense()
    return sorted((term for term in m.declared_structure()
                   if not holds(term, dense, tol=tol, max_nonzeros=m.max_nonzeros())),
                  key=lambda t: t.value)
