"""Headroom by design: task settings chosen on validation so that the identity skip has room.

A comparison cannot show that a mapping *helps* when the identity skip already sits at the
ceiling, and a ±2 pp equivalence margin means nothing when less than 2 pp are left. So every
primary comparison's task is set, before the report runs, by a **calibration** that reads the
identity arm's *validation* accuracy only:

1. a ``[[calibration]]`` entry of the suite names the architecture, the task, one difficulty
   knob (a task option, e.g. MNIST-1D's ``iid_noise_scale`` or a sequence task's ``length``)
   and the values to try, ordered from the easiest to the hardest;
2. for each value, the identity skip is trained with the group's budget and fixed learning
   rate on the calibration seeds (:data:`CALIBRATION_SEEDS`, disjoint from every report seed,
   so the report's own runs never take part in the choice);
3. :func:`choose` takes, among the values whose mean validation accuracy lies inside the
   band (default 60–90%, the suite's ``[headroom] band``), the one **closest to the band's
   centre** (room both ways: tuning the learning rate may lift the identity, a mapping may
   beat or trail it), the easier on a tie; when no value lands inside (the accuracy jumps
   over the band), the value nearest to the band.

The test split is never read: :func:`identity_validation` uses ``validation_accuracy`` and
nothing else (a test asserts that permuting the test labels changes nothing). ``entangled
calibrate`` prints the chosen values as TOML to put into the suite (the group's
``task_options`` and the completed ``[[calibration]]`` record, which the page shows).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from entangled.errors import InvalidParameterError
from entangled.reports.analysis import IDENTITY, find_exact, variant
from entangled.reports.findings import _comparison
from entangled.sweep import load_results, run_sweep
from entangled.train import RunConfig

#: seeds of the calibration runs: disjoint from the seeds the presets use (0..63)
CALIBRATION_SEEDS = (10_000, 10_001, 10_002)


def distance_to_band(value: float, band: tuple[float, float]) -> float:
    """How far ``value`` lies outside ``[low, high]`` (0 inside)."""
    low, high = band
    return max(low - value, 0.0, value - high)


def choose(tried: Sequence[Any], scores: Sequence[float], band: tuple[float, float]) -> Any:
    """Of ``tried`` (ordered easy to hard), the value whose identity validation accuracy
    (``scores``) lies inside ``band`` closest to its centre :math:`(l + h) / 2`; when none lies
    inside, the one nearest to the band. Ties go to the easier value."""
    if len(tried) != len(scores) or not tried:
        raise InvalidParameterError("scores", list(scores),
                                    f"one score per value tried ({len(tried)}), at least one")
    centre = (band[0] + band[1]) / 2
    best = min(range(len(tried)), key=lambda i: (distance_to_band(scores[i], band),
                                                 abs(scores[i] - centre), i))
    return tried[best]


@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` measured for one ``[[calibration]]`` entry."""

    arch: str
    task: str
    knob: str
    tried: tuple
    identity_validation: tuple[float, ...]
    chosen: Any
    seeds: tuple[int, ...]
    band: tuple[float, float]
    budget: str
    date: str

    def toml(self) -> str:
        """The completed ``[[calibration]]`` table, to paste into the suite."""
        def value(v: Any) -> str:
            return repr(v) if isinstance(v, (int, float)) else f'"{v}"'

        return "\n".join([
            "[[calibration]]",
            f'arch = "{self.arch}"',
            f'task = "{self.task}"',
            f'knob = "{self.knob}"',
            f"tried = [{', '.join(value(v) for v in self.tried)}]",
            "identity_validation = [" + ", ".join(f"{s:.4f}" for s in self.identity_validation) + "]",
            f"chosen = {value(self.chosen)}",
            f"seeds = [{', '.join(str(s) for s in self.seeds)}]",
            f"band = [{self.band[0]:g}, {self.band[1]:g}]",
            f'budget = "{self.budget}"',
            f'date = "{self.date}"',
        ])


def _budget_text(budget: dict) -> str:
    keys = ("steps", "batch_size", "lr", "eval_every", "patience")
    return ", ".join(f"{k} {budget[k]}" for k in keys if k in budget)


