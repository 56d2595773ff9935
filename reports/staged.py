"""Compute where the verdict is still open: the report's primary comparisons in stages.

With a ``[sequential]`` table (and ``entangled report --until-decided``, the presets' default)
the report runs a group-sequential design (:mod:`entangled.reports.sequential`) instead of a
fixed number of seeds:

1. **Stage 1** trains the whole suite as written (every group, every learning rate of its
   grid, the suite's seeds).
2. The learning rate of every (architecture, task, mapping) is selected on the stage-1
   **validation** accuracies (:func:`entangled.reports.tuning.select_learning_rates`) and
   fixed from then on: later stages train the selected rate only, and their seeds never take
   part in the choice.
3. Each finding's primary comparisons are decided by
   :func:`~entangled.reports.sequential.decide_finding` (Holm across the finding's primary
   comparisons; equivalence Holm-corrected under the ``all`` rule); a comparison whose word is
   ``continue`` gets the next stage's seeds — for both of its arms at their selected rates —
   and the others stop.
4. Repeat until no comparison continues or the cap is reached.

Stage ``k`` always uses the first ``n_k`` seeds of :func:`seed_order` (the suite's seeds, then
the next integers), and every decision is a pure function of the stored results of the seeds
of the stages reached, so an interrupted report resumes where it stopped and a stage's seeds
are the same whether it is reached in one invocation or several. Comparisons excluded on
validation (ceiling, task not learnt) keep their Holm share and are never extended.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Sequence

from entangled.errors import InvalidParameterError
from entangled.reports import tuning
from entangled.reports.analysis import IDENTITY, find_exact, variant
from entangled.reports.findings import CLAIMS, _comparison, validation_at_ceiling
from entangled.reports.paired import CEILING, SMALLEST_EFFECT, with_failures_at_chance
from entangled.reports.presets import _groups_for, _same_variant
from entangled.reports.sequential import (CONTINUE, ComparisonState, SequentialDesign,
                                          StageDecision, decide_finding)
from entangled.train import RunConfig

__all__ = ["StagedOutcome", "design_for", "later_stage_configs", "run_staged", "seed_order",
           "stage_decisions", "stage_configs"]


def seed_order(suite, cap: int) -> tuple[int, ...]:
    """The seeds in the order the stages take them, ``cap`` in all: the suite's
    ``[sequential] seed_order`` when it has one (checked on loading: it begins with the
    suite's seeds), else the suite's seeds, then the smallest integers not among them."""
    declared = (getattr(suite, "sequential", None) or {}).get("seed_order")
    if declared:
        return tuple(declared[:max(cap, len(suite.seeds))])
    order = list(suite.seeds)
    candidate = 0
    while len(order) < cap:
        if candidate not in order:
            order.append(candidate)
        candidate += 1
    return tuple(order[:cap]) if cap >= len(suite.seeds) else tuple(order)


def design_for(suite) -> SequentialDesign | None:
    """The suite's sequential design (``None`` without a ``[sequential]`` table)."""
    spec = getattr(suite, "sequential", None)
    if not spec:
        return None
    stages = tuple(spec["stages"])
    if stages[0] != len(suite.seeds):
        raise InvalidParameterError("sequential.stages", list(stages),
                                    f"stages whose first count is the suite's {len(suite.seeds)} seeds")
    return SequentialDesign(stages=stages, alpha=spec.get("alpha", 0.05),
                            spending=spec.get("spending", "obrien_fleming"),
                            margin=SMALLEST_EFFECT, seed_order=seed_order(suite, stages[-1]))


def _group_of(suite, primary):
    groups = [g for g in _groups_for(suite.runs, primary.arch, primary.task,
                                     dict(primary.task_options), dict(primary.model))
              if any(_same_variant(v, dict(primary.variant)) for v in g.variants)]
    return groups[0]


def stage_configs(suite, primary, selections: dict, seeds: Sequence[int]) -> list:
    """The runs that extend ``primary`` to ``seeds``: its mapping and the identity skip of its
    group at their selected learning rates (the group's fixed rate when it has no grid)."""
    group = _group_of(suite, primary)
    configs = []
    for v in (dict(primary.variant), {"family": "identity"}):
        key = _selection_key(_arm_config(group, v, seeds[0], group.fixed_lr))
        lr = selections[key].lr if key in selections else group.fixed_lr
        configs += [_arm_config(group, v, seed, lr) for seed in seeds]
    return configs


def later_stage_configs(suite) -> list:
    """The most runs the later stages can add (for the cost gate before anything trains):
    both arms of every primary comparison on every seed after stage 1's, up to the cap. The
    learning rate is selected only after stage 1, so they stand at the group's fixed rate
    (the budget, and so the cost, is the same at any rate). Empty without a design."""
    design = design_for(suite)
    if design is None:
        return []
    later_seeds = design.seeds_at(len(design.stages) - 1)[design.stages[0]:]
    configs: dict[str, RunConfig] = {}
    for p in suite.primary:
        for c in stage_configs(suite, p, {}, later_seeds):
            configs.setdefault(c.hash(), c)
    return list(configs.values())


def _arm_config(group, variant: dict, seed: int, lr: float):
    """The run of ``variant`` in ``group`` at ``seed`` and learning rate ``lr`` (no metric
    snapshots: only the accuracies are read)."""
    params = {k: x for k, x in variant.items() if k not in ("family", "spatial")}
    skip_seed = seed if group.skip_seed == "seed" else group.skip_seed
    budget = {**group.budget, "lr": lr, "metrics": False}
    return RunConfig(arch=group.arch, task=group.task, family=variant["family"], params=params,
                     spatial=bool(variant.get("spatial", False)), model=dict(group.model),
                     task_options=dict(group.task_options), seed=seed, skip_seed=skip_seed,
                     **budget)


def _selection_key(config) -> tuple:
    spec = config.to_spec().resolve()
    return (spec.arch, spec.task, spec.skip,
            dataclasses.replace(spec.budget, lr=0.0, metrics=True))


def _differences(rows, primary, seeds: Sequence[int]) -> tuple[dict, bool, tuple] | None:
    """Per-seed differences (mapping minus identity, diverged at chance) of ``primary`` on
    ``seeds`` from the outcome ``rows``, and whether it is excluded at the ceiling on
    validation; ``None`` when a seed is missing."""
    comp = _comparison(primary)
    row = find_exact(rows, comp.arch, comp.task, comp.variant)
    base = find_exact(rows, comp.arch, comp.task, variant(IDENTITY))
    if row is None or base is None:
        return None
    a = with_failures_at_chance(row.by_seed, row.chance)
    b = with_failures_at_chance(base.by_seed, base.chance)
    if not all(s in a and s in b for s in seeds):
        return None
    return {s: a[s] - b[s] for s in seeds}, validation_at_ceiling(row, base, CEILING), base.pair


def stage_decisions(suite, design: SequentialDesign, rows, stage_of: dict,
                    unlearnt: Sequence[tuple] = ()) -> dict:
    """The :class:`StageDecision` of every primary comparison at its stage (``stage_of``:
    :class:`~entangled.reports.presets.PrimaryComparison` -> stage index), per finding with Holm across its primary comparisons; an
    excluded comparison (ceiling or task not learnt on validation, or not measured) maps to
    ``None``."""
    excluded_pairs = set(unlearnt)
    out: dict = {}
    for finding, claim in CLAIMS.items():
        members = [p for p in suite.primary if p.finding == finding]
        states = {}
        for p in members:
            measured = _differences(rows, p, design.seeds_at(stage_of[p]))
            if measured is None or measured[1] or measured[2] in excluded_pairs:
                out[p] = None
                continue
            states[p] = ComparisonState(measured[0], p.predicted, stage_of[p])
        if states:
            out.update(decide_finding(design, states, equivalence_holm=claim.rule == "all",
                                      family_size=len(members)))
    return out


@dataclass
class StagedOutcome:
    """What the staged sweep did: every result, the decisions at the end, the stage each
    primary comparison reached, and the runs each stage trained."""

    design: SequentialDesign
    results: list
    decisions: dict
    stage_of: dict
    runs_per_stage: list[int] = field(default_factory=list)
    stage1_hashes: set = field(default_factory=set)

    def summary(self, suite) -> list[dict]:
        """One entry per primary comparison: its stage, seeds, word and the reason."""
        rows = []
        for p in suite.primary:
            decision: StageDecision | None = self.decisions.get(p)
            stage = self.stage_of[p]
            rows.append({**p.to_dict(), "stage_reached": stage + 1,
                         "stages": len(self.design.stages),
                         "seeds": self.design.stages[stage],
                         "word": None if decision is None else decision.word,
                         "reason": "excluded on validation or not measured" if decision is None
                         else decision.reason,
                         "decision": None if decision is None else decision.to_dict()})
        return rows


def run_staged(suite, run: Callable[[list], list], *, outcome_rows: Callable[[list], list],
               unlearnt: Callable[[list], Sequence[tuple]] = lambda results: (),
               log: Callable[[str], None] = lambda message: None) -> StagedOutcome:
    """Run ``suite`` stage by stage (module docstring).

    ``run(configs) -> results`` trains (or loads, resumably) the given run configs and returns
    every result of the store they belong to; ``outcome_rows(results)`` builds the outcome
    table of the tuned runs (the report's :func:`entangled.reports.analysis.outcomes` of
    :func:`entangled.reports.tuning.tuned_results`); ``unlearnt(results)`` the (arch, task)
    pairs excluded on validation.
    """
    design = design_for(suite)
    if design is None:
        raise InvalidParameterError("suite", suite.name, "a suite with a [sequential] table")
    first = suite.configs()
    results = run(first)
    stage1 = {c.hash() for c in first}
    runs_per_stage = [len(stage1)]
    selections = tuning.select_learning_rates([r for r in results if r.config_hash in stage1])
    stage_of = {p: 0 for p in suite.primary}
    while True:
        rows = outcome_rows(tuning.judged_results(results, selections))
        decisions = stage_decisions(suite, design, rows, stage_of, unlearnt(results))
        extend = [p for p in suite.primary
                  if decisions.get(p) is not None
                  and decisions[p].word == CONTINUE]
        if not extend:
            break
        configs, seen = [], set()
        for p in extend:
            new = design.seeds_at(stage_of[p] + 1)[design.stages[stage_of[p]]:]
            for c in stage_configs(suite, p, selections, new):
                if c.hash() not in seen:
                    seen.add(c.hash())
                    configs.append(c)
            stage_of[p] += 1
        log(f"report: stage {max(stage_of.values()) + 1}: {len(extend)} comparison(s) still "
            f"open, {len(configs)} run(s) for their next seeds")
        results = run(configs)
        runs_per_stage.append(len(configs))
    return StagedOutcome(design, results, decisions, stage_of, runs_per_stage, stage1)
