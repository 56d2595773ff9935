"""The ``@conjecture`` decorator, the :class:`Conjecture` record and the conjecture registry.

A conjecture is a pure function of a mapping that returns ``bool`` (holds iff ``True``) or a
``float`` deviation (holds iff ``<= tol``; NaN never holds), registered with the structure it
requires (in the spirit of networkx's ``not_implemented_for``)::

    from entangled.theory import conjecture

    @conjecture(requires=["orthogonal"], tol=1e-9)
    def eigenvalues_on_unit_circle(m):
        \"\"\"Every eigenvalue has modulus 1, as for the identity.\"\"\"
        return float((m.eigvals().abs() - 1).abs().max())

The engine searches it on every registered family whose declared structure
(:mod:`entangled.mappings.structure`) admits it, chosen when the checks are planned, so a
plug-in family declaring ``orthogonal`` gets it too. ``families=[...]`` names families instead,
for claims about particular families: their own parameters or construction, the families a
paper names, or the families where a claim believed false has its counterexamples.

Composition claims set ``depth``: the function then receives a **tuple** ``(M_1, ..., M_L)``
of mappings of one family and one size ``n`` (independent seeds; parameters drawn
independently unless fixed in ``params``), with ``L = depth`` or ``L`` in ``depth = (lo, hi)``.

Registration is idempotent per qualified name (re-importing a module replaces its entries
instead of duplicating them), and :func:`scope` collects the registrations of a block of code
(loading user files) in a separate registry.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, cast

from entangled.errors import InvalidParameterError
from entangled.theory.ledger import Verdict

EXPECTED = (Verdict.HOLDS, Verdict.FALSIFIED)

#: Names accepted in ``families`` that are not registered mapping families: conjectures about
#: them are evaluated on given mappings (:func:`entangled.theory.evaluate_on`), never searched.
NON_SEARCHED_FAMILIES = {
    "probed": "the measured skip map of a user's module (entangled probe)",
}
KINDS = ("theorem", "empirical", "implementation")
VERDICTS = tuple(Verdict)
#: Precisions a conjecture can be checked in (``dtypes=``): torch dtype names.
DTYPES = ("float64", "float32", "bfloat16")
DEFAULT_EXAMPLES = 30


@dataclass
class Conjecture:
    """A registered claim about skip mappings.

    Attributes
    ----------
    name : qualified name ``module.function`` (for a file loaded by path, ``stem.function``).
    statement : first line of the docstring.
    doc : the full docstring.
    families : family names the claim covers, or ``("all",)``: every family that
        :attr:`requires` admits (chosen at search time).
    requires : structure terms (:class:`~entangled.mappings.structure.Structure` values)
        every searched member must have: the families that declare them, for all members or
        for some parameter values (then only those are drawn).
    excludes : structure terms a searched family must not declare for all its members.
    tol : tolerance; a float result ``v`` holds iff ``v <= tol``.
    n : inclusive range ``(lo, hi)`` of sizes searched.
    depth : ``None`` (one mapping) or inclusive range ``(lo, hi)`` of tuple lengths.
    params : per-parameter fixed values or hypothesis strategies overriding the defaults.
    reference : where the claim comes from (paper, section), or None.
    expected : ``"holds"`` or ``"falsified"`` (a claim believed false).
    theme : last component of the module name.
    proof : None or an object with ``statement``, ``latex`` and ``check() -> bool``.
    examples : examples per family, or None for the engine default.
    function : the decorated function.
    module : the real module name of ``function``.
    source : path of the file the conjecture was loaded from, or None.
    kind : None, or what the claim is when it comes from the literature: ``"theorem"`` (a
        mathematical statement), ``"empirical"`` (a measured or reported behaviour) or
        ``"implementation"`` (a promise about code, checked by probing modules).
    dtypes : ``()`` (the function takes only the example, and computes in float64), or the
        precisions the claim is checked in: the engine calls ``function(example, dtype=...)``
        once per dtype, one ledger entry each.
    expected_by_dtype : ``{dtype: Verdict}`` where the expectation depends on the precision
        (e.g. holds in float64, falsified in float32); else empty.
    """

    name: str
    statement: str
    doc: str
    families: tuple[str, ...]
    tol: float
    n: tuple[int, int]
    depth: tuple[int, int] | None
    params: dict = field(default_factory=dict)
    reference: str | None = None
    expected: Verdict = Verdict.HOLDS
    theme: str = ""
    proof: Any = None
    examples: int | None = None
    function: Callable | None = field(default=None, repr=False, compare=False)
    module: str = ""
    source: str | None = None
    kind: str | None = None
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()
    expected_by_dtype: dict = field(default_factory=dict)

    def expected_for(self, dtype: str | None) -> Verdict:
        """What the catalog believes of this claim in ``dtype`` (``None``: the default)."""
        return self.expected_by_dtype.get(dtype, self.expected) if dtype else self.expected

    @property
    def by_structure(self) -> bool:
        """Whether the families are chosen by structure (not named)."""
        return self.families == ("all",)

    @property
    def short_name(self) -> str:
        """``theme.function``, the readable id used in tables and pytest ids."""
        return f"{self.theme}.{self.function_name}"

    @property
    def function_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    def searched_families(self, available: list[str] | None = None) -> list[str]:
        """The registered families the engine searches: the named ones, or every family whose
        declared structure admits :attr:`requires` and :attr:`excludes`."""
        from entangled.mappings.registry import FAMILY_REGISTRY
        from entangled.mappings.structure import admits

        known = FAMILY_REGISTRY.names() if available is None else available
        if not self.by_structure:
            return [f for f in self.families if f in known]
        return [f for f in known if f in FAMILY_REGISTRY
                and admits(FAMILY_REGISTRY.get(f), cast(Any, self.requires), cast(Any, self.excludes))]

    def __call__(self, example):
        return self.function(example)


# ------------------------------------------------------------------------ registry
class Registry:
    """Conjectures by qualified name (re-registering a name replaces the entry)."""

    def __init__(self) -> None:
        self._entries: dict[str, Conjecture] = {}

    def add(self, conj: Conjecture) -> None:
        self._entries[conj.name] = conj

    def conjectures(self) -> list[Conjecture]:
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries


_GLOBAL = Registry()
_STACK: list[Registry] = [_GLOBAL]


def all_conjectures() -> list[Conjecture]:
    """Every conjecture registered in the global registry, in registration order."""
    return _GLOBAL.conjectures()


def current_registry() -> Registry:
    """The registry new registrations go to (the innermost :func:`scope`)."""
    return _STACK[-1]


def registry_for(function: Callable) -> Registry:
    """Where a decorated function registers: functions of a file loaded by
    :func:`entangled.theory.loader.load_file` go to the innermost :func:`scope`, every other module
    (the built-in catalog, importable user modules) to the global registry, so importing the
    catalog inside a scope never moves or duplicates it."""
    globs = getattr(function, "__globals__", {})
    return current_registry() if "__conjecture_module__" in globs else _GLOBAL


@contextlib.contextmanager
def scope() -> Iterator[Registry]:
    """Collect the registrations of file-loaded conjectures made inside the block in a fresh
    :class:`Registry` (the global registry is not touched)."""
    registry = Registry()
    _STACK.append(registry)
    try:
        yield registry
    finally:
        _STACK.remove(registry)


# ---------------------------------------------------------------------- validation
def _check_families(families: Any, context: str) -> tuple[str, ...]:
    if families is None or families == "all":
        return ("all",)
    if (isinstance(families, (list, tuple)) and families
            and all(isinstance(f, str) and f for f in families)):
        names = tuple(dict.fromkeys(families))
        for name in names:
            _check_family_name(name, context)
        return names
    raise InvalidParameterError("families", families,
                                "None, 'all' or a non-empty list of family names", context=context)


def _check_structure(name: str, terms: Any, families: tuple[str, ...], params: Any,
                     context: str) -> tuple[str, ...]:
    """Validated ``requires``/``excludes`` terms, sorted; only with families chosen by
    structure, and without ``params`` (parameters belong to named families)."""
    from entangled.mappings.structure import as_terms

    checked = tuple(sorted(t.value for t in as_terms(terms or (), name=name, context=context)))
    if checked and families != ("all",):
        raise InvalidParameterError(
            name, list(checked), f"no {name} with families={list(families)}: name the "
            "families, or let the structure choose them (families=None)", context=context)
    if checked and params:
        raise InvalidParameterError(
            "params", params, f"no params with {name}= (parameters belong to named families: "
            "use families=[...])", context=context)
    return checked


def _check_family_name(name: str, context: str) -> None:
    """A name in ``families`` must be a registered family or a non-searched one; a typo or a
    plug-in that is not installed is an error naming it (no silent shrinking of a claim)."""
    import difflib

    from entangled.mappings.registry import ENTRY_POINT_GROUP, FAMILY_REGISTRY

    known = FAMILY_REGISTRY.names()
    if name in known or name in NON_SEARCHED_FAMILIES:
        return
    declared = {ep.name: ep for ep in FAMILY_REGISTRY.entry_points()}
    if name in declared:
        dist = getattr(declared[name], "dist", None)
        package = f" of the installed package {dist.metadata['Name']}" if dist else ""
        problem = (f"the plug-in family {name!r}{package} failed to load "
                   f"(entry point {declared[name].value})")
    else:
        close = difflib.get_close_matches(name, known + list(NON_SEARCHED_FAMILIES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problem = (f"{name!r} is not a registered family{hint}; a plug-in family must be "
                   f"installed (entry-point group {ENTRY_POINT_GROUP!r}) before its "
                   "conjectures load")
    raise InvalidParameterError(
        "families", name,
        f"'all' or names from the registered families {', '.join(known)} and the non-searched "
        f"{', '.join(NON_SEARCHED_FAMILIES)} — {problem}", context=context)


def _check_tol(tol: Any, context: str) -> float:
    from entangled.mappings.params import is_real

    if not is_real(tol) or not math.isfinite(float(tol)) or float(tol) < 0:
        raise InvalidParameterError("tol", tol, "a finite real number >= 0", context=context)
    return float(tol)


def _check_params(params: Any, families: tuple[str, ...], context: str) -> dict:
    """Every param must be declared by every registered family searched; fixed values valid."""
    import entangled as E
    from hypothesis.strategies import SearchStrategy

    if params is None:
        return {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise InvalidParameterError("params", params, "a dict name -> value or strategy",
                                    context=context)
    known = E.families()
    searched = known if "all" in families else [f for f in families if f in known]
    for family in searched:
        specs = {p.name: p for p in E.family_class(family).parameters}
        for key, value in params.items():
            if key not in specs:
                raise InvalidParameterError(
                    "params", key,
                    f"parameters of family {family!r}: {', '.join(specs) or 'none'}",
                    context=context)
            if not isinstance(value, SearchStrategy):
                specs[key].check(value, context=f"{context} ({family})")
    return dict(params)


def _check_proof(proof: Any, context: str) -> Any:
    if proof is None:
        return None
    if not callable(getattr(proof, "check", None)):
        raise InvalidParameterError("proof", proof,
                                    "None or an object with statement, latex and check()",
                                    context=context)
    return proof


def _display_module(function: Callable) -> tuple[str, str, str | None]:
    """(display module, real module, source file) of a decorated function."""
    module = getattr(function, "__module__", None) or "__main__"
    globs = getattr(function, "__globals__", {})
    display = globs.get("__conjecture_module__", module)
    source = globs.get("__file__") if "__conjecture_module__" in globs else None
    return display, module, source


def _check_dtypes(dtypes: Any, function: Callable, context: str) -> tuple[str, ...]:
    """``()`` for None; else distinct names from :data:`DTYPES`, and ``function`` must take a
    ``dtype`` keyword."""
    import inspect

    if dtypes is None:
        return ()
    if (not isinstance(dtypes, (list, tuple)) or not dtypes
            or not all(isinstance(d, str) and d in DTYPES for d in dtypes)
            or len(set(dtypes)) != len(dtypes)):
        raise InvalidParameterError("dtypes", dtypes, "None or a list of distinct names from "
                                    + ", ".join(DTYPES), context=context)
    parameters: Mapping[str, inspect.Parameter]
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "dtype" not in parameters and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        raise InvalidParameterError("dtypes", dtypes, "a function that takes a dtype keyword "
                                    "(def claim(m, dtype): ...) when dtypes is given",
                                    context=context)
    return tuple(dtypes)


def _check_expected(expected: Any, dtypes: tuple[str, ...], context: str
                    ) -> tuple[Verdict, dict]:
    """``(default expectation, per-dtype expectations)`` from a word or a dict by dtype."""
    if isinstance(expected, dict):
        if (not dtypes or not expected or not set(expected) <= set(dtypes)
                or not all(v in EXPECTED for v in expected.values())):
            raise InvalidParameterError(
                "expected", expected, "'holds', 'falsified', or a dict {dtype: 'holds' | "
                f"'falsified'}} over the declared dtypes {list(dtypes) or 'none'}",
                context=context)
        by_dtype = {d: Verdict(v) for d, v in expected.items()}
        return by_dtype.get(dtypes[0], Verdict.HOLDS), by_dtype
    if expected not in EXPECTED:
        raise InvalidParameterError("expected", expected, "'holds' or 'falsified'",
                                    context=context)
    return Verdict(expected), {}


def make_conjecture(function: Callable, *, families=None, requires=(), excludes=(), tol=1e-9,
                    n=(1, 64), params=None, depth=None, reference=None, expected="holds",
                    proof=None, examples=None, kind=None, dtypes=None) -> Conjecture:
    """Validate the decorator arguments and build the :class:`Conjecture` (not registered)."""
    from entangled.theory.strategies import check_range

    if not callable(function):
        raise InvalidParameterError("function", function, "a callable", context="conjecture")
    display, module, source = _display_module(function)
    name = f"{display}.{function.__name__}"
    context = f"conjecture {name}"
    fams = _check_families(families, context)
    required = _check_structure("requires", requires, fams, params, context)
    excluded = _check_structure("excludes", excludes, fams, params, context)
    n_range = check_range("n", n, context=context)
    depth_range = None if depth is None else check_range("depth", depth, context=context)
    checked_dtypes = _check_dtypes(dtypes, function, context)
    expected, expected_by_dtype = _check_expected(expected, checked_dtypes, context)
    if examples is not None:
        from entangled.mappings.params import is_integer

        if not is_integer(examples) or int(examples) < 1:
            raise InvalidParameterError("examples", examples, "None or a positive integer",
                                        context=context)
        examples = int(examples)
    if reference is not None and not isinstance(reference, str):
        raise InvalidParameterError("reference", reference, "None or a string", context=context)
    if kind is not None and kind not in KINDS:
        raise InvalidParameterError("kind", kind, "None or one of " + ", ".join(map(repr, KINDS)),
                                    context=context)
    doc = (function.__doc__ or "").strip()
    statement = doc.splitlines()[0].strip() if doc else function.__name__.replace("_", " ")
    return Conjecture(
        name=name, statement=statement, doc=doc, families=fams,
        tol=_check_tol(tol, context), n=n_range, depth=depth_range,
        params=_check_params(params, fams, context), reference=reference,
        expected=Verdict(expected), theme=display.rsplit(".", 1)[-1],
        proof=_check_proof(proof, context),
        examples=examples, function=function, module=module, source=source, kind=kind,
        requires=required, excludes=excluded, dtypes=checked_dtypes,
        expected_by_dtype=expected_by_dtype,
    )


def conjecture(*, families=None, requires=(), excludes=(), tol: float = 1e-9, n=(1, 64),
               params: dict | None = None, depth=None, reference: str | None = None,
               expected: str | dict = "holds", proof: Any = None,
               examples: int | None = None, kind: str | None = None,
               dtypes: list[str] | tuple[str, ...] | None = None):
    """Register a function of a mapping as a conjecture.

    Parameters
    ----------
    families : None, "all" or list of str, default None
        ``None`` (or ``"all"``): every registered family that ``requires`` and ``excludes``
        admit, chosen when the checks are planned (plug-ins included). A list names the
        families instead (a claim about particular families: their parameters, the families a
        paper names, the counterexample families of a claim believed false). Every name must
        be a registered family (built-in or an installed plug-in) or one of
        :data:`NON_SEARCHED_FAMILIES` (``"probed"``: evaluated only by
        :func:`entangled.theory.evaluate_on`, never searched); anything else, e.g. a typo, is
        an error naming it and the known families.
    requires : str or list of str, optional
        Structure every searched member must have (terms of
        :class:`~entangled.mappings.structure.Structure`: ``"orthogonal"``,
        ``"doubly_stochastic"``, ``"permutation"``, ...): the families that declare it for all
        their members, and those that declare it for some parameter values (searched in those
        ranges only). Not with named ``families`` or with ``params``.
    excludes : str or list of str, optional
        Leave out the families that declare these terms for all their members (e.g. a claim
        believed false for orthogonal maps that are not nonnegative).
    tol : float, default 1e-9
        A float result ``v`` holds iff ``v <= tol``. NaN never holds.
    n : int or (lo, hi), default (1, 64)
        Sizes searched (inclusive); hypothesis shrinks towards ``lo``.
    params : dict, optional
        Parameter name -> fixed value or hypothesis strategy, overriding the family's default
        draw. Every name must be a parameter of every searched family.
    depth : None, int or (lo, hi), default None
        ``None``: the function receives one :class:`~entangled.Mapping`. Otherwise it receives
        a tuple of ``L`` mappings of the same family and size (independent seeds, params drawn
        independently unless fixed), ``L = depth`` or ``lo <= L <= hi``.
    reference : str, optional
        Source of the claim (paper and section).
    expected : {"holds", "falsified"} or dict, default "holds"
        What the catalog believes; a ledger entry matches when its verdict agrees. With
        ``dtypes``, a dict ``{dtype: "holds" | "falsified"}`` states it per precision.
    proof : optional
        Object with ``statement``, ``latex`` and ``check() -> bool`` (e.g.
        ``entangled.theory.symbolic.Proof``). A checking proof and no numeric counterexample give the
        verdict ``"proved"``.
    examples : int, optional
        Hypothesis examples per family (default 30; ``entangled verify --examples`` overrides).
    kind : {"theorem", "empirical", "implementation"}, optional
        For claims from the literature: a mathematical statement, a measured or reported
        behaviour, or a promise about code (see :mod:`entangled.theory.literature`).
    dtypes : list of str, optional
        Precisions to check the claim in (names from :data:`DTYPES`, e.g.
        ``["float64", "float32"]``): the function takes a ``dtype`` keyword (a
        ``torch.dtype``) and computes in it; the engine checks each dtype on the same examples
        and records one ledger entry per dtype, so a claim that holds in float64 and fails in
        float32 shows both verdicts.

    Returns
    -------
    The function itself, with the :class:`Conjecture` attached as ``__conjecture__``.
    """

    def decorate(function: Callable) -> Callable:
        conj = make_conjecture(function, families=families, requires=requires,
                               excludes=excludes, tol=tol, n=n, params=params, depth=depth,
                               reference=reference, expected=expected, proof=proof,
                               examples=examples, kind=kind, dtypes=dtypes)
        setattr(function, "__conjecture__", conj)  # noqa: B010 - a function attribute mypy does not know
        registry_for(function).add(conj)
        return function

    return decorate


def as_conjecture(obj: Any) -> Conjecture:
    """A :class:`Conjecture` from itself or from a decorated function."""
    if isinstance(obj, Conjecture):
        return obj
    conj = getattr(obj, "__conjecture__", None)
    if isinstance(conj, Conjecture):
        return conj
    raise InvalidParameterError("conjecture", obj,
                                "a Conjecture or a function decorated with @conjecture")
