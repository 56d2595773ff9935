"""Model selection on validation data only: the learning rate per (architecture, task,
mapping).

Every run keeps its best-validation checkpoint and reads the test set once, there
(:mod:`entangled.train`). A suite group with an ``lr_grid`` trains each variant and seed at
every learning rate of the grid; for each (architecture, task, mapping, rest of the budget)
the learning rate with the highest **mean validation accuracy over seeds** is selected

.. math:: \\eta^* = \\arg\\max_{\\eta} \\frac{1}{|S|} \\sum_{s \\in S} v_{s}(\\eta),

where a diverged run counts at the task's chance accuracy and ties go to the smaller learning
rate. The tuned comparison uses the runs at :math:`\\eta^*`. The test set never takes part in
a choice: :func:`select_learning_rates` reads ``validation_accuracy`` and nothing else.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from entangled.runs import ArchSpec, Budget, RunResult, SkipVariant, TaskSpec

__all__ = ["Selection", "judged_results", "select_learning_rates", "selection_key",
           "tuned_results", "validation_score"]


def selection_key(result: RunResult) -> tuple[ArchSpec, TaskSpec, SkipVariant, Budget]:
    """What a learning rate is selected for: the run's architecture, task, variant and budget
    with the learning rate (and whether metric snapshots were taken, which does not change
    training) left out."""
    spec = result.spec
    return spec.arch, spec.task, spec.skip, dataclasses.replace(spec.budget, lr=0.0,
                                                                  metrics=True)


def validation_score(result: RunResult) -> float:
    """The validation accuracy at the run's selected checkpoint; the task's chance accuracy
    for a diverged run (or one without a validation score)."""
    value = result.validation_accuracy
    if result.status == "ok" and isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return float(result.chance_accuracy)


@dataclass
class Selection:
    """The learning rate chosen for one (arch, task, mapping, budget) and its evidence:
    ``by_lr[lr] = {"mean_validation", "seeds", "diverged"}``."""

    arch: ArchSpec
    task: TaskSpec
    variant: SkipVariant
    lr: float
    by_lr: dict = field(default_factory=dict)

    @property
    def tuned(self) -> bool:
        """Whether there was a choice (more than one learning rate trained)."""
        return len(self.by_lr) > 1

    def to_dict(self) -> dict:
        from entangled.reports.analysis import model_overrides

        return {"arch": self.arch.name, "model": model_overrides(self.arch), "task": self.task.name,
                "task_options": dict(self.task.options), "variant": self.variant.variant_dict(),
                "selected_lr": self.lr, "tuned": self.tuned,
                "by_lr": [{"lr": lr, **scores} for lr, scores in sorted(self.by_lr.items())]}


def select_learning_rates(results: Iterable[RunResult]) -> dict[tuple, Selection]:
    """Per :func:`selection_key`: the learning rate with the best mean validation accuracy
    over seeds (ties: the smaller learning rate). Reads no test accuracy."""
    scores: dict[tuple, dict[float, list[RunResult]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        scores[selection_key(result)][float(result.spec.budget.lr)].append(result)
    selections = {}
    for key, by_lr in scores.items():
        summary = {lr: {"mean_validation": sum(map(validation_score, runs)) / len(runs),
                        "seeds": len(runs),
                        "diverged": sum(1 for r in runs if r.status != "ok")}
                   for lr, runs in sorted(by_lr.items())}
        best = max(summary, key=lambda lr: (summary[lr]["mean_validation"], -lr))
        selections[key] = Selection(key[0], key[1], key[2], best, summary)
    return selections


def tuned_results(results: Sequence[RunResult], selections: dict[tuple, Selection]
                  ) -> list[RunResult]:
    """The results trained at the selected learning rate of their :func:`selection_key`."""
    return [r for r in results if selection_key(r) in selections
            and float(r.spec.budget.lr) == selections[selection_key(r)].lr]


def judged_results(results: Sequence[RunResult], selections: dict[tuple, Selection]
                   ) -> list[RunResult]:
    """What the findings are judged on: the results at their selected learning rate where one
    was selected among several (:attr:`Selection.tuned`), every other result as it is (a group
    trained at one rate)."""
    chosen = {k: s for k, s in selections.items() if s.tuned}
    return tuned_results(results, chosen) + [r for r in results if selection_key(r) not in chosen]
