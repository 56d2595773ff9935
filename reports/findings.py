"""The paper's findings (DESIGN §1) judged on preregistered, paired, Holm-corrected comparisons.

A finding is a claim (:data:`CLAIMS`) and a list of **primary comparisons** — (architecture
with its model, task with its options, mapping) against the identity skip of the same
architecture and task, with the direction the claim predicts — that the suite names before
anything runs (:class:`~entangled.reports.presets.PrimaryComparison`). The verdict rests on the
primary comparisons alone: their p-values form the Holm family. Every other reading in the
finding's scope (other sparse variants, tasks, sequence lengths, depths, widths, the sequence
Transformer) is **secondary evidence**: judged in its own Holm family, shown, never counted.

Each comparison is paired by seed (:func:`entangled.reports.paired.compare`: diverged runs count
at chance, paired t interval, exact sign-flip p-value, TOST against the smallest effect of
interest, MDE). Exclusions read the **validation** split only: a comparison whose arms both
reach the ceiling on validation, or on an (architecture, task) that no mapping learnt on
validation (:mod:`entangled.reports.learnability`), is shown with its interval and TOST and left
out of the verdict. Under the ``all`` rule the TOST p-values are Holm-corrected within the
finding like the significance p-values (a false "not reproduced" of any one part would decide
the finding); under ``any`` they are not (every comparison must be equivalent for "not
reproduced": an intersection-union test, valid at level alpha without correction).

The claims (Lechner et al., arXiv 2206.01261, as the abstract states them):

* **F1** (rule ``any``): entangled sparse mappings can help generalization of CNNs and Vision
  Transformers;
* **F2** (rule ``all``): orthogonal mappings hurt CNNs and (vision) Transformers;
* **F3a** (rule ``all``): in recurrent networks, orthogonal residual mappings are an inductive
  bias for time-variant sequences (higher accuracy);
* **F3b** (rule ``all``): ... and degrade accuracy on time-invariant tasks;
* **F3** = F3a *and* F3b (:data:`CONJUNCTIONS`): reproduced when both halves are (an
  intersection-union test: no further correction); opposite / not reproduced when either half
  is (so those two words carry the error rates of both halves added).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Collection, Iterable, Mapping, Sequence

from entangled.reports.analysis import (IDENTITY, Outcome, arch_label, find_exact, task_label,
                                        variant, variant_label)
from entangled.reports.paired import ALPHA, CEILING, SMALLEST_EFFECT, compare, holm
from entangled.reports.verdicts import (AT_CEILING, MISSING, UNLEARNT, comparison_verdict,
                                        conjunction_verdict, finding_verdict, rule_text)
from entangled.runs import ArchSpec, SkipVariant, TaskSpec

#: families whose variants are readings of the paper's "entangled sparse mapping" (F1)
SPARSE_FAMILIES = ("sparse", "block_orthogonal", "sparse_unit_norm")


@dataclass(frozen=True)
class Claim:
    """A finding of the paper: its words, rule, predicted direction and scope.

    ``families``: the mapping families whose readings belong to the claim; ``archs``: the
    architectures it is about (``extension_archs``: shown as secondary evidence beyond the
    abstract's scope); ``time_structure``: the task structure it is about (``None``: any).
    """

    key: str
    text: str
    rule: str
    predicted: int
    families: tuple[str, ...]
    archs: tuple[str, ...]
    extension_archs: tuple[str, ...] = ()
    time_structure: str | None = None
    scope: str = ""


CLAIMS: dict[str, Claim] = {c.key: c for c in (
    Claim("F1", "Entangled sparse mappings can help generalization of CNNs and Vision "
                "Transformers.", "any", +1, SPARSE_FAMILIES, ("cnn", "vit"),
          scope="the suite's primary sparse reading per architecture (CNN, ViT); every other "
                "sparse reading, task and model size is secondary evidence"),
    Claim("F2", "Orthogonal mappings hurt CNNs and Transformers.", "all", -1, ("orthogonal",),
          ("cnn", "vit"), extension_archs=("transformer",),
          scope="the CNN and the vision Transformer as the abstract states; other tasks, model "
                "sizes and the sequence Transformer are secondary evidence"),
    Claim("F3a", "In recurrent networks, orthogonal residual mappings are an inductive bias for "
                 "time-variant sequences.", "all", +1, ("orthogonal",), ("rnn",),
          time_structure="time-variant",
          scope="the residual RNN on the suite's primary time-variant task(s); other "
                "time-variant tasks and lengths (MNIST-1D as a sequence among them) are "
                "secondary evidence"),
    Claim("F3b", "In recurrent networks, orthogonal residual mappings degrade accuracy on "
                 "time-invariant tasks.", "all", -1, ("orthogonal",), ("rnn",),
          time_structure="time-invariant",
          scope="the residual RNN on the suite's primary time-invariant task(s); other "
                "time-invariant tasks and lengths are secondary evidence"),
)}

#: findings that are conjunctions of others: key -> (claim, parts)
CONJUNCTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "F3": ("In recurrent networks, orthogonal residual mappings are an inductive bias for "
           "time-variant sequences and degrade accuracy on time-invariant tasks.",
           ("F3a", "F3b")),
}


@dataclass(frozen=True)
class Comparison:
    """A variant against the identity skip on one (architecture, task), with the predicted
    sign (+1 or -1). ``arch``/``task``/``variant`` may also be given by name (the
    architecture's default model, the task's default options, the family's default
    parameters); they are resolved on creation so that they compare equal to the outcome
    table's specs."""

    arch: ArchSpec
    task: TaskSpec
    variant: SkipVariant
    predicted: int

    def __post_init__(self):
        given: object = self.arch
        arch = ArchSpec(given) if isinstance(given, str) else self.arch
        given = self.task
        task = TaskSpec(given) if isinstance(given, str) else self.task
        given = self.variant
        v = (variant(given) if isinstance(given, str)
             else SkipVariant(self.variant.family, self.variant.params, self.variant.spatial).resolve())
        object.__setattr__(self, "arch", arch.resolve())
        object.__setattr__(self, "task", task.resolve())
        object.__setattr__(self, "variant", v)

    @property
    def label(self) -> str:
        return variant_label(self.variant)

    @property
    def task_label(self) -> str:
        """The task name, with its options when they are not the defaults."""
        return task_label(self.task)

    @property
    def arch_label(self) -> str:
        return arch_label(self.arch)


@dataclass(frozen=True)
class Finding:
    """A claim, its rule (``any``/``all``), the primary comparisons its verdict rests on and
    the secondary comparisons shown beside them (never counted)."""

    key: str
    claim: str
    rule: str
    primary: tuple[Comparison, ...]
    secondary: tuple[Comparison, ...] = ()
    scope: str = ""

    @property
    def tested(self) -> bool:
        """Whether the suite names any primary comparison for this finding."""
        return bool(self.primary)


@dataclass
class Judgement:
    """A finding's verdict and the evidence behind it (``evidence``: the primary comparisons;
    ``secondary_evidence``: shown, not counted)."""

    finding: Finding
    verdict: str
    rule_text: str
    evidence: list[dict] = field(default_factory=list)
    secondary_evidence: list[dict] = field(default_factory=list)
    margin: float = SMALLEST_EFFECT
    alpha: float = ALPHA
    parts: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"key": self.finding.key, "claim": self.finding.claim, "verdict": self.verdict,
                "rule": self.rule_text, "rule_kind": self.finding.rule,
                "scope": self.finding.scope, "smallest_effect": self.margin, "alpha": self.alpha,
                "tested": self.finding.tested or bool(self.parts), "parts": list(self.parts),
                "evidence": self.evidence, "secondary": self.secondary_evidence}


