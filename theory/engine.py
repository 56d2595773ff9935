"""Running conjectures: hypothesis search per (conjecture, family), verdicts, reproductions.

For each family a conjecture covers, :func:`check` runs a ``@given``-decorated search over
:func:`entangled.theory.strategies.mappings` (or :func:`~entangled.theory.strategies.mapping_sequences` for depth
claims) with ``max_examples`` examples, no example database, no deadline and a seed derived
from ``(seed, conjecture, family)``, so a run is reproducible. When an example fails,
hypothesis shrinks it and replays the minimal failing example last; that last call is the
recorded counterexample, with a one-line Python snippet that prints the measured value.

A result ``v`` of the conjecture function is interpreted as

* ``bool`` (Python, numpy or a one-element bool tensor): holds iff ``v``;
* a real number (Python, numpy or a one-element tensor): holds iff ``float(v) <= tol``
  (NaN never holds);
* anything else, or an exception: verdict ``"error"`` with the message / traceback.

User code that raises ``SystemExit`` or ``GeneratorExit`` gives the verdict ``"error"`` too (in
this process a ``KeyboardInterrupt`` still interrupts: it may be the user's Ctrl-C).
:func:`verify` runs the conjectures isolated in a child process (:mod:`entangled.theory.isolation`), where
every ``BaseException``, ``os._exit``, a crash or a check running longer than ``timeout``
seconds (default :data:`DEFAULT_TIMEOUT`) is an ``"error"`` verdict of that check only.
"""

from __future__ import annotations

import json
import math
import numbers
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from entangled.theory.ledger import (Ledger, LedgerEntry, Verdict, dependency_manifest,
                                     user_module_files)
from entangled.theory.registry import DEFAULT_EXAMPLES, Conjecture, as_conjecture

#: Default time limit in seconds of one (conjecture, family) check run by :func:`verify`.
DEFAULT_TIMEOUT = 120.0

#: Exceptions of user code that give an ``"error"`` verdict. In an isolated worker (where
#: Ctrl-C never arrives) ``KeyboardInterrupt`` is added: it can only come from user code.
USER_ERRORS: tuple[type[BaseException], ...] = (Exception, SystemExit, GeneratorExit)


# --------------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Outcome:
    """Interpreted result of one call: ``holds``, the measured ``value`` and its ``kind``."""

    holds: bool
    value: float | bool
    kind: str  # "bool" or "float"


class ConjectureReturnError(TypeError):
    """A conjecture returned something that is neither a bool nor a real number."""


def interpret(value: Any, tol: float) -> Outcome:
    """Turn a conjecture's return value into an :class:`Outcome` (see module docstring)."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            raise ConjectureReturnError(
                f"returned a tensor of shape {tuple(value.shape)} and dtype {value.dtype}; "
                "expected a bool or a real number (one element)")
        value = value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        return Outcome(bool(value), bool(value), "bool")
    if isinstance(value, numbers.Real):
        measured = float(value)
        return Outcome(bool(measured <= tol), measured, "float")
    raise ConjectureReturnError(
        f"returned {type(value).__name__} {value!r:.80}; expected a bool or a real number")


def _worse(a: float | None, b: float) -> float:
    """The larger deviation, NaN counting as the worst."""
    if a is None or math.isnan(b):
        return b
    if math.isnan(a):
        return a
    return max(a, b)


def example_key(example: Any) -> str:
    """Identity of an example (mapping or tuple of mappings) for counting distinct ones."""
    if isinstance(example, tuple):
        return json.dumps([_mapping_data(m) for m in example], sort_keys=True)
    return json.dumps(_mapping_data(example), sort_keys=True)


def _mapping_data(m: Any) -> dict:
    try:
        data = m.to_dict()
        json.dumps(data)
        return data
    except Exception:  # a mapping without a plain description: use its matrix
        return {"family": getattr(m, "family", "?"), "matrix": m.matrix().tolist()}


# --------------------------------------------------------------------- snippets
def _is_reconstructible(m: Any) -> bool:
    import entangled as E

    try:
        if m.family not in E.families():
            return False
        rebuilt = E.make_mapping(m.family, m.n, seed=m.seed, **m.params)
        return rebuilt.to_dict() == m.to_dict()
    except Exception:
        return False


def python_literal(value: Any) -> str:
    """Python source for a plain value, strings in double quotes (so a snippet fits in a
    single-quoted shell argument). Floats use ``repr``, which round-trips exactly."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(python_literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}"
                               for k, v in value.items()) + "}"
    return repr(value)


