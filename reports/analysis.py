"""Turn run results (plain JSON dicts) into the report's tables.

A *variant* is a skip mapping configuration (family + parameters); an *outcome* is the test
accuracy of all seeds of one (architecture, task, variant), summarised with a t interval (within
[0, 1]) and compared to the identity skip of the same (architecture, task) paired by seed.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from reports.stats import Difference, Summary, rank_correlation, summarize

IDENTITY = "identity"

# Properties of the mapping that the rank correlations relate to outcomes.
PROPERTY_LABELS = {
    "eigenvalue_spread": "eigenvalue spread max|λ| − min|λ|",
    "spectral_norm": "spectral norm ‖M‖₂",
    "distance_from_identity": "distance from I  ‖M − I‖_F/√n",
    "sparsity": "sparsity (fraction of zero entries)",
    "spectral_gap": "spectral gap 1 − |λ₂|",
}


def variant_label(family: str, params: dict) -> str:
    """``family`` or ``family(key=value, ...)`` with floats shortened."""
    if not params:
        return family
    parts = []
    for key, value in sorted(params.items()):
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={text}")
    return f"{family}({', '.join(parts)})"


@dataclass
class Outcome:
    """Test accuracy over seeds of one (arch, task, variant) and its difference to identity."""

    arch: str
    task: str
    family: str
    params: dict
    label: str
    accuracies: list[float]
    diverged: int
    chance: float
    time_structure: str
    summary: Summary
    difference: Difference | None = None
    properties: dict = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    model: dict = field(default_factory=dict)
    #: test accuracy per seed, ``None`` for a diverged run (the paired statistics count it at
    #: chance)
    by_seed: dict = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.accuracies) + self.diverged

    def to_dict(self) -> dict:
        return {
            "arch": self.arch, "task": self.task, "family": self.family, "params": self.params,
            "label": self.label, "accuracies": self.accuracies, "diverged": self.diverged,
            "chance": self.chance, "time_structure": self.time_structure,
            "summary": self.summary.to_dict(),
            "difference": self.difference.to_dict() if self.difference else None,
            "properties": self.properties, "seeds": self.seeds, "model": self.model,
            "by_seed": {str(k): v for k, v in sorted(self.by_seed.items())},
        }


def arch_label(config: dict) -> str:
    """The architecture, with its model overrides when there are any: ``cnn[depth=8]``."""
    overrides = config.get("model") or {}
    if not overrides:
        return config["arch"]
    return config["arch"] + "[" + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())) + "]"


def group_results(results: Iterable[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """Group result dicts by (architecture label, task, variant label), in a stable order."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for result in results:
        config = result["config"]
        key = (arch_label(config), config["task"], variant_label(config["family"], config["params"]))
        groups[key].append(result)
    return dict(sorted(groups.items()))


def outcomes(results: Iterable[dict]) -> list[Outcome]:
    """One :class:`Outcome` per (arch, task, variant); diverged runs are counted, not averaged."""
    rows: list[Outcome] = []
    for (arch, task, label), group in group_results(results).items():
        ok = [r for r in group if r["status"] == "ok" and _finite(r.get("test_accuracy"))]
        first = group[0]
        rows.append(Outcome(
            arch=arch, task=task, family=first["config"]["family"], model=dict(first["config"].get("model") or {}),
            params=dict(first["config"]["params"]), label=label,
            accuracies=[float(r["test_accuracy"]) for r in ok],
            diverged=sum(1 for r in group if r["status"] == "diverged"),
            chance=float(first.get("chance_accuracy", math.nan)),
            time_structure=first.get("time_structure", "none"),
            summary=summarize([float(r["test_accuracy"]) for r in ok], bounds=(0.0, 1.0)),
            seeds=sorted(r["config"]["seed"] for r in group),
            by_seed={int(r["config"]["seed"]): (float(r["test_accuracy"]) if any(r is k for k in ok)
                                                else None)
                     for r in group if r["status"] in ("ok", "diverged")},
        ))
    baselines = {(o.arch, o.task): o for o in rows if o.label == IDENTITY}
    for row in rows:
        base = baselines.get((row.arch, row.task))
        if base is not None and row is not base:
            row.difference = paired_difference(row, base)
    return rows


def paired_difference(row: Outcome, base: Outcome) -> Difference:
    """``row - base`` paired by seed (:func:`reports.paired.compare`, diverged runs at chance):
    the mean difference, its paired t interval within [-1, 1] and the p-value the verdicts use."""
    from reports.paired import compare

    chance = row.chance if math.isfinite(row.chance) else 0.0
    paired = compare(row.by_seed, base.by_seed, chance=chance)
    return Difference(paired.mean, paired.low, paired.high, paired.p_value, paired.n, paired.n)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def find_outcome(rows: list[Outcome], arch: str, task: str, label: str) -> Outcome | None:
    return next((o for o in rows if (o.arch, o.task, o.label) == (arch, task, label)), None)


def dose_response(rows: list[Outcome], family: str, param: str) -> dict[tuple[str, str], list]:
    """Per (arch, task): ``[(value, Summary), ...]`` along ``param`` of ``family``.

    The identity is included at the parameter's identity end when the family has one
    (theta = 0, strength = 0, bandwidth = 0 all give exactly ``I``).
    """
    from entangled import family_class

    spec = next((p for p in family_class(family).parameters if p.name == param), None)
    curves: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:
        if row.family == family and set(row.params) <= {param}:
            value = row.params.get(param, spec.default if spec else math.nan)
            curves[(row.arch, row.task)].append((float(value), row.summary))
        elif row.label == IDENTITY and spec is not None and spec.identity_value is not None:
            curves[(row.arch, row.task)].append((float(spec.identity_value), row.summary))
    return {key: sorted(points, key=lambda p: p[0]) for key, points in curves.items()
            if len(points) >= 3}


def correlations(rows: list[Outcome]) -> list[dict]:
    """Spearman rank correlation of each mapping property with mean accuracy, per (arch, task)."""
    by_pair: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for row in rows:
        if row.properties and row.summary.n:
            by_pair[(row.arch, row.task)].append(row)
    table = []
    for (arch, task), group in sorted(by_pair.items()):
        entry = {"arch": arch, "task": task, "variants": len(group), "by_property": {}}
        for key in PROPERTY_LABELS:
            corr = rank_correlation([o.properties.get(key, math.nan) for o in group],
                                    [o.summary.mean for o in group])
            entry["by_property"][key] = corr.to_dict()
        table.append(entry)
    return table


def load_json(path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