# ------------------------------------------------------------------------------ judging
def validation_at_ceiling(row: Outcome, base: Outcome, ceiling: float = CEILING) -> bool:
    """Whether both arms' mean *validation* accuracy over their common finished seeds is at
    least ``ceiling`` (a diverged run counts at chance)."""
    seeds = sorted(set(row.validation_by_seed) & set(base.validation_by_seed))
    if not seeds:
        return False

    def mean(o: Outcome) -> float:
        values = [o.validation_by_seed[s] for s in seeds]
        return sum(v if isinstance(v, (int, float)) and math.isfinite(v) else o.chance
                   for v in values) / len(values)

    return mean(row) >= ceiling and mean(base) >= ceiling


def judge_comparisons(comparisons: Sequence[Comparison], rows: list[Outcome], *, rule: str,
                      margin: float = SMALLEST_EFFECT, alpha: float = ALPHA,
                      unlearnt: Collection[tuple] = (), role: str = "primary",
                      decisions: Mapping | None = None) -> list[dict]:
    """Paired comparison, Holm-adjusted p, Holm-adjusted TOST p (rule ``all``) and verdict
    word of each comparison, as dicts.

    The Holm family is the comparisons measured with at least two paired seeds whose arms are
    not both at the ceiling on validation and whose (arch, task) pair is not in ``unlearnt``
    (pairs of :class:`ArchSpec`, :class:`TaskSpec` that no mapping learnt on validation); those
    get the words ``at ceiling`` / ``task not learnt`` and are excluded, still showing their
    interval and TOST. The MDE is computed at ``alpha / m`` (Holm's strictest step).

    ``decisions`` (group-sequential designs, :mod:`entangled.reports.staged`): the
    :class:`~entangled.reports.sequential.StageDecision` of a comparison, keyed by
    ``(arch, task, variant)``; where given, its word decides the comparison (the fixed-design
    numbers stay in the entry for reference) and the entry carries it under ``sequential``.
    """
    unlearnt = set(unlearnt)
    measured = []
    for comp in comparisons:
        row = find_exact(rows, comp.arch, comp.task, comp.variant)
        base = find_exact(rows, comp.arch, comp.task, variant(IDENTITY))
        measured.append((comp, row, base))
    first, excluded = [], {}
    for i, (_comp, row, base) in enumerate(measured):
        if row is None or base is None:
            first.append(None)
            continue
        first.append(compare(row.by_seed, base.by_seed, chance=row.chance, margin=margin,
                             alpha=alpha))
        if base.pair in unlearnt:
            excluded[i] = (UNLEARNT, "no mapping learnt this task on validation at the suite's "
                                     "budget (entangled.reports.learnability): excluded from "
                                     "the verdict")
        elif validation_at_ceiling(row, base):
            excluded[i] = (AT_CEILING, f"both arms at the ceiling on validation (≥ "
                                       f"{100 * CEILING:g}%): excluded from the verdict")
    counted = [i for i, c in enumerate(first) if c is not None and c.n >= 2 and i not in excluded]
    m = max(1, len(counted))
    p_adjusted = dict(zip(counted, holm([first[i].p_value for i in counted])))
    tost_adjusted = (dict(zip(counted, holm([first[i].tost.p_value for i in counted])))
                     if rule == "all" else {})
    evidence = []
    for i, (comp, row, base) in enumerate(measured):
        entry = {"arch": comp.arch_label, "task": comp.task_label, "variant": comp.variant,
                 "label": comp.label, "role": role,
                 "predicted": "higher" if comp.predicted > 0 else "lower",
                 "seeds": 0, "paired": None, "difference": None, "p_adjusted": None,
                 "tost_p_adjusted": None, "holm_family_size": len(counted),
                 "variant_mean": None, "identity_mean": None,
                 "variant_validation": None, "identity_validation": None, "counted": False}
        if first[i] is None:
            entry.update(status=MISSING, reason="not measured")
            evidence.append(entry)
            continue
        paired = compare(row.by_seed, base.by_seed, chance=row.chance, margin=margin,
                         alpha=alpha, mde_alpha=alpha / m)
        p_adj = p_adjusted.get(i, math.nan)
        tost_adj = tost_adjusted.get(i)
        word = comparison_verdict(paired, comp.predicted, p_adj, alpha,
                                  tost_p_adjusted=tost_adj, at_ceiling=False)
        status, reason = word.verdict, word.reason
        decision = (decisions or {}).get((comp.arch, comp.task, comp.variant))
        if decision is not None:
            status = decision.word
            reason = (f"group-sequential design, stage {decision.stage_index + 1} "
                      f"({decision.seeds} seeds): {decision.reason}")
            entry["sequential"] = decision.to_dict()
        if i in excluded:
            status, reason = excluded[i]
        entry.update(
            status=status, reason=reason, seeds=paired.n, paired=paired.to_dict(),
            p_adjusted=p_adj, tost_p_adjusted=tost_adj, counted=i in p_adjusted,
            variant_mean=sum(paired.a) / paired.n if paired.n else None,
            identity_mean=sum(paired.b) / paired.n if paired.n else None,
            variant_validation=row.validation.mean if row.validation.n else None,
            identity_validation=base.validation.mean if base.validation.n else None,
            difference={"delta": paired.mean, "low": paired.low, "high": paired.high,
                        "p_value": paired.p_value},
        )
        evidence.append(entry)
    return evidence