def mapping_expression(m: Any) -> str:
    """A Python expression (with ``import entangled as E``) that rebuilds mapping ``m``.

    ``E.make_mapping(family, n, seed=..., **params)`` when the family constructs it exactly,
    else ``E.from_matrix([[...]])`` with the exact float64 entries.
    """
    if _is_reconstructible(m):
        args = [python_literal(m.family), str(m.n)]
        if m.seed != 0:
            args.append(f"seed={m.seed}")
        args += [f"{key}={python_literal(value)}" for key, value in m.params.items()]
        return f"E.make_mapping({', '.join(args)})"
    return f"E.from_matrix({python_literal(m.matrix().tolist())})"


def function_import(conj: Conjecture) -> str:
    """Statement(s) that bind the conjecture's function to its own name."""
    fn = conj.function_name
    if conj.source is not None:
        return (f"from entangled.theory.loader import load_function; "
                f"{fn} = load_function({python_literal(conj.source)}, {python_literal(fn)})")
    return f"from {conj.module} import {fn}"


def reproduction_snippet(conj: Conjecture, example: Any, kind: str,
                         dtype: str | None = None) -> str:
    """One line of Python that prints the measured value of ``conj`` on ``example`` (in
    ``dtype`` for a conjecture checked in several precisions)."""
    if isinstance(example, tuple):
        arg = "(" + ", ".join(mapping_expression(m) for m in example) + ("," if len(example) == 1 else "") + ")"
    else:
        arg = mapping_expression(example)
    cast = "bool" if kind == "bool" else "float"
    if dtype is not None:
        return (f"import torch; import entangled as E; {function_import(conj)}; "
                f"print({cast}({conj.function_name}({arg}, dtype=torch.{dtype})))")
    return (f"import entangled as E; {function_import(conj)}; "
            f"print({cast}({conj.function_name}({arg})))")


def describe_example(conj: Conjecture, example: Any, outcome: Outcome | None,
                     dtype: str | None = None) -> dict:
    """The counterexample dict of the ledger (see :class:`entangled.theory.ledger.LedgerEntry`)."""
    if isinstance(example, tuple):
        data = {"family": example[0].family if example else None,
                "n": example[0].n if example else None,
                "depth": len(example),
                "mappings": [_mapping_data(m) for m in example]}
    else:
        data = _mapping_data(example)
        data = {"family": data.get("family"), "n": getattr(example, "n", None),
                "params": data.get("params"), "seed": data.get("seed"),
                **({"matrix": data["matrix"]} if "matrix" in data else {})}
    data["value"] = None if outcome is None else outcome.value
    data["snippet"] = reproduction_snippet(conj, example, outcome.kind if outcome else "float",
                                           dtype)
    return data


# -------------------------------------------------------------------- proofs
def proof_status(conj: Conjecture) -> tuple[bool | None, str | None]:
    """``(None, None)`` without a proof, else ``(checked, error message or None)``.

    A :class:`entangled.theory.symbolic.Proof` caches its own status (:meth:`~entangled.theory.symbolic.Proof.status`);
    any other proof object is checked on every call (no process-wide cache keyed by ``id()``,
    whose keys are reused after garbage collection).
    """
    if conj.proof is None:
        return None, None
    status = getattr(conj.proof, "status", None)
    if callable(status):
        try:
            ok, reason = status()
            return bool(ok), None if ok else (reason or "the attached proof does not check")
        except USER_ERRORS:
            return False, "the attached proof raised:\n" + traceback.format_exc()
    try:
        ok = bool(conj.proof.check())
        return ok, None if ok else "the attached proof does not check"
    except USER_ERRORS:
        return False, "the attached proof raised:\n" + traceback.format_exc()


