"""What the staged design spends and decides: a preset with and without ``--until-decided``,
on the same machine, in one run.

Usage: python benchmarks/bench_until_decided.py [--preset quick] [--jobs 2] [--out DIR]

Runs, cold (fresh output directories under ``--out``):

1. ``entangled report --fixed-design``: the suite as written (every group, every learning rate of
   its grid, the suite's seeds), judged with the fixed design's tests;
2. ``entangled report --until-decided``: the same stage 1, then seeds only for the primary
   comparisons still open (``[sequential]``), judged with the group-sequential tests.

and prints, for each: runs trained, wall time, primary comparisons decided (a word other than
``inconclusive``: reproduced / not reproduced / opposite) and the verdicts of F1, F2, F3a, F3b and
F3; plus the runs of the fixed design that reaches the same cap (every primary arm at every
learning rate of its grid on the cap's seeds, the secondary groups as written), computed from
the suite, and the adaptive design's runs as a fraction of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def report(preset: str, out: Path, jobs: int, *flags: str) -> tuple[dict, float]:
    """Run one cold report; its summary.json and wall time."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "entangled", "-q", "report", "--preset", preset,
                    "--out", str(out), "--jobs", str(jobs), "--no-progress",
                    "--allow-mismatch", *flags], check=True)
    seconds = time.perf_counter() - start
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), seconds


def decided(summary: dict) -> int:
    """Primary comparisons with a decided word."""
    words = ("reproduced", "not reproduced", "opposite")
    return sum(e["status"] in words for f in summary["findings"] for e in f["evidence"])


def verdicts(summary: dict) -> str:
    return ", ".join(f"{f['key']} {f['verdict']}" for f in summary["findings"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/out/bench-until-decided"))
    args = parser.parse_args()
    fixed, fixed_s = report(args.preset, args.out / "fixed", args.jobs, "--fixed-design")
    staged, staged_s = report(args.preset, args.out / "staged", args.jobs, "--until-decided")
    spent = staged["sequential"]
    primaries = sum(len(f["evidence"]) for f in staged["findings"])
    rows = [("fixed design (the suite as written)", fixed["runs"]["total"], fixed_s,
             decided(fixed), verdicts(fixed)),
            (f"--until-decided (stages {spent['design']['stages']})", spent["runs"], staged_s,
             decided(staged), verdicts(staged))]
    print(f"| {args.preset} | runs | wall time (s) | primary comparisons decided (of {primaries}) | verdicts |")
    print("|---|---:|---:|---:|---|")
    for name, runs, seconds, n, words in rows:
        print(f"| {name} | {runs} | {seconds:.0f} | {n} | {words} |")
    print(f"| fixed design at the cap ({spent['design']['stages'][-1]} seeds, every rate) | "
          f"{spent['fixed_design_runs']} | not run | — | — |")
    print(f"\n--until-decided trained {spent['runs']} runs: "
          f"{100 * spent['fraction_of_fixed_design']:.0f}% of the fixed design at the cap.")


if __name__ == "__main__":
    main()
