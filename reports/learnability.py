"""Unlearnt tasks: (architecture, task) pairs that no skip mapping learnt at the suite's budget.

A comparison between mappings says nothing on a task that none of them learnt: every mapping
sits at the level a model reaches without learning the task, and the differences are noise.
Issue 12 asks the page to flag such tasks and to leave them out of the verdicts.

A pair is *unlearnt* when no mapping's mean **validation** accuracy (over its finished seeds,
at the selected checkpoints) beats the task's baseline level

.. math:: \\text{level} = \\max(\\text{chance}, \\text{memoryless}) + \\text{margin},

with *chance* the majority-class accuracy and *memoryless* the best accuracy from the last time
step alone (both documented per task, :class:`entangled.tasks.base.TaskData`), and the margin
:data:`MARGIN` (10 percentage points, the threshold of ``benchmarks/learnability.py``). A
pair without any finished run is flagged too. The level is fixed before looking at any
mapping's accuracy, every mapping counts, and only validation accuracies are read: the test
split takes no part in the exclusion.

For the verdicts: :func:`exclude_unlearnt` returns the outcome rows without the flagged pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Iterable, Mapping

from entangled.runs import ArchSpec, RunResult, TaskSpec, pairs_dict
from entangled.reports.analysis import Outcome, arch_label, by_pair, task_label

#: Accuracy above max(chance, memoryless) that some mapping must reach for a task to count as
#: learnt (fraction, 0.1 = 10 percentage points).
MARGIN = 0.1


@dataclass(frozen=True)
class Unlearnt:
    """A flagged (arch, task) pair, with the numbers behind the flag."""

    arch: ArchSpec
    task: TaskSpec
    chance: float
    memoryless: float
    margin: float
    best_accuracy: float | None
    best_variant: str | None

    @property
    def level(self) -> float:
        """The accuracy some mapping had to beat: ``max(chance, memoryless) + margin``."""
        return baseline_level(self.chance, self.memoryless, self.margin)

    @property
    def pair(self) -> tuple[ArchSpec, TaskSpec]:
        return self.arch, self.task

    def to_dict(self) -> dict:
        return {"arch": arch_label(self.arch), "task": task_label(self.task),
                "task_options": pairs_dict(self.task.options), "chance": self.chance,
                "memoryless": self.memoryless, "margin": self.margin, "level": self.level,
                "best_accuracy": self.best_accuracy, "best_variant": self.best_variant}


def baseline_level(chance: float, memoryless: float, margin: float = MARGIN) -> float:
    """``max(chance, memoryless) + margin``, ignoring a level that is not a number."""
    levels = [v for v in (chance, memoryless) if isinstance(v, (int, float)) and math.isfinite(v)]
    return (max(levels) if levels else 0.0) + margin


@cache
def task_memoryless(task: TaskSpec) -> float:
    """The documented memoryless accuracy of ``task`` (loads the task with its options)."""
    from entangled.tasks import load_task

    return float(load_task(task.name, seed=0, **pairs_dict(task.options)).memoryless_accuracy)


def memoryless_levels(results: Iterable[RunResult]) -> dict[TaskSpec, float]:
    """The memoryless accuracy each task's runs recorded, per task spec."""
    return {r.spec.task: float(r.memoryless_accuracy) for r in results
            if isinstance(r.memoryless_accuracy, (int, float))}


def unlearnt_pairs(rows: Iterable[Outcome], memoryless: Mapping[TaskSpec, float] | None = None,
                   margin: float = MARGIN) -> list[Unlearnt]:
    """The (arch, task) pairs of ``rows`` that no mapping learnt (see the module docstring).

    ``memoryless`` maps a task spec to its memoryless accuracy (e.g.
    :func:`memoryless_levels` of the report's results); a task missing there is looked up with
    :func:`task_memoryless`.
    """
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and 0 <= margin < 1):
        from entangled.errors import InvalidParameterError

        raise InvalidParameterError("margin", margin, "a number in [0, 1)")
    memoryless = dict(memoryless or {})
    flagged = []
    for (arch, task), members in by_pair(rows).items():
        level_memoryless = memoryless.get(task)
        if level_memoryless is None:
            level_memoryless = task_memoryless(task)
        chance = members[0].chance
        finished = [o for o in members if o.validation.n and math.isfinite(o.validation.mean)]
        best = max(finished, key=lambda o: o.validation.mean, default=None)
        if best is not None and best.validation.mean > baseline_level(chance, level_memoryless,
                                                                      margin):
            continue
        flagged.append(Unlearnt(arch, task, chance, level_memoryless, margin,
                                None if best is None else best.validation.mean,
                                None if best is None else _variant_text(best)))
    return flagged


def _variant_text(row: Outcome) -> str:
    from entangled.reports.analysis import variant_label

    return variant_label(row.variant)


def exclude_unlearnt(rows: Iterable[Outcome], memoryless: Mapping[TaskSpec, float] | None = None,
                     margin: float = MARGIN) -> list[Outcome]:
    """``rows`` without the outcomes of unlearnt (arch, task) pairs (:func:`unlearnt_pairs`),
    for judging the findings only on tasks some mapping learnt."""
    rows = list(rows)
    flagged = {u.pair for u in unlearnt_pairs(rows, memoryless, margin)}
    return [o for o in rows if o.pair not in flagged]
