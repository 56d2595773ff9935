"""The paper's findings F1-F3 (DESIGN §1) judged on paired, Holm-corrected comparisons.

Each finding is a list of *comparisons* — (architecture, task, variant) against the identity
skip of the same architecture and task — with a predicted sign of the accuracy difference.
Every comparison is paired by seed (:func:`entangled.reports.paired.compare`: diverged runs count at
chance, paired t interval, exact sign-flip p-value, TOST against the smallest effect of
interest, MDE); the p-values of the comparisons that count are Holm-corrected within the
finding; each comparison and the finding get a word by the rule of :mod:`entangled.reports.verdicts`.

Scope, as the abstract states each finding (Lechner et al., arXiv 2206.01261):

* F1 ("entangled sparse mappings can help CNNs and Vision Transformers"): every sparse reading
  of the suite on the CNN and the ViT, each named (rule ``any``);
* F2 ("orthogonal mappings hurt CNNs and Transformers"): the CNN and the *vision* Transformer
  (rule ``all``); the sequence Transformer is an *extension*, shown separately with its own
  Holm family and verdict, not part of F2's verdict;
* F3 (recurrent networks: orthogonal helps time-variant and degrades time-invariant tasks):
  both parts on the residual RNN (rule ``all``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Collection, Sequence

from entangled.runs import SkipVariant, TaskSpec
from entangled.reports.analysis import IDENTITY, Outcome, find_outcome, task_label, variant, variant_label
from entangled.reports.paired import ALPHA, SMALLEST_EFFECT, compare, holm
from entangled.reports.verdicts import (AT_CEILING, UNLEARNT, comparison_verdict, finding_verdict,
                              rule_text)

#: families whose variants are readings of the paper's "entangled sparse mapping" (F1)
SPARSE_FAMILIES = ("sparse", "block_orthogonal", "sparse_unit_norm")

RULE_TEXT = {"any": rule_text("any", SMALLEST_EFFECT), "all": rule_text("all", SMALLEST_EFFECT)}


@dataclass(frozen=True)
class Comparison:
    """A variant vs identity on one (arch with its default model, task), with the predicted
    sign (+1 or -1). ``variant`` is a :class:`SkipVariant` (resolved on creation) or a
    family name."""

    arch: str
    task: str | TaskSpec
    variant: SkipVariant | str
    predicted: int

    def __post_init__(self):
        v = self.variant
        v = variant(v) if isinstance(v, str) else SkipVariant(v.family, v.params, v.spatial).resolve()
        object.__setattr__(self, "variant", v)

    @property
    def label(self) -> str:
        return variant_label(self.variant)

    @property
    def task_label(self) -> str:
        """The task name, with its options when they are not the defaults (``counting[length=100]``)."""
        return self.task if isinstance(self.task, str) else task_label(self.task)


@dataclass(frozen=True)
class Finding:
    """A claim, its rule (``any``/``all``), the comparisons judged and the extensions shown
    beside it (judged separately, not part of the verdict)."""

    key: str
    claim: str
    rule: str
    comparisons: tuple[Comparison, ...]
    extensions: tuple[Comparison, ...] = ()
    scope: str = ""


@dataclass
class Judgement:
    finding: Finding
    verdict: str
    rule_text: str
    evidence: list[dict] = field(default_factory=list)
    extension_verdict: str | None = None
    extension_evidence: list[dict] = field(default_factory=list)
    margin: float = SMALLEST_EFFECT
    alpha: float = ALPHA

    def to_dict(self) -> dict:
        return {"key": self.finding.key, "claim": self.finding.claim, "verdict": self.verdict,
                "rule": self.rule_text, "rule_kind": self.finding.rule,
                "scope": self.finding.scope, "smallest_effect": self.margin, "alpha": self.alpha,
                "evidence": self.evidence, "extension_verdict": self.extension_verdict,
                "extensions": self.extension_evidence}


def judge_comparisons(comparisons: Sequence[Comparison], rows: list[Outcome], *,
                      margin: float = SMALLEST_EFFECT, alpha: float = ALPHA,
                      unlearnt: Collection[tuple] = ()) -> list[dict]:
    """Paired comparison, Holm-adjusted p and verdict word of each comparison, as dicts.

    The Holm family is the comparisons measured with at least two paired seeds whose arms are
    not both at the ceiling and whose (arch, task) pair is not in ``unlearnt`` (pairs of
    :class:`ArchSpec`, :class:`TaskSpec` that no mapping learnt, :mod:`entangled.reports.learnability`;
    those get the word ``task not learnt`` and are excluded); the MDE is computed at
    ``alpha / m`` (Holm's strictest step).
    """
    unlearnt = set(unlearnt)
    measured = []
    for comp in comparisons:
        row = find_outcome(rows, comp.arch, comp.task, comp.variant)
        base = find_outcome(rows, comp.arch, comp.task, variant(IDENTITY))
        measured.append((comp, row, base))
    first = []
    for _comp, row, base in measured:
        if row is None or base is None:
            first.append(None)
            continue
        first.append(compare(row.by_seed, base.by_seed, chance=row.chance, margin=margin,
                             alpha=alpha))
    excluded = {i for i, (comp, row, base) in enumerate(measured)
                if base is not None and base.pair in unlearnt}
    counted = [i for i, c in enumerate(first) if c is not None and c.n >= 2
               and not c.at_ceiling and i not in excluded]
    m = max(1, len(counted))
    adjusted = holm([first[i].p_value for i in counted])
    p_adjusted = {i: p for i, p in zip(counted, adjusted)}
    evidence = []
    for i, (comp, row, base) in enumerate(measured):
        entry = {"arch": comp.arch, "task": comp.task_label, "variant": comp.variant,
                 "label": comp.label,
                 "predicted": "higher" if comp.predicted > 0 else "lower",
                 "seeds": 0, "paired": None, "difference": None, "p_adjusted": None,
                 "holm_family_size": len(counted), "variant_mean": None,
                 "identity_mean": None}
        if first[i] is None:
            entry.update(status="missing", reason="not measured")
            evidence.append(entry)
            continue
        paired = compare(row.by_seed, base.by_seed, chance=row.chance, margin=margin,
                         alpha=alpha, mde_alpha=alpha / m)
        p_adj = p_adjusted.get(i, math.nan)
        word = comparison_verdict(paired, comp.predicted, p_adj, alpha)
        status, reason = word.verdict, word.reason
        if i in excluded:
            status, reason = UNLEARNT, ("no mapping learnt this task at the suite's budget "
                                        "(entangled.reports.learnability): excluded from the verdict")
        entry.update(
            status=status, reason=reason, seeds=paired.n, paired=paired.to_dict(),
            p_adjusted=p_adj, counted=i in p_adjusted,
            variant_mean=sum(paired.a) / paired.n if paired.n else None,
            identity_mean=sum(paired.b) / paired.n if paired.n else None,
            difference={"delta": paired.mean, "low": paired.low, "high": paired.high,
                        "p_value": paired.p_value},
        )
        evidence.append(entry)
    return evidence


def judge(finding: Finding, rows: list[Outcome], *, margin: float = SMALLEST_EFFECT,
          alpha: float = ALPHA, unlearnt: Collection[tuple] = ()) -> Judgement:
    """Judge ``finding`` on the outcome table; missing comparisons count as inconclusive,
    comparisons on ``unlearnt`` (arch, task) pairs are excluded."""
    evidence = judge_comparisons(finding.comparisons, rows, margin=margin, alpha=alpha,
                                 unlearnt=unlearnt)
    words = [e["status"] if e["status"] != "missing" else "inconclusive" for e in evidence]
    verdict = finding_verdict(words, finding.rule)
    ext_verdict, ext_evidence = None, []
    if finding.extensions:
        ext_evidence = judge_comparisons(finding.extensions, rows, margin=margin, alpha=alpha,
                                         unlearnt=unlearnt)
        ext_words = [e["status"] if e["status"] != "missing" else "inconclusive"
                     for e in ext_evidence]
        ext_verdict = finding_verdict(ext_words, finding.rule)
    return Judgement(finding, verdict, rule_text(finding.rule, margin, alpha), evidence,
                     ext_verdict, ext_evidence, margin, alpha)


def sparse_readings(rows: list[Outcome], task: str,
                    archs: Sequence[str] = ("cnn", "vit")) -> list[SkipVariant]:
    """Every variant of a :data:`SPARSE_FAMILIES` family measured on ``task`` by one of
    ``archs`` with its default model, in the variants' typed order."""
    found = {o.variant for o in rows if o.task.name == task and o.arch.name in archs
             and o.default_model and o.family in SPARSE_FAMILIES}
    return sorted(found, key=SkipVariant.sort_key)


def paper_findings(image_task: str, variant_sparse: SkipVariant | Sequence[SkipVariant],
                   time_variant: str | Sequence[str | TaskSpec],
                   time_invariant: str | Sequence[str | TaskSpec]) -> list[Finding]:
    """F1-F3 of Lechner et al. (arXiv 2206.01261) as comparisons on the suite's tasks.

    ``variant_sparse``: the sparse reading F1 is judged on, or several (every reading, e.g.
    from :func:`sparse_readings`). ``time_variant`` / ``time_invariant``: the task F3 is judged
    on for each part, or several (every such task of the suite, e.g. from
    :func:`sequence_tasks`: each T of a length sweep is a task of its own); the sequence
    Transformer extension of F2 uses the first of each.
    """
    variant_tasks = [time_variant] if isinstance(time_variant, (str, TaskSpec)) else list(time_variant)
    invariant_tasks = ([time_invariant] if isinstance(time_invariant, (str, TaskSpec))
                       else list(time_invariant))
    readings = ([variant_sparse] if isinstance(variant_sparse, (SkipVariant, str))
                else list(variant_sparse))
    return [
        Finding("F1", "Entangled sparse mappings can help generalization of CNNs and Vision "
                      "Transformers.", "any",
                tuple(Comparison(arch, image_task, reading, +1)
                      for arch in ("cnn", "vit") for reading in readings),
                scope="every sparse reading of the suite on the CNN and the ViT, each named"),
        Finding("F2", "Orthogonal mappings hurt CNNs and Transformers.", "all",
                (Comparison("cnn", image_task, "orthogonal", -1),
                 Comparison("vit", image_task, "orthogonal", -1)),
                extensions=(Comparison("transformer", _name(variant_tasks[0]), "orthogonal", -1),
                            Comparison("transformer", _name(invariant_tasks[0]), "orthogonal", -1)),
                scope="CNN and vision Transformer as the abstract states; the sequence "
                      "Transformer is an extension shown separately"),
        Finding("F3", "In recurrent networks, orthogonal residual mappings are an inductive bias "
                      "for time-variant sequences and degrade accuracy on time-invariant tasks.",
                "all",
                tuple(Comparison("rnn", task, "orthogonal", +1) for task in variant_tasks)
                + tuple(Comparison("rnn", task, "orthogonal", -1) for task in invariant_tasks),
                scope="the residual RNN, both parts of the claim, on every time-variant and "
                      "time-invariant task of the suite (each sequence length its own task)"),
    ]


def _name(task: str | TaskSpec) -> str:
    return task if isinstance(task, str) else task.name


def sequence_tasks(rows: list[Outcome], structure: str, arch: str = "rnn") -> list[TaskSpec]:
    """The task specs with ``structure`` (``"time-variant"``/``"time-invariant"``) that ``arch``
    with its default model was measured on with both the identity and orthogonal skips, in
    typed order."""
    def measured(family: str) -> set:
        return {o.task for o in rows if o.arch.name == arch and o.default_model
                and o.time_structure == structure and o.variant == variant(family)}

    both = measured(IDENTITY) & measured("orthogonal")
    return sorted(both, key=lambda t: (t.name, repr(t.options)))


def judge_paper(rows: list[Outcome], image_task: str, time_variant: str, time_invariant: str,
                *, default_sparse: SkipVariant | None = None, margin: float = SMALLEST_EFFECT,
                alpha: float = ALPHA, unlearnt: Collection[tuple] = ()) -> list[Judgement]:
    """Judge F1-F3 on ``rows`` with every sparse reading measured (``default_sparse`` when
    none is); comparisons on ``unlearnt`` (arch, task) pairs are excluded."""
    readings = sparse_readings(rows, image_task) or ([default_sparse] if default_sparse else [])
    variant_tasks = _default_first(sequence_tasks(rows, "time-variant"), time_variant)
    invariant_tasks = _default_first(sequence_tasks(rows, "time-invariant"), time_invariant)
    return [judge(f, rows, margin=margin, alpha=alpha, unlearnt=unlearnt)
            for f in paper_findings(image_task, readings, variant_tasks, invariant_tasks)]


def _default_first(tasks: list[TaskSpec], name: str) -> list[str | TaskSpec]:
    """``tasks`` with those named ``name`` first (the default-options one first of all), or
    ``[name]`` when there are none (the comparison is then reported as not measured)."""
    if not tasks:
        return [name]
    return sorted(tasks, key=lambda t: (t.name != name, task_label(t) != t.name,
                                        t.name, repr(t.options)))


__all__ = ["AT_CEILING", "Comparison", "Finding", "Judgement", "RULE_TEXT", "SPARSE_FAMILIES",
           "judge", "judge_comparisons", "judge_paper", "paper_findings", "sequence_tasks",
           "sparse_readings"]