def judge(finding: Finding, rows: list[Outcome], *, margin: float = SMALLEST_EFFECT,
          alpha: float = ALPHA, unlearnt: Collection[tuple] = (),
          decisions: Mapping | None = None) -> Judgement:
    """Judge ``finding`` on the outcome table from its primary comparisons alone (a missing one
    counts as inconclusive; a finding without primary comparisons, or none of whose primary
    comparisons the suite measured, is ``not tested``: :func:`~entangled.reports.verdicts.finding_verdict`);
    the secondary comparisons are judged in their own Holm family and never change the verdict."""
    evidence = judge_comparisons(finding.primary, rows, rule=finding.rule, margin=margin,
                                 alpha=alpha, unlearnt=unlearnt, decisions=decisions)
    verdict = finding_verdict([e["status"] for e in evidence], finding.rule)
    secondary = judge_comparisons(finding.secondary, rows, rule=finding.rule, margin=margin,
                                  alpha=alpha, unlearnt=unlearnt, role="secondary")
    secondary = [e for e in secondary if e["status"] != MISSING]
    return Judgement(finding, verdict, rule_text(finding.rule, margin, alpha), evidence,
                     secondary, margin, alpha)


def judge_conjunction(key: str, parts: Sequence[Judgement]) -> Judgement:
    """The verdict of conjunction ``key`` (:data:`CONJUNCTIONS`) from its parts' verdicts."""
    claim, names = CONJUNCTIONS[key]
    verdict = conjunction_verdict([p.verdict for p in parts])
    finding = Finding(key, claim, "all", (), (), scope=" and ".join(names) + ", each judged "
                      "on its own primary comparisons")
    text = (f"{key} is the conjunction of {' and '.join(names)}: reproduced if every part is "
            f"reproduced; opposite if some part is opposite; not reproduced if some part is not "
            f"reproduced; not tested if no part is tested; inconclusive otherwise.")
    margin = parts[0].margin if parts else SMALLEST_EFFECT
    alpha = parts[0].alpha if parts else ALPHA
    return Judgement(finding, verdict, text, [], [], margin, alpha, tuple(names))