def _proof_dict(conj: Conjecture) -> dict | None:
    ok, _ = proof_status(conj)
    if ok is None:
        return None
    return {"statement": str(getattr(conj.proof, "statement", "")),
            "latex": str(getattr(conj.proof, "latex", "")), "checked": ok}


def matches(verdict: Verdict, expected: Verdict) -> bool:
    """Whether a verdict agrees with the expectation."""
    if expected == Verdict.HOLDS:
        return verdict in (Verdict.PROVED, Verdict.HOLDS)
    return verdict == expected


# -------------------------------------------------------------------- search
def _user_traceback(exc: BaseException) -> str:
    """Traceback of ``exc`` without the engine's own calling frame."""
    tb = exc.__traceback__
    tb = tb.tb_next if tb is not None and tb.tb_next is not None else tb
    return "".join(traceback.format_exception(type(exc), exc, tb))


class _Falsified(Exception):
    def __init__(self, example, outcome):
        super().__init__("counterexample")
        self.example, self.outcome = example, outcome


class _Raised(Exception):
    def __init__(self, example, text):
        super().__init__(text.strip().splitlines()[-1] if text.strip() else "error")
        self.example, self.text = example, text


@dataclass
class _SearchState:
    seen: set = field(default_factory=set)
    worst: float | None = None

    def record(self, example, outcome: Outcome | None) -> None:
        self.seen.add(example_key(example))
        if outcome is not None and outcome.kind == "float":
            self.worst = _worse(self.worst, outcome.value)


def search_seed(seed: int, conj: Conjecture, family: str) -> int:
    """Deterministic hypothesis seed for one (conjecture, family) from the base ``seed``."""
    return zlib.crc32(f"{seed}:{conj.name}:{family}".encode())


def example_strategy(conj: Conjecture, family: str):
    """The hypothesis strategy the engine searches for ``conj`` on ``family``."""
    from entangled.theory import strategies

    lo, hi = conj.n
    structure = conj.requires or None  # a family with conditional structure: its ranges
    if conj.depth is None:
        return strategies.mappings(family, min_n=lo, max_n=hi, structure=structure,
                                   **conj.params)
    return strategies.mapping_sequences(family, depth=conj.depth, min_n=lo, max_n=hi,
                                        structure=structure, **conj.params)


def call_in(conj: Conjecture, example: Any, dtype: str | None) -> Any:
    """``conj``'s function on ``example``: with ``dtype=torch.<dtype>`` for a conjecture that
    declares ``dtypes``, else with the example alone."""
    function = conj.function
    if function is None:
        raise TypeError(f"conjecture {conj.name} has no function")
    if dtype is None:
        return function(example)
    import torch

    return function(example, dtype=getattr(torch, dtype))


def _run_search(conj: Conjecture, family: str, max_examples: int, seed: int,
                state: _SearchState, dtype: str | None = None) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import UnsatisfiedAssumption

    strategy = example_strategy(conj, family)

    def body(example):
        try:
            value = call_in(conj, example, dtype)
        except UnsatisfiedAssumption:
            raise
        except USER_ERRORS as exc:
            state.record(example, None)
            raise _Raised(example, _user_traceback(exc)) from None
        try:
            outcome = interpret(value, conj.tol)
        except ConjectureReturnError as exc:
            state.record(example, None)
            raise _Raised(example, f"{conj.name}: {exc}") from None
        state.record(example, outcome)
        if not outcome.holds:
            raise _Falsified(example, outcome)

    search = settings(
        max_examples=max_examples, database=None, deadline=None, derandomize=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink), print_blob=False,
        report_multiple_bugs=False, verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )(hypothesis_seed(seed)(given(strategy)(body)))
    search()


