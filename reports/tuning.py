"""Model selection on validation data only: the learning rate per (architecture, task,
mapping), and the speed of learning as its own outcome.

Every run of a tuned suite is trained with early stopping on its validation split and reports
``validation_accuracy`` (at the selected checkpoint) and its test accuracy read once, at that
checkpoint. For each (architecture, task, mapping) the learning rate with the highest **mean
validation accuracy over seeds** is selected (a diverged run counts at chance; ties go to the
smaller learning rate); the test accuracies shown for the tuned comparison are those of the
selected learning rate. The test set never takes part in a choice.

*Steps to threshold*: the first evaluated step at which the validation accuracy has covered
``fraction`` (default 95%) of the way from its value at initialisation to its best value,

.. math:: t^* = \\min\\{t : v_t \\ge v_0 + 0.95\\,(v_{best} - v_0)\\},

``None`` when the run never improved on its initial accuracy.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

from reports.analysis import arch_label, variant_label

THRESHOLD_FRACTION = 0.95


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def steps_to_threshold(steps: Sequence[int], values: Sequence[float | None],
                       fraction: float = THRESHOLD_FRACTION) -> int | None:
    """First step whose value reaches ``v_0 + fraction * (max - v_0)`` (module docstring).

    ``None`` values (a diverged evaluation) are skipped; ``None`` when fewer than two finite
    points or no improvement over ``v_0``.
    """
    points = [(int(s), float(v)) for s, v in zip(steps, values) if _finite(v)]
    if len(points) < 2:
        return None
    start = points[0][1]
    best = max(v for _, v in points)
    if not best > start:
        return None
    target = start + fraction * (best - start)
    return next(s for s, v in points if v >= target - 1e-12)


def group_key(result: dict) -> tuple[str, str, str]:
    """(architecture label, task, variant label) of a result dict."""
    config = result["config"]
    return arch_label(config), config["task"], variant_label(config["family"], config["params"])


def validation_score(result: dict) -> float:
    """The validation accuracy of a run at its selected checkpoint; chance when it diverged
    or has none."""
    value = result.get("validation_accuracy")
    if result.get("status") == "ok" and _finite(value):
        return float(value)
    return float(result.get("chance_accuracy", 0.0) or 0.0)


@dataclass
class Selection:
    """The learning rate chosen for one (arch, task, mapping) and the validation evidence."""

    arch: str
    task: str
    variant: str
    lr: float
    by_lr: dict = field(default_factory=dict)  # lr -> {"mean_validation", "seeds"}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["by_lr"] = {f"{lr:g}": v for lr, v in sorted(self.by_lr.items())}
        return d


def select_learning_rates(results: Iterable[dict]) -> dict[tuple[str, str, str], Selection]:
    """Per (arch, task, mapping): the learning rate with the best mean validation accuracy
    over seeds (ties: the smaller learning rate)."""
    scores: dict[tuple, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        scores[group_key(result)][float(result["config"]["lr"])].append(validation_score(result))
    selections = {}
    for key, by_lr in sorted(scores.items()):
        summary = {lr: {"mean_validation": sum(v) / len(v), "seeds": len(v)}
                   for lr, v in sorted(by_lr.items())}
        best = max(summary.items(), key=lambda item: (item[1]["mean_validation"], -item[0]))[0]
        selections[key] = Selection(*key, lr=best, by_lr=summary)
    return selections


def tuned_results(results: Sequence[dict],
                  selections: dict[tuple[str, str, str], Selection]) -> list[dict]:
    """The results at the selected learning rate of their (arch, task, mapping)."""
    return [r for r in results if group_key(r) in selections
            and float(r["config"]["lr"]) == selections[group_key(r)].lr]


def results_at_lr(results: Sequence[dict], lr: float) -> list[dict]:
    """The results trained at learning rate ``lr`` (the fixed-learning-rate comparison)."""
    return [r for r in results if math.isclose(float(r["config"]["lr"]), lr, rel_tol=1e-12)]
