"""Turn typed run results (:class:`entangled.runs.RunResult`) into the report's tables.

A *variant* is a skip mapping configuration (:class:`~entangled.runs.SkipVariant`: family +
typed parameter values); an *outcome* is the test accuracy of all seeds of one
(architecture spec, task spec, variant), summarised with a t interval (within [0, 1]) and
compared to the identity skip of the same architecture and task paired by seed.

Grouping and ordering use the typed values only (a variant with strength 0.5 and one with
0.50004 are two outcomes; a sweep is ordered numerically). Text labels are made only when
rendering (:func:`variant_labels`, :func:`arch_label`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Iterable

from entangled.runs import ArchSpec, RunResult, SkipVariant, TaskSpec, freeze, thaw
from entangled.reports.stats import Difference, Summary, rank_correlation, summarize

IDENTITY = "identity"

# Properties of the mapping that the rank correlations relate to outcomes.
PROPERTY_LABELS = {
    "eigenvalue_spread": "eigenvalue spread max|λ| − min|λ|",
    "spectral_norm": "spectral norm ‖M‖₂",
    "distance_from_identity": "distance from I  ‖M − I‖_F/√n",
    "sparsity": "sparsity (fraction of zero entries)",
    "spectral_gap": "spectral gap 1 − |λ₂|",
}


# ------------------------------------------------------------------------- variants
def variant(family: str, params: dict | None = None, spatial: bool = False) -> SkipVariant:
    """The resolved (defaults filled, typed) variant of ``family`` with ``params``."""
    return SkipVariant(family, params or {}, spatial).resolve()


@cache
def family_defaults(family: str) -> tuple:
    """The resolved default parameter pairs of ``family``."""
    return SkipVariant(family).resolve().params


def _format_value(value: Any, digits: int | None) -> str:
    if isinstance(value, float):
        return repr(value) if digits is None else f"{value:.{digits}g}"
    return str(thaw(value))


def variant_label(v: SkipVariant | str, params: dict | None = None, *,
                  shown: Iterable[str] | None = None, digits: int | None = 3) -> str:
    """``family`` or ``family(key=value, ...)`` for rendering.

    ``v`` is a :class:`SkipVariant` (the parameters that differ from the family's defaults,
    or those named in ``shown``, are written) or a family name with a ``params`` dict (the
    given parameters are written). Floats get ``digits`` significant digits (``None``: all).
    """
    if isinstance(v, SkipVariant):
        defaults = dict(family_defaults(v.family)) if v.family in _known_families() else {}
        keys = set(shown or ()) | {k for k, x in v.params if defaults.get(k, object()) != x}
        items = [(k, x) for k, x in v.params if k in keys]
        family, spatial = v.family, v.spatial
    else:
        family, spatial = v, False
        items = sorted((params or {}).items())
    text = family
    if items:
        text += "(" + ", ".join(f"{k}={_format_value(x, digits)}" for k, x in items) + ")"
    return text + (" +spatial" if spatial else "")


def _known_families() -> set[str]:
    from entangled.mappings import families

    return set(families())


def variant_labels(variants: Iterable[SkipVariant]) -> dict[SkipVariant, str]:
    """Distinct labels for a set of variants.

    Within a family, a parameter is written when it differs from the default in any of the
    family's variants (so every point of a sweep shows its value); floats get 3 significant
    digits, more where two variants would otherwise read the same.
    """
    variants = sorted(set(variants), key=SkipVariant.sort_key)
    by_family: dict[str, list[SkipVariant]] = defaultdict(list)
    for v in variants:
        by_family[v.family].append(v)
    labels: dict[SkipVariant, str] = {}
    for family, members in by_family.items():
        defaults = dict(family_defaults(family)) if family in _known_families() else {}
        shown = {k for v in members for k, x in v.params if defaults.get(k, object()) != x}
        for digits in (3, 6, None):
            trial = {v: variant_label(v, shown=shown, digits=digits) for v in members}
            if len(set(trial.values())) == len(members):
                break
        labels.update(trial)
    return labels


@cache
def _arch_defaults(name: str) -> tuple:
    return freeze(ArchSpec(name).defaults())


def model_overrides(arch: ArchSpec) -> dict[str, Any]:
    """The fields of ``arch``'s model config that differ from the architecture's defaults."""
    defaults = dict(_arch_defaults(arch.name))
    return {k: thaw(v) for k, v in arch.overrides if defaults.get(k, object()) != v}


def arch_label(arch: ArchSpec | dict) -> str:
    """The architecture, with its non-default model fields when there are any: ``cnn[depth=8]``."""
    if isinstance(arch, dict):  # a flat RunConfig dict
        arch = ArchSpec(arch["arch"], arch.get("model") or {})
    overrides = model_overrides(arch)
    if not overrides:
        return arch.name
    return arch.name + "[" + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())) + "]"


def task_label(task: TaskSpec) -> str:
    """The task name, with its options when they differ from the defaults."""
    from entangled.tasks import task_entry

    try:
        defaults = task_entry(task.name).resolve_options({})
    except ValueError:
        defaults = {}
    changed = {k: thaw(v) for k, v in task.options if defaults.get(k, object()) != thaw(v)}
    if not changed:
        return task.name
    return task.name + "[" + ", ".join(f"{k}={v}" for k, v in sorted(changed.items())) + "]"


# ------------------------------------------------------------------------- outcomes
@dataclass
class Outcome:
    """Test accuracy over seeds of one (arch, task, variant) and its difference to identity."""

    arch: ArchSpec
    task: TaskSpec
    variant: SkipVariant
    accuracies: list[float]
    diverged: int
    chance: float
    time_structure: str
    skip_width: int
    summary: Summary
    difference: Difference | None = None
    properties: dict = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    #: test accuracy per seed, ``None`` for a diverged run (the paired statistics count it at
    #: chance)
    by_seed: dict = field(default_factory=dict)
    #: validation accuracy at the selected checkpoint per seed (``None``: diverged)
    validation_by_seed: dict = field(default_factory=dict)
    #: steps to 95% of the best validation accuracy per seed (``None``: diverged or never
    #: improved on the untrained model)
    speed_by_seed: dict = field(default_factory=dict)
    #: the learning rate of the runs (``None`` when they mix several)
    lr: float | None = None

    @property
    def steps_to_threshold(self) -> Summary:
        """Steps to threshold over the seeds that have one (no bounds)."""
        return summarize([float(v) for v in self.speed_by_seed.values() if v is not None])

    @property
    def validation(self) -> Summary:
        """Validation accuracy at the selected checkpoints, over the finished seeds."""
        return summarize([v for v in self.validation_by_seed.values() if v is not None],
                         bounds=(0.0, 1.0))

    @property
    def runs(self) -> int:
        return len(self.accuracies) + self.diverged

    @property
    def family(self) -> str:
        return self.variant.family

    @property
    def params(self) -> dict:
        return self.variant.param_dict

    @property
    def pair(self) -> tuple[ArchSpec, TaskSpec]:
        return self.arch, self.task

    @property
    def default_model(self) -> bool:
        return not model_overrides(self.arch)

    def to_dict(self) -> dict:
        return {
            "arch": self.arch.name, "model": model_overrides(self.arch),
            "task": self.task.name, "task_options": dict(self.task.options),
            "variant": self.variant.variant_dict(), "accuracies": self.accuracies,
            "diverged": self.diverged, "chance": self.chance,
            "time_structure": self.time_structure, "skip_width": self.skip_width,
            "summary": self.summary.to_dict(),
            "difference": self.difference.to_dict() if self.difference else None,
            "properties": self.properties, "seeds": self.seeds,
            "by_seed": {str(k): v for k, v in sorted(self.by_seed.items())},
            "validation_by_seed": {str(k): v for k, v in sorted(self.validation_by_seed.items())},
            "steps_to_threshold_by_seed": {str(k): v for k, v in sorted(self.speed_by_seed.items())},
            "steps_to_threshold": self.steps_to_threshold.to_dict(),
            "lr": self.lr,
        }


def pair_sort_key(pair: tuple[ArchSpec, TaskSpec]) -> tuple:
    arch, task = pair
    return (arch.name, bool(model_overrides(arch)), repr(arch.overrides), task.name,
            repr(task.options))


def outcome_sort_key(o: Outcome) -> tuple:
    return pair_sort_key(o.pair) + (o.variant.sort_key(),)


def group_results(results: Iterable[RunResult]
                  ) -> dict[tuple[ArchSpec, TaskSpec, SkipVariant], list[RunResult]]:
    """Group results by their typed (arch spec, task spec, variant), in a stable order."""
    groups: dict[tuple, list[RunResult]] = defaultdict(list)
    for result in results:
        spec = result.spec
        groups[(spec.arch, spec.task, spec.skip)].append(result)
    return dict(sorted(groups.items(),
                       key=lambda kv: pair_sort_key(kv[0][:2]) + (kv[0][2].sort_key(),)))


def outcomes(results: Iterable[RunResult]) -> list[Outcome]:
    """One :class:`Outcome` per (arch, task, variant); diverged runs are counted, not averaged."""
    rows: list[Outcome] = []
    for (arch, task, skip), group in group_results(results).items():
        ok = [r for r in group if r.status == "ok" and _finite(r.test_accuracy)]
        first = group[0]
        accuracies = [float(r.test_accuracy) for r in ok]
        rows.append(Outcome(
            arch=arch, task=task, variant=skip, accuracies=accuracies,
            diverged=sum(1 for r in group if r.status == "diverged"),
            chance=float(first.chance_accuracy), time_structure=first.time_structure,
            skip_width=int(first.skip_width), summary=summarize(accuracies, bounds=(0.0, 1.0)),
            seeds=sorted(r.spec.seed for r in group),
            by_seed={int(r.spec.seed): (float(r.test_accuracy) if any(r is k for k in ok)
                                         else None)
                     for r in group if r.status in ("ok", "diverged")},
            validation_by_seed={int(r.spec.seed): (r.validation_accuracy if r.status == "ok"
                                                   else None) for r in group},
            speed_by_seed={int(r.spec.seed): (r.steps_to_threshold if r.status == "ok"
                                              else None) for r in group},
            lr=_single({float(r.spec.budget.lr) for r in group}),
        ))
    baselines = {o.pair: o for o in rows
                 if o.variant.family == IDENTITY and not o.variant.spatial}
    for row in rows:
        base = baselines.get(row.pair)
        if base is not None and row is not base:
            row.difference = paired_difference(row, base)
    return rows


def _single(values: set):
    """The one element of ``values``, ``None`` when there are several."""
    return next(iter(values)) if len(values) == 1 else None


def paired_difference(row: Outcome, base: Outcome) -> Difference:
    """``row - base`` paired by seed (:func:`entangled.reports.paired.compare`, diverged runs at chance):
    the mean difference, its paired t interval within [-1, 1] and the p-value the verdicts use."""
    from entangled.reports.paired import compare

    chance = row.chance if math.isfinite(row.chance) else 0.0
    paired = compare(row.by_seed, base.by_seed, chance=chance)
    return Difference(paired.mean, paired.low, paired.high, paired.p_value, paired.n, paired.n)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def find_outcome(rows: list[Outcome], arch: str, task: str | TaskSpec,
                 v: SkipVariant) -> Outcome | None:
    """The outcome of architecture ``arch`` with its default model on task ``task`` for the
    resolved variant ``v``: a task name (its default options preferred) or an exact
    :class:`TaskSpec`."""
    if isinstance(task, TaskSpec):
        return next((o for o in rows if o.arch.name == arch and o.default_model
                     and o.task == task and o.variant == v), None)
    matches = [o for o in rows if o.arch.name == arch and o.default_model
               and o.task.name == task and o.variant == v]
    matches.sort(key=lambda o: task_label(o.task) != o.task.name)
    return matches[0] if matches else None


def find_exact(rows: Iterable[Outcome], arch: ArchSpec, task: TaskSpec,
               v: SkipVariant) -> Outcome | None:
    """The outcome of exactly ``arch`` (resolved model config), ``task`` (resolved options)
    and the resolved variant ``v``, or ``None``."""
    return next((o for o in rows if o.arch == arch and o.task == task and o.variant == v), None)


def by_pair(rows: Iterable[Outcome]) -> dict[tuple[ArchSpec, TaskSpec], list[Outcome]]:
    """Outcomes per (arch, task), pairs and rows in their typed order."""
    groups: dict[tuple, list[Outcome]] = defaultdict(list)
    for row in sorted(rows, key=outcome_sort_key):
        groups[row.pair].append(row)
    return dict(sorted(groups.items(), key=lambda kv: pair_sort_key(kv[0])))


def dose_response(rows: list[Outcome], family: str, param: str
                  ) -> dict[tuple[ArchSpec, TaskSpec], list[tuple[float, Summary]]]:
    """Per (arch, task): ``[(value, Summary), ...]`` along ``param`` of ``family``, in
    numeric order; the other parameters at their defaults.

    The identity is included at the parameter's identity end when the family has one
    (theta = 0, strength = 0, bandwidth = 0 all give exactly ``I``).
    """
    from entangled import family_class

    spec = next((p for p in family_class(family).parameters if p.name == param), None)
    defaults = dict(family_defaults(family))
    curves: dict[tuple, list] = defaultdict(list)
    for row in rows:
        v = row.variant
        if v.family == family and not v.spatial and all(
                x == defaults.get(k) for k, x in v.params if k != param):
            value = v.get(param, spec.default if spec else math.nan)
            curves[row.pair].append((float(value), row.summary))
        elif v.family == IDENTITY and not v.spatial and spec is not None \
                and spec.identity_value is not None:
            curves[row.pair].append((float(spec.identity_value), row.summary))
    return {key: sorted(points, key=lambda p: p[0]) for key, points in curves.items()
            if len(points) >= 3}


def correlations(rows: list[Outcome]) -> list[dict]:
    """Spearman rank correlation of each mapping property with mean accuracy, per (arch, task)."""
    table = []
    for (arch, task), group in by_pair(rows).items():
        group = [o for o in group if o.properties and o.summary.n]
        if not group:
            continue
        entry = {"arch": arch, "task": task, "variants": len(group), "by_property": {}}
        for key in PROPERTY_LABELS:
            corr = rank_correlation([o.properties.get(key, math.nan) for o in group],
                                    [o.summary.mean for o in group])
            entry["by_property"][key] = corr.to_dict()
        table.append(entry)
    return table


def showcase_variants(variants: Iterable[SkipVariant]) -> list[SkipVariant]:
    """One variant per family for the dynamics plots: the middle one of the family's
    variants in typed (numeric) order."""
    by_family: dict[str, list[SkipVariant]] = defaultdict(list)
    for v in set(variants):
        by_family[v.family].append(v)
    shown = []
    for family in sorted(by_family, key=lambda f: (f != IDENTITY, f)):
        members = sorted(by_family[family], key=SkipVariant.sort_key)
        shown.append(members[len(members) // 2])
    return shown