def check(conjecture: Any, family: str, *, examples: int | None = None,
          seed: int = 0, dtype: str | None = None) -> LedgerEntry:
    """Search for a counterexample to ``conjecture`` among mappings of ``family``.

    Parameters
    ----------
    conjecture : Conjecture or decorated function
    family : str
        A registered family name.
    examples : int, optional
        Hypothesis ``max_examples``; default the conjecture's ``examples`` or 30.
    seed : int, default 0
        Base seed; the search is deterministic given ``(seed, conjecture, family)`` (the same
        examples in every dtype).
    dtype : str, optional
        For a conjecture declaring ``dtypes``: the precision to check (default its first).

    Returns
    -------
    LedgerEntry
        Verdict ``proved`` / ``holds`` / ``falsified`` / ``error``; ``examples`` counts the
        distinct examples evaluated (generation and shrinking).
    """
    from entangled.errors import InvalidParameterError
    from entangled.mappings.params import is_integer
    from entangled.theory.strategies import resolve_families

    conj = as_conjecture(conjecture)
    resolve_families(family, context=f"check {conj.name}")
    if examples is not None and (not is_integer(examples) or examples < 1):
        raise InvalidParameterError("examples", examples, "None or a positive integer")
    if not is_integer(seed) or seed < 0:
        raise InvalidParameterError("seed", seed, "an integer >= 0")
    dtype = check_dtype(conj, dtype)
    max_examples = examples or conj.examples or DEFAULT_EXAMPLES
    state = _SearchState()
    start = time.perf_counter()
    counterexample, error, outcome = None, None, None
    try:
        _run_search(conj, family, max_examples, search_seed(seed, conj, family), state, dtype)
    except _Falsified as exc:
        outcome = exc.outcome
        counterexample = describe_example(conj, exc.example, exc.outcome, dtype)
    except _Raised as exc:
        error = exc.text
        counterexample = describe_example(conj, exc.example, None, dtype)
    except USER_ERRORS:
        error = "search failed:\n" + traceback.format_exc()
    verdict = (Verdict.ERROR if error else
               Verdict.FALSIFIED if outcome is not None else Verdict.HOLDS)
    verdict, error = _with_proof(conj, verdict, error)
    return _entry(conj, family, verdict, state, counterexample, error,
                  time.perf_counter() - start, dtype)


def check_dtype(conj: Conjecture, dtype: str | None) -> str | None:
    """The dtype to check ``conj`` in: ``None`` for a conjecture without ``dtypes`` (which
    accepts only ``None`` or ``"float64"``), else ``dtype`` or its first declared one."""
    from entangled.errors import InvalidParameterError

    if not conj.dtypes:
        if dtype not in (None, "float64"):
            raise InvalidParameterError("dtype", dtype, f"None: {conj.name} declares no "
                                        "dtypes (it computes in float64)")
        return None
    if dtype is None:
        return conj.dtypes[0]
    if dtype not in conj.dtypes:
        raise InvalidParameterError("dtype", dtype, "one of the dtypes "
                                    f"{', '.join(conj.dtypes)} that {conj.name} declares")
    return dtype


def _with_proof(conj: Conjecture, verdict: Verdict, error: str | None
                ) -> tuple[Verdict, str | None]:
    ok, message = proof_status(conj)
    if ok is None or verdict == Verdict.ERROR:
        return verdict, error
    if not ok:
        found = " (and the numeric search falsified it)" if verdict == Verdict.FALSIFIED else ""
        return Verdict.ERROR, f"{message}{found}"
    if verdict == Verdict.FALSIFIED:
        return Verdict.ERROR, ("a numeric counterexample contradicts the attached proof "
                               "(see counterexample)")
    return Verdict.PROVED, None


