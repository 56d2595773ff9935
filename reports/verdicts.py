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

A comparison whose two arms are both at the ceiling (mean accuracy >= 99%) is shown as
``at ceiling`` and takes no part in the finding's verdict. The per-comparison rule is applied
in this order: ceiling, then equivalence, then significance (so an effect that is significant
but provably smaller than ``delta`` is ``not reproduced``).

A finding combines its counted comparisons by its ``rule``:

``any`` (a claim that something *can* happen):
    ``reproduced`` if some comparison is reproduced and none is opposite; ``opposite`` if some
    is opposite and none reproduced; ``not reproduced`` if every one is not reproduced;
    otherwise ``inconclusive``.
``all`` (a claim about every case named):
    ``reproduced`` if every comparison is reproduced; otherwise ``opposite`` if some is
    opposite; otherwise ``not reproduced`` if some is not reproduced; otherwise
    ``inconclusive``.
No counted comparison at all gives ``inconclusive``.
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
    AT_CEILING = "at ceiling"
    #: a comparison on a task no mapping learnt (:mod:`entangled.reports.learnability`)
    UNLEARNT = "task not learnt"


REPRODUCED = FindingVerdict.REPRODUCED
NOT_REPRODUCED = FindingVerdict.NOT_REPRODUCED
OPPOSITE = FindingVerdict.OPPOSITE
INCONCLUSIVE = FindingVerdict.INCONCLUSIVE
AT_CEILING = FindingVerdict.AT_CEILING
#: a comparison on a task no mapping learnt (:mod:`entangled.reports.learnability`): excluded
UNLEARNT = FindingVerdict.UNLEARNT
EXCLUDED = (AT_CEILING, UNLEARNT)
VERDICTS = (REPRODUCED, NOT_REPRODUCED, OPPOSITE, INCONCLUSIVE)
RULES = ("any", "all")


def rule_text(rule: str, margin: float, alpha: float = ALPHA) -> str:
    """The finding rule of ``rule`` in words, with the smallest effect and level filled in."""
    per = (f"Each comparison: reproduced if the paired difference goes in the predicted "
           f"direction with Holm-adjusted p < {alpha:g}; opposite if it is significant the "
           f"other way; not reproduced if a TOST shows it lies within ±{100 * margin:g} pp "
           f"(checked first); inconclusive otherwise (with the MDE); both arms ≥ 99%, or a "
           f"task no mapping learnt, is excluded. ")
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
                       alpha: float = ALPHA) -> ComparisonVerdict:
    """Apply the per-comparison rule of the module docstring (``predicted`` is +1 or -1)."""
    if predicted not in (1, -1):
        raise InvalidParameterError("predicted", predicted, "+1 (higher) or -1 (lower)")
    if comparison.n < 2:
        return ComparisonVerdict(INCONCLUSIVE, predicted, p_adjusted,
                                 f"{comparison.n} paired seed(s): no test possible")
    if comparison.at_ceiling:
        return ComparisonVerdict(AT_CEILING, predicted, p_adjusted,
                                 "both arms at the ceiling (≥ 99%): excluded from the verdict")
    margin = comparison.tost.margin
    if comparison.tost.equivalent:
        return ComparisonVerdict(
            NOT_REPRODUCED, predicted, p_adjusted,
            f"equivalent within ±{100 * margin:g} pp (TOST p = {comparison.tost.p_value:.3g})")
    if p_adjusted < alpha and comparison.mean != 0:
        sign = 1 if comparison.mean > 0 else -1
        word = REPRODUCED if sign == predicted else OPPOSITE
        return ComparisonVerdict(word, predicted, p_adjusted,
                                 f"Holm-adjusted p = {p_adjusted:.3g} < {alpha:g}")
    reason = f"Holm-adjusted p = {p_adjusted:.3g}; not equivalent within ±{100 * margin:g} pp"
    if comparison.mde == comparison.mde:  # not nan
        reason += f"; MDE {100 * comparison.mde:.1f} pp at {comparison.n} seeds"
    if comparison.seeds_for_smallest_effect:
        reason += (f"; ≈{comparison.seeds_for_smallest_effect} seeds would detect "
                   f"{100 * margin:g} pp")
    return ComparisonVerdict(INCONCLUSIVE, predicted, p_adjusted, reason)


def finding_verdict(words: Sequence[str], rule: str) -> str:
    """Combine the comparison verdicts of one finding by ``rule``. Comparisons at the ceiling
    or on a task no mapping learnt are excluded; under ``all`` an excluded comparison is a part of the claim left untested,
    so the finding cannot be ``reproduced``."""
    if rule not in RULES:
        raise InvalidParameterError("rule", rule, "one of " + ", ".join(RULES))
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