# --------------------------------------------------------------------- the suite's findings
def secondary_comparisons(claim: Claim, rows: Iterable[Outcome],
                          primary: Collection[Comparison]) -> list[Comparison]:
    """Every reading in ``claim``'s scope measured in ``rows`` (a variant of its families on one
    of its architectures, or of its extension architectures, on a task of its time structure,
    with the identity skip measured on the same architecture and task) that is not a primary
    comparison, in the table's order."""
    rows = list(rows)
    baselines = {(o.arch, o.task) for o in rows if o.variant == variant(IDENTITY)}
    keys = {(c.arch, c.task, c.variant) for c in primary}
    found = []
    for o in rows:
        if (o.arch.name not in claim.archs + claim.extension_archs
                or o.family not in claim.families or (o.arch, o.task) not in baselines
                or (claim.time_structure and o.time_structure != claim.time_structure)
                or (o.arch, o.task, o.variant) in keys):
            continue
        found.append(Comparison(o.arch, o.task, o.variant, claim.predicted))
    return found


def findings_from_primaries(primaries: Sequence, rows: Iterable[Outcome]) -> list[Finding]:
    """The findings of :data:`CLAIMS` with the suite's primary comparisons (objects with
    ``finding``, ``arch``, ``model``, ``task``, ``task_options``, ``variant`` (pairs of
    family/params) and ``predicted``, e.g. :class:`~entangled.reports.presets.PrimaryComparison`)
    and the secondary readings of ``rows``."""
    rows = list(rows)
    out = []
    for key, claim in CLAIMS.items():
        primary = tuple(_comparison(p) for p in primaries if p.finding == key)
        out.append(Finding(key, claim.text, claim.rule, primary,
                           tuple(secondary_comparisons(claim, rows, primary)), claim.scope))
    return out