def _entry(conj, family, verdict, state, counterexample, error, seconds,
           dtype: str | None = None) -> LedgerEntry:
    expected = conj.expected_for(dtype)
    return LedgerEntry(
        conjecture=conj.name, statement=conj.statement, theme=conj.theme, family=family,
        verdict=verdict, expected=expected, matches_expected=matches(verdict, expected),
        examples=len(state.seen), worst=state.worst, tol=conj.tol, reference=conj.reference,
        counterexample=counterexample, proof=_proof_dict(conj), error=error, seconds=seconds,
        short_name=conj.short_name, dtype=dtype,
    )


def _severity(outcome: Outcome) -> float:
    """Ordering of failing outcomes: larger deviations are worse, NaN worst, bools last."""
    if outcome.kind == "bool":
        return -math.inf
    return math.inf if math.isnan(outcome.value) else outcome.value


def evaluate_on(conjecture: Any, examples: Iterable[Any]) -> LedgerEntry:
    """Evaluate ``conjecture`` on given mappings (or tuples of mappings), without search.

    The verdict is ``"error"`` if any call raised or returned a bad type (the first such
    example is the counterexample), ``"falsified"`` if any example fails (the counterexample
    is the worst one: largest deviation, or the first failing one for bool results), else
    ``"holds"``. Used for mappings that no strategy builds, e.g. ``entangled.theory.probe`` results.
    """
    conj = as_conjecture(conjecture)
    items = list(examples)
    state = _SearchState()
    start = time.perf_counter()
    error, error_example, worst_fail = None, None, None
    for example in items:
        try:
            outcome = interpret(conj.function(example), conj.tol)
        except USER_ERRORS as exc:
            state.record(example, None)
            if error is None:
                error, error_example = _user_traceback(exc), example
            continue
        state.record(example, outcome)
        if not outcome.holds and (worst_fail is None
                                   or _severity(outcome) > _severity(worst_fail[1])):
            worst_fail = (example, outcome)
    if error is not None:
        verdict, cx = Verdict.ERROR, describe_example(conj, error_example, None)
    elif worst_fail is not None:
        verdict, cx = Verdict.FALSIFIED, describe_example(conj, *worst_fail)
    else:
        verdict, cx = Verdict.HOLDS, None
    families = sorted({(e[0] if isinstance(e, tuple) else e).family for e in items
                       if not isinstance(e, tuple) or e})
    return _entry(conj, ",".join(families) or "-", verdict, state, cx, error,
                  time.perf_counter() - start)


# -------------------------------------------------------------------- verify
def plan(conjectures: Sequence[Conjecture], families: Iterable[str] | None = None
         ) -> list[tuple[Conjecture, str]]:
    """The (conjecture, family) pairs a verification run checks, in order."""
    import entangled as E

    known = E.families()
    wanted = None if families is None else set(families)
    pairs = []
    for conj in conjectures:
        for family in conj.searched_families(known):
            if wanted is None or family in wanted:
                pairs.append((conj, family))
    return pairs


def plan_checks(conjectures: Sequence[Conjecture], families: Iterable[str] | None = None
                ) -> list[tuple[Conjecture, str, str | None]]:
    """The (conjecture, family, dtype) checks of a run: :func:`plan`, each pair once per
    declared dtype (``None`` for conjectures without ``dtypes``)."""
    return [(conj, family, dtype) for conj, family in plan(conjectures, families)
            for dtype in (conj.dtypes or (None,))]


def run_conjectures(conjectures: Sequence[Conjecture], *, examples: int | None = None,
                    seed: int = 0, families: Iterable[str] | None = None,
                    progress: Callable[[int, int, LedgerEntry], None] | None = None) -> Ledger:
    """Check every (conjecture, family) pair of ``conjectures`` (records or decorated
    functions), in every dtype a conjecture declares; return the :class:`Ledger`."""
    start = time.perf_counter()
    pairs = plan_checks([as_conjecture(c) for c in conjectures], families)
    ledger = Ledger(seed=seed, examples=examples)
    for index, (conj, family, dtype) in enumerate(pairs, 1):
        entry = check(conj, family, examples=examples, seed=seed, dtype=dtype)
        ledger.entries.append(entry)
        if progress is not None:
            progress(index, len(pairs), entry)
    ledger.seconds = time.perf_counter() - start
    return ledger


