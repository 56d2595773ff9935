"""Choose a preset's sequential design by simulation on a pilot's *validation* accuracies.

The pilot is an earlier report of the same suite (its ``runs/`` and ``summary.json``). For every
primary comparison the script takes the per-seed paired differences of *validation* accuracy
(mapping minus identity, each arm at the learning rate the pilot selected on validation; a
diverged run at chance) — the test split is never read — and asks, for each candidate design
(spending function x stages), how many primary comparisons reach a decided word
(reproduced / not reproduced / opposite) and how many runs that costs, by resampling the
pilot's differences (a nonparametric bootstrap, seeds drawn with replacement) through
:func:`entangled.reports.sequential.run_until_decided` with each finding's Holm family and
rule (equivalence Holm-corrected under ``all``).

The rule the choice follows (fixed before the table is read): the design with the most
expected decided comparisons whose expected training time (runs x the pilot's mean run time
per arm, over ``--jobs`` workers) stays within ``--budget-s``; ties go to the cheaper design.
Because the pilot's seeds have been seen, the design it chooses must be confirmed on seeds the
pilot never ran (the preset's ``[sequential] seed_order``).

Usage::

    python benchmarks/design_from_pilot.py PILOT_DIR [--budget-s 430] [--jobs 2]
        [--datasets 4000]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

#: candidate designs: (spending, stages); every one starts at the preset's 5 seeds
CANDIDATES = [(spend, stages)
              for spend in ("pocock", "obrien_fleming")
              for stages in ((5, 10, 20), (5, 10, 15, 20), (5, 10, 20, 30), (5, 10, 15, 20, 25, 30))]


def _arm_key(spec: dict) -> tuple:
    skip = spec["skip"]
    return (spec["arch"]["name"], spec["task"]["name"], skip["family"],
            json.dumps(skip.get("params", {}), sort_keys=True))


def _arm(arms: dict, arch: str, task: str, variant: dict):
    """The pilot arm of ``variant`` (its given parameters a subset of the run's)."""
    given = {k: v for k, v in variant.items() if k not in ("family", "spatial")}
    found = [v for (a, t, family, params), v in arms.items()
             if (a, t, family) == (arch, task, variant["family"])
             and all(json.loads(params).get(k) == x for k, x in given.items())]
    if len(found) != 1:
        raise SystemExit(f"pilot: {len(found)} arms match {arch}/{task}/{variant}")
    return found[0]


def selected_lrs(summary: dict) -> dict:
    """(arch, task, variant family) -> learning rate the pilot selected on validation."""
    out = {}
    for s in summary.get("learning_rate_selection", []):
        if s.get("tuned"):
            out[(s["arch"], s["task"], s["variant"]["family"])] = s["selected_lr"]
    return out


def pilot_arms(runs_dir: Path, lrs: dict, split: str = "validation") -> dict:
    """(arch, task, variant key) -> {seed: accuracy on ``split`` (chance if diverged)}, with the
    runs' mean wall time, at each arm's selected rate."""
    arms: dict = defaultdict(dict)
    times: dict = defaultdict(list)
    for path in sorted(runs_dir.glob("*.json")):
        run = json.loads(path.read_text())
        spec = run["spec"]
        key = _arm_key(spec)
        lr = lrs.get((key[0], key[1], key[2]))
        if lr is None or not math.isclose(spec["budget"]["lr"], lr):
            continue
        value = run.get(f"{split}_accuracy")
        ok = run.get("status") == "ok" and isinstance(value, (int, float)) and math.isfinite(value)
        arms[key][spec["seed"]] = float(value) if ok else float(run["chance_accuracy"])
        times[key].append(float(run["wall_time_s"]))
    return {k: (v, statistics.mean(times[k])) for k, v in arms.items()}


def primary_differences(summary: dict, arms: dict) -> list[dict]:
    """Per primary comparison: finding, predicted sign, the paired validation differences by
    seed, and the mean run time of its two arms."""
    out = []
    for p in summary["primary_comparisons"]["comparisons"]:
        mapping = _arm(arms, p["arch"], p["task"], p["variant"])
        identity = _arm(arms, p["arch"], p["task"], {"family": "identity"})
        seeds = sorted(set(mapping[0]) & set(identity[0]))
        out.append({"finding": p["finding"], "arch": p["arch"], "task": p["task"],
                    "family": p["variant"]["family"],
                    "predicted": 1 if p["predicted"] == "higher" else -1,
                    "differences": np.array([mapping[0][s] - identity[0][s] for s in seeds]),
                    "seconds": {"mapping": mapping[1], "identity": identity[1]},
                    "identity_key": (p["arch"], p["task"])})
    return out


def simulate(design, comparisons: list[dict], datasets: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Decided indicator (datasets, comparisons) and seeds used, bootstrapping each
    comparison's pilot differences, each finding with its Holm family and rule."""
    from entangled.reports.findings import CLAIMS
    from entangled.reports.sequential import run_until_decided

    decided = np.zeros((datasets, len(comparisons)), dtype=bool)
    seeds = np.zeros((datasets, len(comparisons)), dtype=int)
    by_finding: dict = defaultdict(list)
    for i, c in enumerate(comparisons):
        by_finding[c["finding"]].append(i)
    for finding, members in by_finding.items():
        draws = np.stack([rng.choice(comparisons[i]["differences"], size=(datasets, design.cap))
                          for i in members], axis=1)
        outcome = run_until_decided(design, draws, [comparisons[i]["predicted"] for i in members],
                                    equivalence_holm=CLAIMS[finding].rule == "all",
                                    family_size=len(members))
        for j, i in enumerate(members):
            decided[:, i] = outcome.words[:, j] != "inconclusive"
            seeds[:, i] = outcome.seeds[:, j]
    return decided, seeds


def expected_seconds(comparisons: list[dict], seeds: np.ndarray, first: int, jobs: int) -> float:
    """Mean training time of the later stages: per dataset, each comparison's mapping arm on its
    seeds beyond stage 1, and each identity arm on the most seeds any comparison sharing it
    used, over ``jobs`` workers."""
    total = np.zeros(seeds.shape[0])
    shared: dict = defaultdict(list)
    for i, c in enumerate(comparisons):
        total += (seeds[:, i] - first) * c["seconds"]["mapping"]
        shared[c["identity_key"]].append(i)
    for members in shared.values():
        most = seeds[:, members].max(axis=1)
        total += (most - first) * comparisons[members[0]]["seconds"]["identity"]
    return float(total.mean() / jobs)


def main() -> None:
    from entangled.reports.sequential import SequentialDesign

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pilot", type=Path, help="a report directory (runs/ and summary.json)")
    parser.add_argument("--budget-s", type=float, default=430.0,
                        help="most expected wall seconds the later stages may take")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--datasets", type=int, default=4000)
    parser.add_argument("--split", choices=("test", "validation"), default="test",
                        help="the pilot's accuracies the differences are taken from (module "
                             "docstring: the pilot's own split, never the report's)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="factor from the pilot's run times to the current code's")
    args = parser.parse_args()
    summary = json.loads((args.pilot / "summary.json").read_text())
    comparisons = primary_differences(summary, pilot_arms(args.pilot / "runs",
                                                          selected_lrs(summary), args.split))
    for c in comparisons:
        c["seconds"] = {k: v * args.time_scale for k, v in c["seconds"].items()}
    print(f"pilot ({args.split} accuracy, mapping - identity, at each arm's selected rate; run "
          f"times x {args.time_scale:g}):")
    print()
    print("| finding | arch | task | mapping | seeds | mean (pp) | SD (pp) | run s (map / id) |")
    print("|---|---|---|---|---:|---:|---:|---|")
    for c in comparisons:
        d = c["differences"]
        print(f"| {c['finding']} | {c['arch']} | {c['task']} | {c['family']} | {len(d)} | "
              f"{100 * d.mean():+.2f} | {100 * d.std(ddof=1):.2f} | "
              f"{c['seconds']['mapping']:.1f} / {c['seconds']['identity']:.1f} |")
    print()
    print(f"designs ({args.datasets} bootstrap datasets each; later-stage time over "
          f"{args.jobs} workers; budget {args.budget_s:g} s):")
    print()
    names = [f"{c['finding']} {c['arch']}" for c in comparisons]
    print("| spending | stages | expected decided | P(>= 4 decided) | "
          + " | ".join(f"P(decided) {n}" for n in names) + " | later stages s |")
    print("|---|---|---:|---:|" + "---:|" * len(names) + "---:|")
    best = None
    for spend, stages in CANDIDATES:
        design = SequentialDesign(stages=stages, spending=spend)
        decided, seeds = simulate(design, comparisons, args.datasets, np.random.default_rng(2026))
        expected = float(decided.sum(axis=1).mean())
        at_least_4 = float((decided.sum(axis=1) >= 4).mean())
        seconds = expected_seconds(comparisons, seeds, stages[0], args.jobs)
        print(f"| {spend} | {'→'.join(map(str, stages))} | {expected:.2f} | {at_least_4:.2f} | "
              + " | ".join(f"{p:.2f}" for p in decided.mean(axis=0)) + f" | {seconds:.0f} |")
        if seconds <= args.budget_s:
            key = (round(expected, 2), -seconds)
            if best is None or key > best[0]:
                best = (key, spend, stages)
    print()
    if best is None:
        print("no candidate fits the budget")
    else:
        print(f"chosen by the rule: spending {best[1]}, stages {list(best[2])}")


if __name__ == "__main__":
    main()
