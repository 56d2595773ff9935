"""Cold ``quick`` before and after: a baseline revision's code and preset against the current
code, in one run on the same machine.

Three cold reports, one after another, each with ``--jobs N``, a fresh output directory and a
fresh user-level cache (so the conjecture ledger and the generated data are computed too):

1. **before**: the baseline revision's code running *its own* ``quick`` preset;
2. **like for like**: the current code running the baseline's ``quick`` preset (the same runs:
   the code's speed-up alone);
3. **after**: the current code running *its own* ``quick`` preset (what a user's
   ``make report`` costs now, with whatever the preset was redesigned to do).

Printed: wall time, runs trained, sweep / ledger / page seconds, the time against *before*, and
each report's verdict words (the like-for-like pair must agree word for word, or the difference
is printed). The baseline's code is exported with ``git archive`` and installed without its
dependencies into a virtual environment that borrows this environment's packages (torch,
numpy, ...), under ``--work`` and reused by later invocations.

Usage::

    python benchmarks/bench_quick_before_after.py [--baseline 18311ecb] [--jobs 2]
        [--work ~/.cache/entangled-bench] [--only before,like,after]

The default baseline, 18311ecb, is the code and ``quick`` preset at issue 29's start (issue
22's redesign of ``quick`` came after it). About 30 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "18311ecb"


def baseline_python(revision: str, work: Path) -> tuple[Path, Path]:
    """(python of a venv with the baseline's code installed, its source tree), built once."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", revision], check=True,
                            capture_output=True, text=True).stdout.strip()
    root = work / f"baseline-{commit[:12]}"
    python, source = root / "venv" / "bin" / "python", root / "src"
    if (root / "ready").exists():
        return python, source
    source.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    # borrow this environment's packages (torch, numpy, ...) without its .pth hooks, so the
    # current checkout's editable install cannot shadow the baseline's code
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    site.joinpath("borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
                   check=True)
    (root / "ready").write_text(commit + "\n")
    return python, source


def cold_report(python: Path, suite_args: list[str], jobs: int, label: str) -> dict:
    """One cold ``entangled report`` in a fresh directory and cache; its wall time, timings,
    runs and verdict words."""
    root = Path(tempfile.mkdtemp(prefix=f"bench-before-after-{label}-"))
    command = [str(python), "-m", "entangled", "report", *suite_args, "--out", str(root / "out"),
               "--jobs", str(jobs), "--no-progress"]
    helptext = subprocess.run([str(python), "-m", "entangled", "report", "--help"], cwd=root,
                              capture_output=True, text=True, check=False).stdout
    if "--yes" in helptext:
        command.append("--yes")
    env = {**os.environ, "ENTANGLED_CACHE_DIR": str(root / "cache")}
    env.pop("PYTHONPATH", None)
    print(f"{label}: {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=root, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    summary = json.loads((root / "out" / "summary.json").read_text(encoding="utf-8"))
    timings = summary.get("timings", {})
    words = {f.get("key"): f.get("verdict") for f in summary.get("findings", [])}
    runs = len(list((root / "out" / "runs").glob("*.json")))
    return {"label": label, "wall": wall, "runs": runs, "timings": timings, "words": words,
            "out": str(root / "out")}


NAMES = {"before": ("{baseline}", "{baseline}"), "like": ("current", "{baseline}"),
         "after": ("current", "current")}


def rest(result: dict) -> float:
    """Wall time outside the sweep and the ledger: start-up, analysis and drawing the page
    (older code recorded only the analysis, so this is measured the same way for both)."""
    t = result["timings"]
    return result["wall"] - t.get("sweep", float("nan")) - t.get("ledger", float("nan"))


def table(results: list[dict], baseline: str) -> list[str]:
    """The Markdown table of the reports, each against *before* when it ran."""
    reference = next((r for r in results if r["label"] == "before"), None)
    lines = ["| report | code | preset | runs | wall (s) | sweep (s) | ledger (s) "
             "| the rest (s) | vs before | verdicts |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        t = r["timings"]
        ratio = f"{r['wall'] / reference['wall']:.0%}" if reference else "—"
        words = ", ".join(f"{k} {v}" for k, v in r["words"].items())
        code, preset = (x.format(baseline=baseline) for x in NAMES[r["label"]])
        lines.append(f"| {r['label']} | {code} | {preset} | {r['runs']} | {r['wall']:.0f} | "
                     f"{t.get('sweep', float('nan')):.0f} | {t.get('ledger', float('nan')):.0f} | "
                     f"{rest(r):.0f} | {ratio} | {words} |")
    return lines


def word_differences(results: list[dict]) -> dict | None:
    """Findings whose verdict differs between *before* and *like for like* (same preset, two
    codes): finding -> (before, like); ``None`` unless both ran."""
    before = next((r for r in results if r["label"] == "before"), None)
    like = next((r for r in results if r["label"] == "like"), None)
    if before is None or like is None:
        return None
    keys = list(before["words"]) + [k for k in like["words"] if k not in before["words"]]
    return {k: (before["words"].get(k), like["words"].get(k)) for k in keys
            if before["words"].get(k) != like["words"].get(k)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "entangled-bench")
    parser.add_argument("--only", default="before,like,after",
                        help="which of the three reports to run (comma-separated)")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    if not wanted or not wanted <= set(NAMES):
        parser.error(f"--only {args.only!r}: allowed are before, like, after (comma-separated)")
    python, source = baseline_python(args.baseline, args.work)
    baseline_suite = ["--suite", str(source / "reports" / "suites" / "quick.toml")]
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs; load before {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}; baseline {args.baseline}; --jobs {args.jobs}", flush=True)
    plan = [("before", python, baseline_suite), ("like", Path(sys.executable), baseline_suite),
            ("after", Path(sys.executable), ["--preset", "quick"])]
    results = [cold_report(py, suite, args.jobs, label) for label, py, suite in plan
               if label in wanted]
    print()
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("\n".join(table(results, args.baseline)))
    differ = word_differences(results)
    if differ is not None:
        print()
        print("like for like: same verdict words" if not differ else
              "like for like: verdict words differ: " + "; ".join(
                  f"{k}: {a} -> {b}" for k, (a, b) in differ.items()))
    print("report directories: " + ", ".join(r["out"] for r in results))


if __name__ == "__main__":
    main()