def verify(paths: Sequence[str] = (), *, builtin: bool = True, examples: int | None = None,
           seed: int = 0, families: str | Sequence[str] | None = None,
           progress: Callable[[int, int, LedgerEntry], None] | None = None,
           timeout: float | None = DEFAULT_TIMEOUT, isolate: bool = True,
           loaded: Callable[[int, list[dict]], None] | None = None, jobs: int = 1) -> Ledger:
    """Load conjectures (the built-in catalog and/or ``paths``) and check them all.

    Parameters
    ----------
    paths : sequence of str
        ``.py`` files, directories (every ``.py`` file below, recursively) or dotted module
        names. A source that fails to import is recorded in ``Ledger.load_errors`` with its
        traceback; the others still run.
    builtin : bool, default True
        Include the built-in catalog (``entangled.theory.conjectures``).
    examples : int, optional
        Override of the examples per (conjecture, family).
    seed : int, default 0
        Base seed of the search.
    families : str or list of str, optional
        Only check these families.
    progress : callable ``(index, total, entry)``, optional
        Called after each check.
    timeout : float or None, default :data:`DEFAULT_TIMEOUT`
        Time limit in seconds of loading one source and of one (conjecture, family) check;
        past it the check is stopped and its verdict is ``"error"`` (``isolate=True`` only).
    isolate : bool, default True
        Load and run the conjectures in a child process (:mod:`entangled.theory.isolation`): whatever
        user code does (``sys.exit``, ``os._exit``, ``KeyboardInterrupt``, a crash, a hang)
        becomes an ``"error"`` verdict or a load error, and the other checks still run.
        ``False`` runs everything in this process (no time limit).
    loaded : callable ``(pairs, load_errors)``, optional
        Called once every source is loaded, before the first check, with the number of checks
        to run and the load errors (to report them before the search).
    jobs : int, default 1
        Child processes checking at once (``isolate=True`` only). Each check is deterministic
        given ``(seed, conjecture, family)`` and the ledger lists them in the same order, so the
        ledger is the same for any ``jobs``; ``progress`` is called as checks finish.
    """
    from entangled.theory.strategies import resolve_families

    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        from entangled.errors import InvalidParameterError

        raise InvalidParameterError("timeout", timeout, "None or a number of seconds > 0")
    from entangled.mappings.params import is_integer

    if not (is_integer(jobs) and jobs >= 1):
        from entangled.errors import InvalidParameterError

        raise InvalidParameterError("jobs", jobs, "an integer >= 1")
    start = time.perf_counter()
    family_filter = None if families is None else resolve_families(families, context="verify")
    if isolate:
        ledger = _verify_isolated(list(paths), builtin=builtin, examples=examples, seed=seed,
                                  families=family_filter, progress=progress, timeout=timeout,
                                  loaded=loaded, jobs=int(jobs))
    else:
        ledger = _verify_in_process(list(paths), builtin=builtin, examples=examples, seed=seed,
                                    families=family_filter, progress=progress,
                                    timeout=timeout, loaded=loaded)
    ledger.seconds = time.perf_counter() - start
    return ledger


def _verify_in_process(paths, *, builtin, examples, seed, families, progress, timeout,
                       loaded) -> Ledger:
    from entangled.theory.loader import load_builtin, load_sources

    conjectures: list[Conjecture] = []
    if builtin:
        conjectures += load_builtin()
    found, load_errors = load_sources(paths)
    conjectures = dedupe(conjectures + found)
    if loaded is not None:
        loaded(len(plan_checks(conjectures, families)), load_errors)
    ledger = run_conjectures(conjectures, examples=examples, seed=seed,
                             families=families, progress=progress)
    ledger.load_errors = load_errors
    ledger.dependencies = dependency_manifest(user_module_files(sources=paths))
    return ledger


