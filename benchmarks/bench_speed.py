"""Training speed before and after: this checkout against a baseline commit, side by side.

The baseline is a git revision (``--baseline``, default the commit at issue 29's start) whose
sources are extracted with ``git archive`` into a temporary directory and laid out as the
installed package (``theory/`` and ``reports/`` as ``entangled.theory`` and
``entangled.reports``); each measurement runs in a fresh Python process with that directory
first on ``PYTHONPATH`` ("before") or with this checkout ("after"), alternating, so that drift
in the machine's load hits both.

``--runs`` (default): per architecture, one of the suite's own runs (the orthogonal variant
at the fixed learning rate, seed 0, with its metric snapshots) trained by ``fit`` on one
thread after an untimed warm-up; the CPU time of the run and per step (process CPU time:
other processes on a shared machine barely change it), the median over ``--repeats``; and
whether the two results are equal to the last bit (``reproducible_dict``).

``--report``: a cold ``entangled report --preset quick`` (fresh output directory, fresh user
cache directory, so the conjecture ledger and the generated data are computed too) in each
checkout, wall time, and again with the user cache kept from the first "after" report (a
new output directory on a machine that made a report before).

Usage::

    python benchmarks/bench_speed.py                       # per-run times, quick's runs
    python benchmarks/bench_speed.py --report --repeats 1  # also the cold quick report
    python benchmarks/bench_speed.py --baseline HEAD~5 --preset smoke
    python benchmarks/bench_speed.py --baseline 29a8cdf \\
        --tasks cnn:mnist1d,vit:mnist1d_patches,rnn:delayed_recall,rnn:counting
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: main at the start of issue 29 (before the flat optimizer step, the deferred loss reads and
#: the user-level caches)
DEFAULT_BASELINE = "56305d0"
ARCH_TASKS = (("cnn", "digits"), ("vit", "digits"), ("rnn", "delayed_recall"),
              ("transformer", "counting"))

WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from entangled.train import RunConfig, fit
configs = [RunConfig.from_dict(c) for c in json.loads(sys.argv[1])]
repeats = int(sys.argv[2])
fit(configs[0])  # warm-up: imports, allocator, first-use initialisations
out = []
for config in configs:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        result = fit(config)
        times.append(time.process_time() - start)
    out.append({"cpu_s": times, "steps": result.steps_done, "result": result.reproducible_dict()})
print("RESULT" + json.dumps(out))
"""


def baseline_tree(revision: str, root: Path) -> Path:
    """The sources of ``revision`` laid out as the installed package, under ``root``."""
    archive = root / "baseline.tar"
    with open(archive, "wb") as handle:
        subprocess.run(["git", "-C", str(REPO), "archive", revision], stdout=handle, check=True)
    source = root / "src"
    with tarfile.open(archive) as tar:
        tar.extractall(source, filter="data")
    tree = root / "tree"
    tree.mkdir()
    shutil.copytree(source / "entangled", tree / "entangled")
    for sub in ("theory", "reports"):  # the package-dir mapping of pyproject.toml
        if (source / sub).is_dir() and not (tree / "entangled" / sub).exists():
            shutil.copytree(source / sub, tree / "entangled" / sub)
    return tree


