"""Wall time of ``entangled report`` presets, cold (nothing cached) and warm (all runs cached).

Cold: a fresh output directory, so every training run and the conjecture ledger are computed.
Warm: the same directory again, so only the analysis and the page are redone. Targets
(issue 5, 2 CPU cores): smoke <= 90 s cold, quick <= 10 min cold, warm (page only) <= 20 s.

With ``--seed-batching off on``, each preset is timed cold once per mode (``entangled report
--seed-batching``; same machine, same run) and the ratio off/on is printed.

Usage: python benchmarks/bench_report.py [--presets smoke quick] [--cold-runs 1] [--warm-runs 3]
       [--seed-batching off on]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {("smoke", "cold"): 90, ("quick", "cold"): 600, ("smoke", "warm"): 20, ("quick", "warm"): 20}


def time_report(preset: str, out: Path, seed_batching: str = "auto") -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "entangled.cli", "report", "--preset", preset,
                    "--out", str(out), "--no-progress", "--seed-batching", seed_batching],
                   check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["smoke", "quick"])
    parser.add_argument("--cold-runs", type=int, default=1)
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--seed-batching", nargs="+", choices=("auto", "on", "off"),
                        help="time each preset cold once per mode instead, and compare")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}\n")
    if args.seed_batching:
        compare_seed_batching(args.presets, args.seed_batching, args.cold_runs)
        return
    rows = []
    for preset in args.presets:
        cold, warm = [], []
        for _ in range(args.cold_runs):
            root = Path(tempfile.mkdtemp(prefix=f"bench-report-{preset}-"))
            cold.append(time_report(preset, root / "out"))
            for _ in range(args.warm_runs):
                warm.append(time_report(preset, root / "out"))
            shutil.rmtree(root, ignore_errors=True)
        for kind, times in (("cold", cold), ("warm", warm)):
            rows.append((preset, kind, statistics.median(times), len(times), TARGETS[(preset, kind)]))
            print(f"  {preset} {kind}: {statistics.median(times):.1f} s", flush=True)
    print("\n| preset | cache | wall time (s, median) | runs | target (s) | met |")
    print("|---|---|---:|---:|---:|---|")
    for preset, kind, seconds, count, target in rows:
        print(f"| {preset} | {kind} | {seconds:.1f} | {count} | {target} | {'yes' if seconds <= target else 'NO'} |")


def compare_seed_batching(presets: list[str], modes: list[str], runs: int) -> None:
    """Cold wall time of each preset under each ``--seed-batching`` mode, and the ratio of
    the first mode's time to each other's."""
    times: dict[tuple[str, str], list[float]] = {}
    for preset in presets:
        for _ in range(runs):
            for mode in modes:  # interleaved, so that drift in machine load hits every mode
                root = Path(tempfile.mkdtemp(prefix=f"bench-report-{preset}-{mode}-"))
                times.setdefault((preset, mode), []).append(time_report(preset, root / "out", mode))
                shutil.rmtree(root, ignore_errors=True)
                print(f"  {preset} cold, --seed-batching {mode}: {times[(preset, mode)][-1]:.1f} s",
                      flush=True)
    print(f"\n| preset | --seed-batching | cold wall time (s, median) | runs | {modes[0]} / this |")
    print("|---|---|---:|---:|---:|")
    for preset in presets:
        base = statistics.median(times[(preset, modes[0])])
        for mode in modes:
            seconds = statistics.median(times[(preset, mode)])
            print(f"| {preset} | {mode} | {seconds:.1f} | {len(times[(preset, mode)])} "
                  f"| {base / seconds:.2f}x |")


if __name__ == "__main__":
    main()