# ------------------------------------------------------------- isolated verify
def _verify_isolated(paths, *, builtin, examples, seed, families, progress, timeout,
                     loaded, jobs: int = 1) -> Ledger:
    """:func:`verify` with every load and check a call in a :class:`entangled.theory.isolation.Worker`;
    the parent never imports user code."""
    from entangled.errors import EntangledError
    from entangled.theory.isolation import Worker, WorkerStartError
    from entangled.theory.loader import ConjectureLoadError, expand_source

    # ``import entangled`` is lazy: the child imports the mapping library (torch, the family
    # registry) itself, before the first timed call
    worker = Worker(preload=("entangled.theory.engine", "entangled.mappings"))
    worker.start()  # the child imports torch & co while this process lists the sources
    try:
        targets: list[tuple[str, str]] = [("builtin", "")] if builtin else []
        load_errors: list[dict] = []
        seen: set[str] = set()
        for source in paths:
            try:
                expanded = expand_source(str(source))
            except ConjectureLoadError as exc:
                load_errors.append({"source": str(source), "error": str(exc)})
                continue
            for kind, target in expanded:
                ident = str(Path(target).resolve()) if kind == "file" else target
                if ident not in seen:
                    seen.add(ident)
                    targets.append((kind, target))
        wanted = None if families is None else list(families)
        metas: list[tuple[str, str, dict]] = []
        files: set[str] = set()  # module files loaded from outside the environment
        for kind, target in targets:
            result = worker.call("entangled.theory.engine:_worker_load", kind, target, wanted,
                                 list(paths), timeout=timeout)
            if result.ok:
                metas += [(kind, target, meta) for meta in result.value["conjectures"]]
                files.update(result.value["files"])
            else:
                load_errors.append({"source": target or BUILTIN_LABEL,
                                    "error": _isolated_error(result, "loading it")})
        pairs, keys = [], set()
        for kind, target, meta in metas:
            if (meta["name"], meta["source"]) in keys:
                continue
            keys.add((meta["name"], meta["source"]))
            pairs += [(kind, target, meta, family, dtype) for family in meta["families"]
                      for dtype in (meta["dtypes"] or [None])]
        if loaded is not None:
            loaded(len(pairs), load_errors)
        ledger = Ledger(seed=seed, examples=examples, load_errors=load_errors)
        helpers = [Worker(preload=worker.preload) for _ in range(min(jobs, len(pairs)) - 1)]
        try:
            ledger.entries = _check_pairs(pairs, [worker, *helpers], examples, seed, timeout,
                                          progress)
        finally:
            for helper in helpers:
                helper.close()
        if pairs:  # modules that conjectures imported while running
            result = worker.call("entangled.theory.engine:_worker_files", list(paths), timeout=timeout)
            files.update(result.value if result.ok else [])
        ledger.dependencies = dependency_manifest(sorted(files))
        return ledger
    except WorkerStartError as exc:
        raise EntangledError(str(exc)) from None
    finally:
        worker.close()


BUILTIN_LABEL = "entangled.theory.conjectures"