def environment(path: Path | None, cache: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if path is not None:
        env["PYTHONPATH"] = str(path) + os.pathsep + env.get("PYTHONPATH", "")
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
        env["ENTANGLED_CACHE_DIR"] = str(cache / "entangled")
    return env


def check_import(env: dict[str, str], expected: Path) -> None:
    """Fail loudly when the process would not import the intended checkout."""
    out = subprocess.run([sys.executable, "-c", "import entangled; print(entangled.__file__)"],
                         env=env, capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir()).stdout.strip()
    if not Path(out).resolve().is_relative_to(expected.resolve()):
        raise SystemExit(f"expected to import entangled from {expected}, got {out}")


def suite_configs(preset: str, arch_tasks=ARCH_TASKS) -> list[dict]:
    """Per (architecture, task) of ``arch_tasks``, the suite's first run of the orthogonal
    variant at the fixed rate, seed 0 (a pair the suite does not train is left out)."""
    from entangled.reports.presets import get_preset

    suite = get_preset(preset)
    chosen = {}
    for config in suite.configs(fixed_lr_only=True):
        key = (config.arch, config.task)
        if key in arch_tasks and key not in chosen and config.family == "orthogonal" \
                and config.seed == 0:
            chosen[key] = config.to_dict()
    return [chosen[key] for key in arch_tasks if key in chosen]


def parse_tasks(text: str) -> tuple[tuple[str, str], ...]:
    """``"cnn:mnist1d,vit:mnist1d_patches"`` -> ``(("cnn", "mnist1d"), ("vit", ...))``."""
    pairs = []
    for item in text.split(","):
        arch, sep, task = item.strip().partition(":")
        if not (sep and arch and task):
            raise SystemExit(f"--tasks: {item!r} is not ARCH:TASK")
        pairs.append((arch, task))
    return tuple(pairs)


def time_runs(env: dict[str, str], configs: list[dict], repeats: int) -> list[dict]:
    proc = subprocess.run([sys.executable, "-c", WORKER, json.dumps(configs), str(repeats)],
                          env=env, capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def time_report(env: dict[str, str], preset: str, out: Path) -> float:
    command = [sys.executable, "-m", "entangled.cli", "report", "--preset", preset,
               "--out", str(out), "--no-progress"]
    helptext = subprocess.run(command[:4] + ["--help"], env=env, capture_output=True, text=True,
                              check=False, cwd=tempfile.gettempdir()).stdout
    if "--yes" in helptext:  # a checkout with a cost gate asks before a long report
        command.append("--yes")
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def load_line() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--report", action="store_true", help="also time cold reports")
    parser.add_argument("--no-runs", action="store_true", help="skip the per-run times")
    parser.add_argument("--tasks", type=parse_tasks, default=ARCH_TASKS,
                        help="ARCH:TASK pairs whose runs are timed, comma-separated (default "
                             + ",".join(f"{a}:{t}" for a, t in ARCH_TASKS) + "; the baseline "
                             "must know the tasks and options the preset gives them)")
    args = parser.parse_args(argv)

    import torch

    root = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    try:
        before_tree = baseline_tree(args.baseline, root)
        sides = {"before": environment(before_tree), "after": environment(REPO)}
        check_import(sides["before"], before_tree)
        check_import(sides["after"], REPO)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"torch {torch.__version__}, python {platform.python_version()}")
        print(f"before: {args.baseline}; after: this checkout "
              f"({subprocess.run(['git', '-C', str(REPO), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}"
              f"{' + uncommitted changes' if subprocess.run(['git', '-C', str(REPO), 'status', '--porcelain', '--untracked-files=no'], capture_output=True, text=True).stdout.strip() else ''})")
        print(f"start: {load_line()}", flush=True)
        if not args.no_runs:
            runs_table(sides, suite_configs(args.preset, args.tasks), args.repeats)
        if args.report:
            report_table(sides, args.preset, args.repeats, root)
        print(f"\nend: {load_line()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def runs_table(sides, configs, repeats: int) -> None:
    measured: dict[str, list[list[dict]]] = {"before": [], "after": []}
    for _ in range(repeats):  # alternate, one repeat per process each
        for side in ("before", "after"):
            measured[side].append(time_runs(sides[side], configs, 1))
    print("\n| arch | task | steps | before: run CPU s | after: run CPU s | before: ms/step "
          "| after: ms/step | speed-up | same numbers |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    totals = {"before": 0.0, "after": 0.0}
    for index, config in enumerate(configs):
        row = {}
        for side in ("before", "after"):
            times = [rep[index]["cpu_s"][0] for rep in measured[side]]
            row[side] = statistics.median(times)
            totals[side] += row[side]
        steps = measured["after"][0][index]["steps"]
        same = all(rep[index]["result"] == measured["before"][0][index]["result"]
                   for side in ("before", "after") for rep in measured[side])
        print(f"| {config['arch']} | {config['task']} | {steps} | {row['before']:.2f} "
              f"| {row['after']:.2f} | {1e3 * row['before'] / steps:.2f} "
              f"| {1e3 * row['after'] / steps:.2f} | {row['before'] / row['after']:.2f}x "
              f"| {'yes' if same else 'NO'} |")
    print(f"| all | | | {totals['before']:.2f} | {totals['after']:.2f} | | "
          f"| {totals['before'] / totals['after']:.2f}x | |", flush=True)


def report_table(sides, preset: str, repeats: int, root: Path) -> None:
    rows = {"before (cold)": [], "after (cold)": [], "after (new directory, user cache kept)": []}
    for repeat in range(repeats):
        for side in ("before", "after"):
            cache = root / f"cache-{side}-{repeat}"
            env = {**sides[side], **{k: v for k, v in environment(None, cache).items()
                                     if k in ("XDG_CACHE_HOME", "ENTANGLED_CACHE_DIR")}}
            seconds = time_report(env, preset, root / f"report-{side}-{repeat}")
            rows[f"{side} (cold)"].append(seconds)
            print(f"  {side} cold: {seconds:.1f} s ({load_line()})", flush=True)
            if side == "after":
                seconds = time_report(env, preset, root / f"report-{side}-{repeat}-again")
                rows["after (new directory, user cache kept)"].append(seconds)
                print(f"  after, new directory, user cache kept: {seconds:.1f} s", flush=True)
    base = statistics.median(rows["before (cold)"])
    print(f"\n| {preset} report | wall time (s, median of {repeats}) | share of before |")
    print("|---|---:|---:|")
    for label, times in rows.items():
        print(f"| {label} | {statistics.median(times):.1f} | {statistics.median(times) / base:.0%} |")


if __name__ == "__main__":
    main()
