"""Evaluating claims on a probed map: which conjectures apply, and the ledger they give."""

from __future__ import annotations

from typing import Any, Sequence

from entangled.errors import InvalidParameterError
from entangled.theory.probe.mapping import PROBED_FAMILY, ProbedMapping


def probed_examples(conj: Any, m: ProbedMapping) -> list:
    """Examples for a conjecture on one probed map: ``[m]``, or for a ``depth = (lo, hi)``
    claim the stacks ``(m,) * L`` for ``L`` in ``lo, hi`` and the powers of two between."""
    if conj.depth is None:
        return [m]
    lo, hi = conj.depth
    lengths = sorted({lo, hi} | {2 ** k for k in range(12) if lo <= 2 ** k <= hi})
    return [(m,) * length for length in lengths]


def applicable(conj: Any, m: ProbedMapping) -> str | None:
    """``None`` when ``conj`` applies to ``m``, else the reason it does not.

    A conjecture applies when its families include ``"probed"``, every field named by its
    function's ``requires`` attribute (e.g. ``("exposed",)``) is present in ``m.params``, and
    — for claims about the skip path (``scope = "skip"`` on the function, the default) — the
    probe isolated the skip path (``params["scope"] == "skip"``). Claims about the block as a
    whole (``scope = "block"``: gradients, determinism, isolation) apply to every probe.
    """
    if PROBED_FAMILY not in conj.families:
        return f"families {list(conj.families)} do not include 'probed'"
    if getattr(conj.function, "scope", "skip") == "skip" and m.params.get("scope") != "skip":
        return ("the branch was not silenced: the probed map is the whole block, not the skip "
                "path")
    for field in getattr(conj.function, "requires", ()):
        if m.params.get(field) is None:
            return f"needs params[{field!r}], which this probe has not measured"
    return None


def with_tolerance(conj: Any, tol: float | None) -> Any:
    """``conj`` with ``tol`` replaced when it is a numerical tolerance (the function is marked
    ``tunable_tol = True``) and ``tol`` is given; otherwise ``conj`` itself."""
    import dataclasses

    if tol is None or not getattr(conj.function, "tunable_tol", False):
        return conj
    return dataclasses.replace(conj, tol=float(tol))


def check_probed(m: ProbedMapping, conjectures: Sequence[Any] | None = None, *,
                 tol: float | None = None):
    """Evaluate the conjectures that apply to ``m``; return ``(ledger, not_applicable)``.

    ``conjectures`` defaults to the built-in catalog (:mod:`entangled.theory.conjectures.probed`
    included); only those covering ``"probed"`` are considered. ``not_applicable`` lists
    ``(conjecture, reason)`` for those lacking the data they need. ``tol`` replaces the
    numerical tolerance of the claims that have one (``entangled probe --tol``).
    """
    import time

    from entangled.theory.engine import evaluate_on
    from entangled.theory.ledger import Ledger
    from entangled.theory.loader import load_builtin
    from entangled.theory.registry import as_conjecture

    if not isinstance(m, ProbedMapping):
        raise InvalidParameterError("m", type(m).__name__, "a ProbedMapping (from probe())",
                                    context="check_probed")
    start = time.perf_counter()
    found = load_builtin() if conjectures is None else [as_conjecture(c) for c in conjectures]
    ledger, skipped = Ledger(seed=None), []
    for conj in found:
        if PROBED_FAMILY not in conj.families:
            continue
        reason = applicable(conj, m)
        if reason is not None:
            skipped.append((conj, reason))
            continue
        conj = with_tolerance(conj, tol)
        ledger.entries.append(evaluate_on(conj, probed_examples(conj, m)))
    ledger.seconds = time.perf_counter() - start
    return ledger, skipped
