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


def applicable(conj: Any, m: ProbedMapping, selection: "ClaimSelection | None" = None
               ) -> str | None:
    """``None`` when ``conj`` applies to ``m``, else the reason it does not.

    A conjecture applies when its families include ``"probed"``; it is selected (an opt-in
    claim only when ``selection`` adds it; ``selection`` may also drop or restrict claims);
    it is about the block's declared kind (its function's ``kinds``, see
    :mod:`entangled.theory.probe.kinds`); every field named by its function's ``requires``
    attribute (e.g. ``("exposed",)``) is present in ``m.params``; and — for claims about the
    skip path (``scope = "skip"`` on the function, the default) — the probe isolated the skip
    path (``params["scope"] == "skip"``). Claims about the block as a whole (``scope =
    "block"``: gradients, determinism, isolation) apply to every probe of their kinds.
    """
    from entangled.theory.probe.kinds import effective_kind, kind_reason

    if PROBED_FAMILY not in conj.families:
        return f"families {list(conj.families)} do not include 'probed'"
    function = conj.function
    selected = (selection or ClaimSelection()).reason(conj)
    if selected is not None:
        return selected
    kind = m.params.get("kind", "stream-mixing")
    measured_at = m.params.get("measured_at")
    kinds = getattr(function, "kinds", None)
    if kinds is not None and effective_kind(kind, measured_at) not in kinds:
        return kind_reason(kind, measured_at, kinds)
    if getattr(function, "scope", "skip") == "skip" and m.params.get("scope") != "skip":
        return ("the branch was not silenced: the probed map is the whole block, not the skip "
                "path")
    for field in getattr(function, "requires", ()):
        if m.params.get(field) is None:
            return f"needs params[{field!r}], which this probe has not measured"
    return None


def claim_name(conj: Any) -> str:
    """The name a user gives a probed claim: the function name (``doubly_stochastic``)."""
    return conj.function_name


class ClaimSelection:
    """Which probed claims run: ``--claims`` as ``"NAME,+NAME,-NAME"``.

    Plain names select exactly those claims (every other is not applicable: "not selected");
    ``+NAME`` adds an opt-in claim (e.g. ``+skip_is_identity``) to the default set; ``-NAME``
    removes one. Without a selection every default (non opt-in) claim runs.
    """

    def __init__(self, text: str | Sequence[str] | None = None, known: Sequence[str] = ()):
        self.only: set[str] | None = None
        self.add: set[str] = set()
        self.remove: set[str] = set()
        self.text = text
        items: list[str] = []
        for part in ([text] if isinstance(text, str) else list(text or ())):
            if not isinstance(part, str):
                raise InvalidParameterError("claims", text, "claim names separated by commas, "
                                            "each optionally prefixed by + or -",
                                            context="entangled probe")
            items += [item.strip() for item in part.split(",") if item.strip()]
        for item in items:
            name = item.lstrip("+-").strip()
            if known and name not in known:
                raise InvalidParameterError("claims", item, "names of probed claims: "
                                            + ", ".join(sorted(known)),
                                            context="entangled probe")
            if item.startswith("+"):
                self.add.add(name)
            elif item.startswith("-"):
                self.remove.add(name)
            else:
                self.only = (self.only or set()) | {name}

    def reason(self, conj: Any) -> str | None:
        """``None`` when ``conj`` is selected, else why not."""
        name = claim_name(conj)
        if name in self.remove:
            return "not selected: removed with --claims -" + name
        if self.only is not None and name not in self.only and name not in self.add:
            return "not selected: --claims names other claims"
        if getattr(conj.function, "opt_in", False) and name not in self.add \
                and (self.only is None or name not in self.only):
            return f"opt-in claim: add it with --claims +{name}"
        return None


def with_tolerance(conj: Any, tol: float | None, dtype: str = "float64") -> Any:
    """``conj`` with ``tol`` replaced when it is a numerical tolerance (the function is marked
    ``tunable_tol = True``) and ``tol`` is given; without ``tol``, a numerical tolerance below
    ``8 eps`` of the probe's ``dtype`` (bfloat16, float16) is raised to it. Otherwise ``conj``
    itself."""
    import dataclasses

    import torch

    if not getattr(conj.function, "tunable_tol", False):
        return conj
    if tol is not None:
        return dataclasses.replace(conj, tol=float(tol))
    floor = 8 * torch.finfo(getattr(torch, dtype, torch.float64)).eps
    return dataclasses.replace(conj, tol=floor) if conj.tol < floor else conj


def check_probed(m: ProbedMapping, conjectures: Sequence[Any] | None = None, *,
                 tol: float | None = None, claims: Any = None):
    """Evaluate the conjectures that apply to ``m``; return ``(ledger, not_applicable)``.

    ``conjectures`` defaults to the built-in catalog (:mod:`entangled.theory.conjectures.probed`
    included); only those covering ``"probed"`` are considered. ``not_applicable`` lists
    ``(conjecture, reason)`` for those that do not apply (:func:`applicable`). ``tol`` replaces
    the numerical tolerance of the claims that have one (``entangled probe --tol``); ``claims``
    (a :class:`ClaimSelection` or its text, ``entangled probe --claims``) selects claims.
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
    found = [conj for conj in found if PROBED_FAMILY in conj.families]
    selection = claims if isinstance(claims, ClaimSelection) else ClaimSelection(
        claims, known=[claim_name(conj) for conj in found])
    ledger, skipped = Ledger(seed=None), []
    for conj in found:
        reason = applicable(conj, m, selection)
        if reason is not None:
            skipped.append((conj, reason))
            continue
        conj = with_tolerance(conj, tol, m.params.get("dtype", "float64"))
        ledger.entries.append(evaluate_on(conj, probed_examples(conj, m)))
    ledger.seconds = time.perf_counter() - start
    return ledger, skipped
