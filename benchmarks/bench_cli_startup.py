"""Start-up time of the ``entangled`` command for ``--help`` and ``--version``.

Every command line is run as a fresh process, round-robin (so machine drift affects all of
them alike), ``--repeats`` times; reported: the median wall time in ms and the ratio to the
baseline ``python -c pass`` measured in the same run. ``import torch`` is shown for scale:
before issue 14 item 4, ``entangled --help`` paid for it.

Usage::

    python benchmarks/bench_cli_startup.py              # 15 rounds (well under a minute)
    python benchmarks/bench_cli_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

BASELINE = "python -c pass"


def commands() -> dict[str, list[str]]:
    """Label -> argv of each measured command line (the console script when installed)."""
    script = shutil.which("entangled")
    lines = {
        BASELINE: [sys.executable, "-c", "pass"],
        "python -m entangled --help": [sys.executable, "-m", "entangled", "--help"],
        "python -m entangled --version": [sys.executable, "-m", "entangled", "--version"],
        "python -m entangled probe --help": [sys.executable, "-m", "entangled", "probe", "--help"],
        "python -m entangled train --help": [sys.executable, "-m", "entangled", "train", "--help"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    }
    if script:
        lines["entangled --help"] = [script, "--help"]
    return lines


def time_once(argv: list[str]) -> float:
    """Wall time of one run of ``argv`` in ms (its output discarded; it must exit 0)."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000.0


def measure(lines: dict[str, list[str]], repeats: int) -> dict[str, float]:
    """Median wall time (ms) of each command line over ``repeats`` interleaved rounds."""
    for argv in lines.values():           # warm the file cache once, untimed
        time_once(argv)
    times: dict[str, list[float]] = {label: [] for label in lines}
    for _ in range(repeats):
        for label, argv in lines.items():
            times[label].append(time_once(argv))
    return {label: statistics.median(values) for label, values in times.items()}


def table(medians: dict[str, float]) -> str:
    base = medians[BASELINE]
    rows = ["| command | median wall time (ms) | ratio to `python -c pass` |", "|---|---:|---:|"]
    for label, value in medians.items():
        rows.append(f"| `{label}` | {value:.0f} | {value / base:.2f}x |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="rounds (default 15)")
    args = parser.parse_args(argv)
    print(table(measure(commands(), args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
