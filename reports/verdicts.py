"""Verdicts on the paper's findings from paired, Holm-corrected comparisons.

Vocabulary (one word per comparison, one per finding):

``reproduced``
    the difference goes in the predicted direction and is significant after Holm's
    correction within the finding;
``not reproduced``
    the difference is *equivalent to zero*: the TOST against the smallest effect of interest
    ``delta`` (default 2 pp) rejects both ``mu <= -delta`` and ``mu >= delta``;
``opposite``
    the difference is significant (Holm) against the predicted direction;
``inconclusive``
    none of these: the seeds cannot tell; the comparison carries its minimum detectable
    effect (MDE) and the seeds a paired t test would need to detect ``delta``.

A comparison whose two arms both reach the ceiling on *validation* (mean accuracy >= 99%), or
whose task no mapping learnt on validation, is shown (with its interval and TOST) and takes no
part in the finding's verdict (``at ceiling`` / ``task not learnt``). The per-comparison rule
is applied in this order: exclusion, then equivalence, then significance (so an effect that is
significant but provably smaller than ``delta`` is ``not reproduced``). Under the ``all`` rule
the TOST p-value that decides equivalence is Holm-adjusted within the finding.

A finding combines its counted comparisons by its ``rule``:

``any`` (a claim that something *can* happen):
    ``reproduced`` if some comparison is reproduced and none is opposite; ``opposite`` if some
    is opposite and none reproduced; ``not reproduced`` if every one is not reproduced;
    otherwise ``inconclusive``.
``all`` (a claim about every case named):
    ``reproduced`` if every comparison is reproduced; otherwise ``opposite`` if some is
    opposite; otherwise ``not reproduced`` if some is not reproduced; otherwise
    ``inconclusive``.
No counted comparison gives ``inconclusive``. A finding for which the suite names no
comparison, or none of whose comparisons it measured (every one :data:`MISSING`, e.g. F1 in a
suite of RNN runs only), is ``not tested`` (:data:`NOT_TESTED`): the suite says nothing about
it, which is different from seeds that cannot tell; a missing comparison beside measured ones
counts as ``inconclusive``. A *conjunction* of findings (F3 = F3a and F3b,
:func:`conjunction_verdict`) is ``reproduced`` if every part is, ``opposite`` if some part is,
else ``not reproduced`` if some part is, ``not tested`` if no part is tested, else
``inconclusive``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from entangled.errors import InvalidParameterError
from entangled.reports.paired import ALPHA, PairedComparison
from entangled.words import Word


class FindingVerdict(Word):
    """The verdict word of a comparison or a finding (see the module docstring)."""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    OPPOSITE = "opposite"
    INCONCLUSIVE = "inconclusive"
    #: a finding for which the suite names no primary comparison, or measured none of them
    NOT_TESTED = "not tested"
    #: a comparison the suite did not measure (no runs of the mapping or of its identity baseline)
    MISSING = "missing"
    AT_CEILING = "at ceiling"
    #: a comparison on a task no mapping learnt (:mod:`entangled.reports.learnability`)
    UNLEARNT = "task not learnt"


REPRODUCED = FindingVerdict.REPRODUCED
NOT_REPRODUCED = FindingVerdict.NOT_REPRODUCED
OPPOSITE = FindingVerdict.OPPOSITE
INCONCLUSIVE = FindingVerdict.INCONCLUSIVE
#: a finding for which the suite names no primary comparison, or measured none of them
NOT_TESTED = FindingVerdict.NOT_TESTED
#: a comparison the suite did not measure (counts as inconclusive beside measured ones)
MISSING = FindingVerdict.MISSING
AT_CEILING = FindingVerdict.AT_CEILING
#: a comparison on a task no mapping learnt (:mod:`entangled.reports.learnability`): excluded
UNLEARNT = FindingVerdict.UNLEARNT
EXCLUDED = (AT_CEILING, UNLEARNT)
VERDICTS = (REPRODUCED, NOT_REPRODUCED, OPPOSITE, INCONCLUSIVE, NOT_TESTED)
RULES = ("any", "all")


def rule_text(rule: str, margin: float, alpha: float = ALPHA) -> str:
    """The finding rule of ``rule`` in words, with the smallest effect and level filled in."""
    tost = ("a Holm-adjusted TOST" if rule == "all" else "a TOST")
    per = (f"Each primary comparison: reproduced if the paired difference goes in the predicted "
           f"direction with Holm-adjusted p < {alpha:g}; opposite if it is significant the "
           f"other way; not reproduced if {tost} shows it lies within ±{100 * margin:g} pp "
           f"(checked first); inconclusive otherwise (with the MDE); both arms ≥ 99% on "
           f"validation, or a task no mapping learnt on validation, is excluded. Secondary "
           f"comparisons are shown and never counted. ")
    if rule == "any":
        return per + ("Finding: reproduced if at least one comparison is reproduced and none is "
                      "opposite; opposite in the reverse case; not reproduced if all are; "
                      "inconclusive otherwise.")
    if rule == "all":
        return per + ("Finding: reproduced if every comparison is reproduced (an excluded one "
                      "leaves that part untested, so the finding is then at best inconclusive); "
                      "else opposite if any is opposite; else not reproduced if any is not "
                      "reproduced; inconclusive otherwise.")
    raise InvalidParameterError("rule", rule, "one of " + ", ".join(RULES))


@dataclass(frozen=True)
class ComparisonVerdict:
    """The verdict word of one comparison and the numbers it was decided on."""

    verdict: str
    predicted: int
    p_adjusted: float
    reason: str


def comparison_verdict(comparison: PairedComparison, predicted: int, p_adjusted: float,
                       alpha: float = ALPHA, *, tost_p_adjusted: float | None = None,
                       at_ceiling: bool | None = None) -> ComparisonVerdict:
    """Apply the per-comparison rule of the module docstring (``predicted`` is +1 or -1).

    ``tost_p_adjusted``: the Holm-adjusted TOST p-value that decides equivalence (default: the
    comparison's own TOST p-value); ``at_ceiling``: the exclusion decided by the caller on
    validation (default: the comparison's own ``at_ceiling``)."""
    if predicted not in (1, -1):
        raise InvalidParameterError("predicted", predicted, "+1 (higher) or -1 (lower)")
    if comparison.n < 2:
        return ComparisonVerdict(INCONCLUSIVE, predicted, p_adjusted,
                                 f"{comparison.n} paired seed(s): no test possible")
    if comparison.at_ceiling if at_ceiling is None else at_ceiling:
        return ComparisonVerdict(AT_CEILING, predicted, p_adjusted,
                                 "both arms at the ceiling (≥ 99%): excluded from the verdict")
    margin = comparison.tost.margin
    tost_p = comparison.tost.p_value if tost_p_adjusted is None else tost_p_adjusted
    if tost_p < alpha:
        which = "TOST p" if tost_p_adjusted is None else "Holm-adjusted TOST p"
        return ComparisonVerdict(
            NOT_REPRODUCED, predicted, p_adjusted,
            f"equivalent within ±{100 * margin:g} pp ({which} = {tost_p:.3g})")
    if p_adjusted < alpha and comparison.mean != 0:
        sign = 1 if comparison.mean > 0 else -1
        word = REPRODUCED if sign == predicted else OPPOSITE
        return ComparisonVerdict(word, predicted, p_adjusted,
                                 f"Holm-adjusted p = {p_adjusted:.3g} < {alpha:g}")
    reason = f"Holm-adjusted p = {p_adjusted:.3g}; not shown equivalent within ±{100 * margin:g} pp"
    if comparison.mde == comparison.mde:  # not nan
        reason += f"; MDE {100 * comparison.mde:.1f} pp at {comparison.n} seeds"
    if comparison.seeds_for_smallest_effect:
        reason += (f"; ≈{comparison.seeds_for_smallest_effect} seeds would detect "
                   f"{100 * margin:g} pp")
    return ComparisonVerdict(INCONCLUSIVE, predicted, p_adjusted, reason)


def finding_verdict(words: Sequence[str], rule: str) -> str:
    """Combine the comparison verdicts of one finding by ``rule``. Comparisons at the ceiling
    or on a task no mapping learnt are excluded; under ``all`` an excluded comparison is a part of the claim left untested,
    so the finding cannot be ``reproduced``. A :data:`MISSING` comparison (not measured)
    counts as ``inconclusive``; when every comparison is missing, or there is none, the finding
    is :data:`NOT_TESTED`."""
    if rule not in RULES:
        raise InvalidParameterError("rule", rule, "one of " + ", ".join(RULES))
    if all(w == MISSING for w in words):  # nothing measured (or nothing to compare)
        return NOT_TESTED
    words = [INCONCLUSIVE if w == MISSING else w for w in words]
    counted = [w for w in words if w not in EXCLUDED]
    if not counted:
        return INCONCLUSIVE
    reproduced, opposite = counted.count(REPRODUCED), counted.count(OPPOSITE)
    not_reproduced = counted.count(NOT_REPRODUCED)
    if rule == "any":
        if reproduced and not opposite:
            return REPRODUCED
        if opposite and not reproduced:
            return OPPOSITE
        if not_reproduced == len(counted):
            return NOT_REPRODUCED
        return INCONCLUSIVE
    if reproduced == len(counted) == len(words):  # an excluded part leaves the claim untested
        return REPRODUCED
    if opposite:
        return OPPOSITE
    if not_reproduced:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def conjunction_verdict(parts: Sequence[str]) -> str:
    """The verdict of a conjunction of findings from its parts' verdicts (module docstring)."""
    if not parts or all(p == NOT_TESTED for p in parts):
        return NOT_TESTED
    if all(p == REPRODUCED for p in parts):
        return REPRODUCED
    if OPPOSITE in parts:
        return OPPOSITE
    if NOT_REPRODUCED in parts:
        return NOT_REPRODUCED
    return INCONCLUSIVE
