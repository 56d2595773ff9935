"""Which stopping rule adds the least noise: the identity skip's seed-to-seed spread under
early stopping with patience 3, patience 8, and the full budget with the best-validation
checkpoint, on every primary group of a preset.

Usage: python benchmarks/stopping_rule.py [--preset quick] [--seeds 8] [--jobs 2] [--out DIR]

For each primary group (architecture, task with its options, budget, fixed learning rate) the
identity skip is trained on ``--seeds`` seeds (20000, 20001, ...: disjoint from every report
and calibration seed) under each rule; the table gives the mean and standard deviation over
seeds of the test and validation accuracy, the mean steps trained, the mean training time and
the steps at which the kept checkpoint was chosen. The rule with the smallest spread at an
acceptable cost is the one the presets use (docs: Report, "The protocol behind the numbers").
The runs are stored in ``--out`` (resumable).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

RULES = {"patience 3": 3, "patience 8": 8, "full budget": None}
FIRST_SEED = 20_000


def rule_configs(suite, seeds: int) -> list[tuple[str, str, object]]:
    """``(group label, rule, RunConfig)`` for every primary group's identity arm."""
    from entangled.reports.headroom import calibration_group
    from entangled.train import RunConfig

    out, seen = [], set()
    for primary in suite.primary:
        group = calibration_group(suite, primary.arch, primary.task)
        label = f"{group.arch}/{group.task}" + (
            "[" + ", ".join(f"{k}={v}" for k, v in sorted(group.task_options.items())) + "]"
            if group.task_options else "")
        if label in seen:
            continue
        seen.add(label)
        for rule, patience in RULES.items():
            budget = {**group.budget, "lr": group.fixed_lr, "metrics": False, "patience": patience}
            for seed in range(FIRST_SEED, FIRST_SEED + seeds):
                out.append((label, rule, RunConfig(
                    arch=group.arch, task=group.task, family="identity", model=dict(group.model),
                    task_options=dict(group.task_options), seed=seed, skip_seed=seed, **budget)))
    return out


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else float("nan")


def table(rows: list[tuple[str, str, object]], by_hash: dict) -> str:
    lines = ["| group | rule | test % (mean ± SD over seeds) | validation % (mean ± SD) | "
             "steps trained | steps of the kept checkpoint | train s per run |",
             "|---|---|---:|---:|---:|---:|---:|"]
    groups: dict = {}
    for label, rule, config in rows:
        groups.setdefault((label, rule), []).append(by_hash[config.hash()])
    for (label, rule), results in groups.items():
        test = [100 * r.test_accuracy for r in results if r.status == "ok"]
        val = [100 * r.validation_accuracy for r in results if r.status == "ok"]
        steps = statistics.mean(r.steps_done for r in results)
        chosen = statistics.mean(r.selected_step or 0 for r in results)
        seconds = statistics.mean(r.wall_time_s for r in results)
        lines.append(f"| {label} | {rule} | {statistics.mean(test):.1f} ± {_sd(test):.1f} | "
                     f"{statistics.mean(val):.1f} ± {_sd(val):.1f} | {steps:.0f} | {chosen:.0f} | "
                     f"{seconds:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/out/stopping-rule"))
    args = parser.parse_args()
    from entangled.reports.presets import get_preset
    from entangled.sweep import load_results, run_sweep

    rows = rule_configs(get_preset(args.preset), args.seeds)
    run_sweep([c for _, _, c in rows], args.out, jobs=args.jobs, progress=False)
    by_hash = {r.config_hash: r for r in load_results(args.out)}
    print(table(rows, by_hash))


if __name__ == "__main__":
    main()