def _check_pairs(pairs: list, workers: list, examples, seed: int, timeout,
                 progress) -> list[LedgerEntry]:
    """Every (conjecture, family, dtype) check of ``pairs`` on the child ``workers`` (one
    check at a time each; one thread per worker takes the next pair), the entries in the
    order of ``pairs``; ``progress`` is called as checks finish."""
    import queue
    import threading

    entries: list[LedgerEntry | None] = [None] * len(pairs)
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for index in range(len(pairs)):
        todo.put(index)
    done = [0]
    lock = threading.Lock()

    def check_on(worker) -> None:
        worker.start()
        if len(workers) > 1:  # one core each: torch's own threads would oversubscribe them
            worker.call("torch:set_num_threads", 1, timeout=timeout)
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            kind, target, meta, family, dtype = pairs[index]
            result = worker.call("entangled.theory.engine:_worker_check", kind, target,
                                 meta["name"], family, examples, seed, dtype, timeout=timeout)
            if result.ok:
                entry = LedgerEntry.from_dict(result.value)
            else:
                entry = _error_entry(meta, family, _isolated_error(result, "checking it"),
                                     result.seconds, dtype)
            with lock:
                entries[index] = entry
                done[0] += 1
                if progress is not None:
                    progress(done[0], len(pairs), entry)

    if len(workers) == 1:
        check_on(workers[0])
    else:
        threads = [threading.Thread(target=check_on, args=(w,), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    missing = [i for i, e in enumerate(entries) if e is None]
    if missing:  # a thread died (not a check: those become error entries)
        raise RuntimeError(f"conjecture checks {missing[:5]} did not run")
    return [e for e in entries if e is not None]


def _isolated_error(result, doing: str) -> str:
    if result.reason == "raised":
        return result.error or "error"
    return f"{result.error} while {doing}"


def _error_entry(meta: dict, family: str, error: str, seconds: float,
                 dtype: str | None = None) -> LedgerEntry:
    """The ledger entry of a check that did not return (the process exited or timed out)."""
    expected = meta["expected_by_dtype"].get(dtype, meta["expected"]) if dtype \
        else meta["expected"]
    return LedgerEntry(
        conjecture=meta["name"], statement=meta["statement"], theme=meta["theme"],
        family=family, verdict=Verdict.ERROR, expected=Verdict(expected),
        matches_expected=matches(Verdict.ERROR, Verdict(expected)), tol=meta["tol"],
        reference=meta["reference"], error=error, seconds=seconds,
        short_name=meta["short_name"], dtype=dtype)


_WORKER_SOURCES: dict[tuple[str, str], dict[str, Conjecture]] = {}


def _worker_conjectures(kind: str, target: str) -> dict[str, Conjecture]:
    """(In the worker) the conjectures of one source by name, loaded once per process."""
    from entangled.theory.loader import load_builtin, load_file, load_module

    global USER_ERRORS
    USER_ERRORS = (Exception, SystemExit, GeneratorExit, KeyboardInterrupt)
    key = (kind, target)
    if key not in _WORKER_SOURCES:
        if kind == "builtin":
            found = load_builtin()
        elif kind == "file":
            found = load_file(target)
        else:
            found = load_module(target)
        _WORKER_SOURCES[key] = {c.name: c for c in dedupe(found)}
    return _WORKER_SOURCES[key]


def _worker_load(kind: str, target: str, families: list[str] | None,
                 sources: list[str]) -> dict:
    """(In the worker) load one source; describe each conjecture and the families to check,
    and list the module files loaded so far (:func:`entangled.theory.ledger.user_module_files`)."""
    conjectures = list(_worker_conjectures(kind, target).values())
    searched: dict[str, list[str]] = {}
    for conj, family in plan(conjectures, families):
        searched.setdefault(conj.name, []).append(family)
    metas = [{"name": c.name, "source": c.source, "statement": c.statement, "theme": c.theme,
              "expected": c.expected, "tol": c.tol, "reference": c.reference,
              "short_name": c.short_name, "families": searched.get(c.name, []),
              "dtypes": list(c.dtypes), "expected_by_dtype": dict(c.expected_by_dtype)}
             for c in conjectures]
    return {"conjectures": metas, "files": user_module_files(sources=sources)}


def _worker_files(sources: list[str]) -> list[str]:
    """(In the worker) the module files loaded so far from outside the environment."""
    return user_module_files(sources=sources)


def _worker_check(kind: str, target: str, name: str, family: str, examples: int | None,
                  seed: int, dtype: str | None = None) -> dict:
    """(In the worker) :func:`check` one conjecture of a source on one family (in ``dtype``)."""
    return check(_worker_conjectures(kind, target)[name], family, examples=examples,
                 seed=seed, dtype=dtype).to_dict()


def dedupe(conjectures: Iterable[Conjecture]) -> list[Conjecture]:
    """Drop repeated conjectures (same name and source), keeping the first."""
    seen, out = set(), []
    for conj in conjectures:
        key = (conj.name, conj.source)
        if key not in seen:
            seen.add(key)
            out.append(conj)
    return out