def _comparison(primary) -> Comparison:
    v = dict(primary.variant)
    params = {k: x for k, x in v.items() if k not in ("family", "spatial")}
    return Comparison(ArchSpec(primary.arch, tuple(primary.model)),
                      TaskSpec(primary.task, tuple(primary.task_options)),
                      SkipVariant(v["family"], tuple(sorted(params.items())),
                                  bool(v.get("spatial", False))),
                      int(primary.predicted))


def judge_suite(primaries: Sequence, rows: list[Outcome], *,
                secondary_rows: list[Outcome] | None = None, margin: float = SMALLEST_EFFECT,
                alpha: float = ALPHA, unlearnt: Collection[tuple] = (),
                decisions: Mapping | None = None) -> list[Judgement]:
    """F1, F2, F3a, F3b judged on ``rows`` from the suite's primary comparisons (the secondary
    readings taken from ``secondary_rows``, default ``rows``), then the conjunction F3.

    ``decisions``: the group-sequential words of the primary comparisons, keyed by the
    primary comparisons themselves (``None`` values: excluded); they replace the fixed
    design's words."""
    secondary_rows = rows if secondary_rows is None else secondary_rows
    by_comparison = None
    if decisions is not None:
        by_comparison = {}
        for p in primaries:
            decision = decisions.get(p)
            if decision is not None:
                comp = _comparison(p)
                by_comparison[(comp.arch, comp.task, comp.variant)] = decision
    judged = []
    for f in findings_from_primaries(primaries, secondary_rows):
        primary = judge(dataclasses.replace(f, secondary=()), rows, margin=margin, alpha=alpha,
                        unlearnt=unlearnt, decisions=by_comparison)
        secondary = judge(dataclasses.replace(f, primary=()), secondary_rows, margin=margin,
                          alpha=alpha, unlearnt=unlearnt)
        primary.secondary_evidence = secondary.secondary_evidence
        primary.finding = f
        judged.append(primary)
    by_key = {j.finding.key: j for j in judged}
    for key, (_, parts) in CONJUNCTIONS.items():
        judged.append(judge_conjunction(key, [by_key[p] for p in parts]))
    return judged


__all__ = ["AT_CEILING", "CLAIMS", "CONJUNCTIONS", "Claim", "Comparison", "Finding",
           "Judgement", "SPARSE_FAMILIES", "findings_from_primaries", "judge",
           "judge_comparisons", "judge_conjunction", "judge_suite", "secondary_comparisons",
           "validation_at_ceiling"]
