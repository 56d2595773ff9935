"""The paper's findings F1-F3 (DESIGN §1) judged by a stated rule on measured differences.

Each finding is a list of *comparisons* — (architecture, task, variant) against the identity
skip of the same architecture and task — with a predicted sign of the accuracy difference.
A comparison *agrees* when the 95% CI of the difference excludes 0 on the predicted side,
*disagrees* when it excludes 0 on the other side, and is *unresolved* otherwise.

Rules
-----
``any`` (F1, F2: "can help", "hurt"):
    supported when at least one comparison agrees and none disagrees; contradicted when at
    least one disagrees and none agrees; inconclusive otherwise.
``all`` (F3, a two-part claim):
    supported when every comparison agrees; contradicted when any disagrees; inconclusive
    otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports.analysis import Outcome, find_outcome

RULE_TEXT = {
    "any": ("supported if the 95% CI of at least one difference excludes 0 in the predicted "
            "direction and none excludes 0 in the opposite direction; contradicted in the "
            "reverse case; inconclusive otherwise"),
    "all": ("supported if the 95% CI of every difference excludes 0 in its predicted "
            "direction; contradicted if any excludes 0 in the opposite direction; "
            "inconclusive otherwise"),
}


@dataclass(frozen=True)
class Comparison:
    """A variant vs identity on one (arch, task), with the predicted sign (+1 or -1)."""

    arch: str
    task: str
    variant: str
    predicted: int


@dataclass(frozen=True)
class Finding:
    key: str
    claim: str
    rule: str
    comparisons: tuple[Comparison, ...]


@dataclass
class Judgement:
    finding: Finding
    verdict: str
    rule_text: str
    evidence: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"key": self.finding.key, "claim": self.finding.claim, "verdict": self.verdict,
                "rule": self.rule_text, "evidence": self.evidence}


def comparison_status(sign: int, predicted: int) -> str:
    """``agrees`` / ``disagrees`` / ``unresolved`` from the CI's side of zero."""
    if sign == 0:
        return "unresolved"
    return "agrees" if sign == predicted else "disagrees"


def verdict_from(statuses: list[str], rule: str) -> str:
    """Apply the ``any``/``all`` rule of the module docstring to comparison statuses."""
    agrees = statuses.count("agrees")
    disagrees = statuses.count("disagrees")
    if not statuses:
        return "inconclusive"
    if rule == "all":
        if disagrees:
            return "contradicted"
        return "supported" if agrees == len(statuses) else "inconclusive"
    if agrees and not disagrees:
        return "supported"
    if disagrees and not agrees:
        return "contradicted"
    return "inconclusive"


def judge(finding: Finding, rows: list[Outcome]) -> Judgement:
    """Judge ``finding`` on the outcome table; missing comparisons count as unresolved."""
    evidence, statuses = [], []
    for comp in finding.comparisons:
        row = find_outcome(rows, comp.arch, comp.task, comp.variant)
        diff = row.difference if row is not None else None
        status = "missing" if diff is None else comparison_status(diff.excludes_zero(), comp.predicted)
        statuses.append("unresolved" if status == "missing" else status)
        evidence.append({
            "arch": comp.arch, "task": comp.task, "variant": comp.variant,
            "predicted": "higher" if comp.predicted > 0 else "lower",
            "status": status,
            "difference": diff.to_dict() if diff else None,
            "seeds": row.summary.n if row else 0,
        })
    return Judgement(finding, verdict_from(statuses, finding.rule), RULE_TEXT[finding.rule], evidence)


def paper_findings(image_task: str, variant_sparse: str, time_variant: str,
                   time_invariant: str) -> list[Finding]:
    """F1-F3 of Lechner et al. (arXiv 2206.01261) as comparisons on the suite's tasks."""
    return [
        Finding("F1", "Entangled sparse mappings can help generalization of CNNs and Vision "
                      "Transformers.", "any",
                (Comparison("cnn", image_task, variant_sparse, +1),
                 Comparison("vit", image_task, variant_sparse, +1))),
        Finding("F2", "Orthogonal mappings hurt CNNs and Transformers.", "any",
                (Comparison("cnn", image_task, "orthogonal", -1),
                 Comparison("vit", image_task, "orthogonal", -1),
                 Comparison("transformer", time_variant, "orthogonal", -1),
                 Comparison("transformer", time_invariant, "orthogonal", -1))),
        Finding("F3", "In recurrent networks, orthogonal residual mappings are an inductive bias "
                      "for time-variant sequences and degrade accuracy on time-invariant tasks.",
                "all",
                (Comparison("rnn", time_variant, "orthogonal", +1),
                 Comparison("rnn", time_invariant, "orthogonal", -1))),
    ]
