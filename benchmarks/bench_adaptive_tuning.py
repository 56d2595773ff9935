"""Adaptive learning-rate tuning replayed on stored full-grid results.

Reads the run results of one or more report output directories (``<out>/runs/*.json``, e.g.
from ``entangled report --preset smoke --out DIR``), replays each pruning policy of
:mod:`entangled.reports.adaptive_tuning` on every tuned selection (architecture, task,
mapping, budget with more than one learning rate) and prints, per policy: selections, how
many equal the full grid's selection, the training steps it would have used against the full
grid's, and the largest validation regret. ``--export FILE`` also writes the curves the
replay read (a compact JSON fixture, as used by tests/test_report_adaptive_tuning.py).

Usage::

    python benchmarks/bench_adaptive_tuning.py OUT_DIR [OUT_DIR ...] [--export FILE]

Seconds: it trains nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

POLICY_GRID = [
    ("catch-up pruner, rises of the last 2 evaluations", "CatchUpPruner", {}),
    ("catch-up pruner, rises of the last 3 evaluations", "CatchUpPruner", {"window": 3}),
    ("catch-up pruner, every rise so far", "CatchUpPruner", {"window": None}),
    ("paired pruner, margin 5 pp, from evaluation 2", "PairedPruner", {"min_evaluations": 2,
                                                                       "margin": 0.05}),
    ("paired pruner, margin 2 pp, from evaluation 2", "PairedPruner", {"min_evaluations": 2,
                                                                       "margin": 0.02}),
    ("paired pruner, margin 5 pp, from evaluation 1", "PairedPruner", {"min_evaluations": 1,
                                                                       "margin": 0.05}),
    ("successive halving at evaluation 2, keep 2 of 3", "SuccessiveHalving", {"rungs": (2,)}),
    ("successive halving at evaluations 2 and 4, keep half (at least 1)", "SuccessiveHalving",
     {"rungs": (2, 4), "min_points": 1}),
]


def stored_runs(out_dirs):
    from entangled.reports.adaptive_tuning import StoredRun
    from entangled.sweep import load_results

    runs = []
    for out in out_dirs:
        for result in load_results(Path(out) / "runs"):
            run = StoredRun.from_result(result)
            runs.append(dataclasses.replace(run, key=f"{Path(out).name}: {_label(run.key)}"))
    return tuning_seeds_only(runs)


def tuning_seeds_only(runs):
    """The runs on the seeds that every learning rate of their key has: the seeds the
    selection was made on. A staged report trains later stages' seeds at the selected rate
    only; those runs take no part in the choice and are left out of the replay."""
    seeds: dict = {}
    for run in runs:
        seeds.setdefault(run.key, {}).setdefault(run.lr, set()).add(run.seed)
    common = {key: set.intersection(*by_lr.values()) for key, by_lr in seeds.items()}
    return [run for run in runs if run.seed in common[run.key]]


def _label(key) -> str:
    from entangled.reports.analysis import task_label, variant_label

    arch, task, variant, budget = key
    return (f"{arch.name} {task_label(task)} {variant_label(variant)} "
            f"steps={budget.steps} eval_every={budget.eval_every} patience={budget.patience}")


def main() -> None:
    from entangled.reports import adaptive_tuning as at

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dirs", nargs="+")
    parser.add_argument("--export", metavar="FILE")
    args = parser.parse_args()
    runs = stored_runs(args.out_dirs)
    print(f"{len(runs)} stored runs from {', '.join(args.out_dirs)}")
    print()
    print("| policy | selections | equal to the full grid | steps used / full grid | "
          "largest regret (pp) |")
    print("|---|---|---|---|---|")
    for name, kind, options in POLICY_GRID:
        outcomes = at.replay(getattr(at, kind)(**options), runs)
        s = at.replay_summary(outcomes)
        print(f"| {name} | {s['selections']} | {s['equal']} | {s['steps_used']} / "
              f"{s['steps_full']} = {s['fraction']:.2f} | {100 * s['max_regret']:.2f} |")
        for o in outcomes:
            if not o.equal:
                print(f"|   differs: {o.key} | full {o.full_lr:g}, adaptive {o.adaptive_lr:g} "
                      f"| regret {100 * o.regret:.2f} pp | | |")
    if args.export:
        tuned = {o.key for o in at.replay(at.PairedPruner(), runs)}
        rows = [{"key": r.key, "lr": r.lr, "seed": r.seed, "steps": list(r.steps),
                 "accuracy": list(r.accuracy), "diverged": r.diverged,
                 "steps_done": r.steps_done, "chance": r.chance,
                 "evaluations_planned": r.evaluations_planned}
                for r in runs if r.key in tuned]
        Path(args.export).write_text(json.dumps(rows, separators=(",", ":")) + "\n")
        print(f"\nwrote {len(rows)} runs to {args.export}")


if __name__ == "__main__":
    main()
