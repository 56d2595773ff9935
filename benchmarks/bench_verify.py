"""Benchmark of the conjecture engine on the built-in catalog.

Measures

* conjecture checks per second: every (conjecture, family) pair of the catalog checked by
  :func:`entangled.theory.check` with the default examples, in-process (median of ``--repeats`` runs);
* wall time of :func:`entangled.theory.verify` on the catalog, isolated (the default: a child process
  loads and checks the conjectures, with a time limit per check) and in-process
  (``isolate=False``, the behaviour before isolation), alternated, median of ``--repeats``
  runs each, and their ratio;
* wall time of the ``entangled verify`` command (a fresh process: imports included) with the
  default examples (median of ``--command-repeats`` runs).

Usage::

    python benchmarks/bench_verify.py [--repeats 2] [--command-repeats 1] [--examples N]

Prints a table; each pass over the catalog takes about 50 s on a busy 2-core machine, so the
defaults take about 2.5 minutes.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def time_checks(examples: int | None) -> tuple[int, float, dict[str, float]]:
    """``(checks, seconds, seconds per theme)`` of one in-process pass over the catalog."""
    from entangled.theory.engine import check, plan
    from entangled.theory.loader import load_builtin

    pairs = plan(load_builtin())
    per_theme: dict[str, float] = {}
    start = time.perf_counter()
    for conj, family in pairs:
        t0 = time.perf_counter()
        check(conj, family, examples=examples)
        per_theme[conj.theme] = per_theme.get(conj.theme, 0.0) + time.perf_counter() - t0
    return len(pairs), time.perf_counter() - start, per_theme


def time_verify(examples: int | None, isolate: bool) -> float:
    """Wall time of one :func:`entangled.theory.verify` of the catalog (``isolate`` as given)."""
    from entangled.theory.engine import verify

    start = time.perf_counter()
    ledger = verify(examples=examples, isolate=isolate)
    seconds = time.perf_counter() - start
    assert ledger.entries and not ledger.load_errors
    return seconds


def time_command(examples: int | None) -> tuple[float, int]:
    """Wall time and exit status of ``entangled verify`` in a fresh process."""
    cmd = [sys.executable, "-m", "entangled.cli", "verify", "-q"]
    if examples is not None:
        cmd += ["--examples", str(examples)]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - start, result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2,
                        help="in-process passes over the catalog (median)")
    parser.add_argument("--command-repeats", type=int, default=1,
                        help="runs of the `entangled verify` command (median)")
    parser.add_argument("--examples", type=int, default=None,
                        help="examples per check (default: the catalog's defaults)")
    args = parser.parse_args(argv)

    runs = [time_checks(args.examples) for _ in range(args.repeats)]
    checks = runs[0][0]
    seconds = statistics.median(r[1] for r in runs)
    themes = {t: statistics.median(r[2][t] for r in runs) for t in runs[0][2]}
    isolated, in_process = [], []
    for _ in range(args.repeats):
        in_process.append(time_verify(args.examples, isolate=False))
        isolated.append(time_verify(args.examples, isolate=True))
    in_process_s, isolated_s = statistics.median(in_process), statistics.median(isolated)
    commands = [time_command(args.examples) for _ in range(args.command_repeats)]
    command_s = statistics.median(c[0] for c in commands)

    rows = [("catalog checks (conjecture x family)", f"{checks}"),
            ("in-process time, median", f"{seconds:.2f} s"),
            ("checks per second", f"{checks / seconds:.1f}")]
    rows += [(f"  theme {t}", f"{s:.2f} s") for t, s in sorted(themes.items())]
    rows += [("verify(isolate=False), in-process, median", f"{in_process_s:.2f} s"),
             ("verify() isolated (default), median", f"{isolated_s:.2f} s"),
             ("  ratio isolated / in-process", f"{isolated_s / in_process_s:.2f}x"),
             ("`entangled verify` wall time, median", f"{command_s:.2f} s"),
             ("`entangled verify` exit status", ",".join(str(c[1]) for c in commands))]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  value")
    print(f"{'-' * width}  ---------")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    print(f"(repeats={args.repeats}, command repeats={args.command_repeats}, "
          f"examples={args.examples or 'default'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
