"""Which verdicts could flip on another machine: decided by a p-value close to the level.

Training is bit-reproducible on one machine (same configuration, same software, same CPU),
but the floating-point kernels torch and its BLAS choose differ between CPUs (instruction
set, vector width, library), so another machine trains slightly different networks and every
accuracy moves a little. A verdict that rests on a Holm-adjusted p-value far from the level
does not care; one decided at ``p = 0.043`` may read differently on the next machine.

Rule (:func:`fragility`): a finding's verdict is **fragile** when one of its counted
comparisons has a Holm-adjusted p-value within a factor :data:`FACTOR` of the level α
(``α / 2 <= p < 2 α``: 0.025 to 0.1 at α = 0.05) *and* putting that p on the other side of α
would change the finding's verdict:

* a comparison significant in either direction (``reproduced`` / ``opposite``) would become
  ``inconclusive`` (its TOST already failed to show equivalence, since that is checked first);
* an ``inconclusive`` comparison with ``α <= p < 2 α`` would become ``reproduced`` or
  ``opposite`` by the sign of its mean difference against the prediction.

Words decided otherwise (``not reproduced`` by the TOST, excluded comparisons, missing ones)
are left as they are. Only the finding's primary comparisons (``evidence``) count; secondary
readings never decide a verdict. A comparison decided by the staged design
(:mod:`entangled.reports.staged`, its entry carries ``sequential``) is read at its last stage:
that stage's p-value against its nominal level instead of the Holm-adjusted p against α. The page shows a fragile verdict as "decided at p = 0.043: fragile" and
names the comparison and the verdict it would flip to; ``summary.json`` carries the same under
each finding's ``fragility``.

A conjunction of findings (F3 = F3a and F3b: its ``parts``) has no comparisons of its own: it
is fragile when a fragile part's verdict on the other side of its level would change the
conjunction's verdict (:func:`conjunction_fragility`); :func:`with_fragility` marks a list of
judgements, conjunctions included.

Everything here reads the plain data of
:meth:`entangled.reports.findings.Judgement.to_dict`, so new keys there need nothing here.
"""

from __future__ import annotations

import math
from typing import Any

from entangled.reports.verdicts import (INCONCLUSIVE, OPPOSITE, REPRODUCED, conjunction_verdict,
                                        finding_verdict)

#: How close to α (as a factor either way) a deciding p-value makes a verdict fragile.
FACTOR = 2.0


def deciding_p(entry: dict[str, Any], alpha: float) -> tuple[float | None, float]:
    """The p-value a comparison's word rests on and the level it is compared with: the
    Holm-adjusted p and ``alpha``, or for a staged decision its last stage's p-value and
    nominal level."""
    stages = (entry.get("sequential") or {}).get("stages") or []
    if stages:
        last = stages[-1]
        return last.get("p_value"), float(last.get("nominal_level", alpha))
    return entry.get("p_adjusted"), alpha


def flipped_word(entry: dict[str, Any], alpha: float) -> str | None:
    """The word a counted comparison would get with its deciding p (:func:`deciding_p`) on the
    other side of its level (see the module docstring), or ``None`` when its word does not
    rest on that p."""
    p, alpha = deciding_p(entry, alpha)
    if not entry.get("counted") or not isinstance(p, (int, float)) or math.isnan(p):
        return None
    status = entry.get("status")
    if status in (REPRODUCED, OPPOSITE) and p < alpha:
        return INCONCLUSIVE
    paired = entry.get("paired") or {}
    mean = paired.get("mean")
    if status == INCONCLUSIVE and p >= alpha and isinstance(mean, (int, float)) and mean != 0:
        predicted = 1 if entry.get("predicted") == "higher" else -1
        return REPRODUCED if (1 if mean > 0 else -1) == predicted else OPPOSITE
    return None


def fragility(judgement: dict[str, Any], factor: float = FACTOR) -> dict[str, Any] | None:
    """Whether the verdict of one finding (``Judgement.to_dict()``) is fragile.

    Returns ``None`` when it is not, else ``{"p_adjusted", "alpha", "comparison", "flips_to",
    "text"}`` for the comparison nearest the level among those that would flip it, e.g.
    ``text = "decided at p = 0.043: fragile"``.
    """
    alpha = float(judgement.get("alpha", 0.05))
    evidence = judgement.get("evidence") or []
    words = [e.get("status") for e in evidence]
    candidates = []
    for i, entry in enumerate(evidence):
        p, level = deciding_p(entry, alpha)
        if not isinstance(p, (int, float)) or math.isnan(p) or not level / factor <= p < level * factor:
            continue
        word = flipped_word(entry, alpha)
        if word is None:
            continue
        other = finding_verdict(words[:i] + [word] + words[i + 1:], judgement["rule_kind"])
        if other != judgement["verdict"]:
            candidates.append((abs(math.log(p / level)), p, level, entry, other))
    if not candidates:
        return None
    _, p, level, entry, other = min(candidates, key=lambda c: c[0])
    label = entry.get("label") or str(entry.get("variant"))
    return {"p_adjusted": p, "alpha": level, "flips_to": other,
            "comparison": f"{entry.get('arch')}/{entry.get('task')} {label}",
            "text": f"decided at p = {p:.3f}: fragile"}


def conjunction_fragility(judgement: dict[str, Any], parts: dict[str, dict[str, Any]]
                          ) -> dict[str, Any] | None:
    """Whether a conjunction's verdict (``judgement["parts"]``, e.g. F3 of F3a and F3b) is
    fragile: some part is fragile (``parts[key]["fragility"]``) and that part's verdict flipped
    (its ``flips_to``) changes :func:`~entangled.reports.verdicts.conjunction_verdict` of the
    parts. Returns the nearest such part's fragility, its comparison prefixed by the part's
    key and ``flips_to`` the conjunction's other verdict; ``None`` otherwise."""
    keys = list(judgement.get("parts") or [])
    candidates = []
    for key in keys:
        fragile = (parts.get(key) or {}).get("fragility")
        if not fragile:
            continue
        words = [str(fragile["flips_to"] if k == key else (parts.get(k) or {}).get("verdict"))
                 for k in keys]
        other = conjunction_verdict(words)
        if other != judgement["verdict"]:
            candidates.append((abs(math.log(fragile["p_adjusted"] / fragile["alpha"])), key,
                               fragile, other))
    if not candidates:
        return None
    _, key, fragile, other = min(candidates, key=lambda c: c[0])
    return {**fragile, "flips_to": other, "comparison": f"{key}: {fragile['comparison']}"}


def with_fragility(judgements: list[dict[str, Any]], factor: float = FACTOR) -> list[dict[str, Any]]:
    """``judgements`` (``Judgement.to_dict()`` each, in report order) with ``fragility`` set
    on every one: :func:`fragility` for a finding, :func:`conjunction_fragility` for a
    conjunction (from its parts, judged first)."""
    by_key: dict[str, dict[str, Any]] = {}
    for data in judgements:
        data["fragility"] = (conjunction_fragility(data, by_key) if data.get("parts")
                             else fragility(data, factor))
        by_key[data["key"]] = data
    return judgements