def calibration_group(suite, arch: str, task: str):
    """The ``[[runs]]`` group of ``suite`` that trains the identity skip of ``arch`` on
    ``task`` with the default model (the primary group the calibration sets)."""
    groups = [g for g in suite.runs if g.arch == arch and g.task == task and not g.model
              and any(v["family"] == "identity" for v in g.variants)]
    if not groups:
        raise InvalidParameterError("calibration", f"{arch} on {task}",
                                    "an architecture and task that a [[runs]] group of the "
                                    "suite trains with the identity skip")
    return groups[0]


def calibration_configs(group, knob: str, value: Any, seeds: Sequence[int]) -> list:
    """The identity runs of ``group`` with ``knob = value``, at the group's fixed learning rate
    and budget, one per calibration seed (metric snapshots off: only validation is read)."""
    budget = {**group.budget, "lr": group.fixed_lr, "metrics": False}
    options = {**group.task_options, knob: value}
    return [RunConfig(arch=group.arch, task=group.task, family="identity",
                      model=dict(group.model), task_options=options, seed=seed,
                      skip_seed=seed, **budget) for seed in seeds]


def identity_validation(results: Sequence) -> float:
    """Mean validation accuracy of the calibration runs (a diverged run at chance). Reads
    ``validation_accuracy`` only: the test split takes no part."""
    scores = []
    for r in results:
        value = r.validation_accuracy
        ok = r.status == "ok" and isinstance(value, (int, float)) and math.isfinite(value)
        scores.append(float(value) if ok else float(r.chance_accuracy))
    return sum(scores) / len(scores)


def calibration_run_configs(suite, seeds: Sequence[int] = CALIBRATION_SEEDS) -> list:
    """Every run :func:`calibrate` trains for ``suite`` (for the cost gate before it trains)."""
    return [c for entry in suite.calibration
            for value in entry.tried
            for c in calibration_configs(calibration_group(suite, entry.arch, entry.task),
                                         entry.knob, value, seeds)]


def calibrate(suite, *, out_dir: str | Path, jobs: int = 1, seeds: Sequence[int] = CALIBRATION_SEEDS,
              progress: bool = False, run_fn: Callable | None = None,
              today: str | None = None) -> list[CalibrationResult]:
    """Run every ``[[calibration]]`` entry of ``suite`` (resumable: results under
    ``out_dir``) and choose each knob's value by :func:`choose` within the suite's band."""
    if not suite.calibration:
        raise InvalidParameterError("suite", suite.name,
                                    "a suite with [[calibration]] entries (arch, task, knob, "
                                    "tried) to calibrate")
    plans, configs = [], []
    for entry in suite.calibration:
        group = calibration_group(suite, entry.arch, entry.task)
        per_value = [calibration_configs(group, entry.knob, v, seeds) for v in entry.tried]
        plans.append((entry, group, per_value))
        configs += [c for value_configs in per_value for c in value_configs]
    run_sweep(configs, out_dir, jobs=jobs, progress=progress, run_fn=run_fn)
    by_hash = {r.config_hash: r for r in load_results(out_dir)}
    date = today or datetime.date.today().isoformat()
    out = []
    for entry, group, per_value in plans:
        scores = tuple(identity_validation([by_hash[c.hash()] for c in value_configs])
                       for value_configs in per_value)
        out.append(CalibrationResult(entry.arch, entry.task, entry.knob, tuple(entry.tried),
                                     scores, choose(entry.tried, scores, suite.band),
                                     tuple(seeds), suite.band, _budget_text(group.budget), date))
    return out


def band_check(suite, rows) -> list[dict]:
    """For every primary comparison: where its identity arm (and its mapping) landed on
    validation in the report, and whether the identity lies inside the suite's band."""
    checks = []
    for primary in suite.primary:
        comp = _comparison(primary)
        base = find_exact(rows, comp.arch, comp.task, variant(IDENTITY))
        row = find_exact(rows, comp.arch, comp.task, comp.variant)
        identity = base.validation.mean if base is not None and base.validation.n else None
        checks.append({
            "finding": primary.finding, "arch": comp.arch_label, "task": comp.task_label,
            "variant": comp.variant,
            "identity_validation": identity,
            "variant_validation": row.validation.mean if row is not None and row.validation.n else None,
            "inside_band": None if identity is None else distance_to_band(identity, suite.band) == 0.0,
        })
    return checks


__all__ = ["CALIBRATION_SEEDS", "CalibrationResult", "band_check", "calibrate",
           "calibration_configs", "calibration_group", "calibration_run_configs", "choose",
           "distance_to_band", "identity_validation"]
