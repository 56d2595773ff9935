"""Regenerate tests/slow_tests.txt: the tests that take longest, from a JUnit XML of a full run.

    HYPOTHESIS_PROFILE=ci .venv/bin/python -m pytest -q --junitxml=/tmp/suite.xml
    python benchmarks/slow_tests.py /tmp/suite.xml --seconds 4 --load "$(cut -d' ' -f1 /proc/loadavg)"

Tests of at least ``--seconds`` (as measured in that run) are listed, except those that carry
a ``slow``, ``browser`` or ``dask`` decorator already; tests/conftest.py marks the listed ones
``slow``, so ``make test-fast`` leaves them out. Timings under load scale up roughly with the
load average: give the load of the measuring run so that the file says what it means.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "slow_tests.txt"


def node_id(classname: str, name: str) -> str:
    """The pytest node id of a JUnit test case (``tests.test_x`` -> ``tests/test_x.py``)."""
    path = classname.replace(".", "/")
    if path.startswith("tests/"):
        path += ".py"
    return f"{path}::{name}"


def durations(xml_path: Path) -> list[tuple[float, str]]:
    root = ET.parse(xml_path).getroot()
    return sorted(((float(case.get("time", 0)), node_id(case.get("classname", ""), case.get("name", "")))
                   for case in root.iter("testcase")), reverse=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("junit_xml", type=Path)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--load", default="?", help="the load average while the suite ran")
    parser.add_argument("--exclude", nargs="*", default=[
        "tests/test_readme.py::test_page_block_runs_as_written", "tests/test_report_browser.py::",
        "tests/test_docs.py::test_the_", "tests/test_packaging.py::test_the_wheel",
        "tests/test_executors.py::test_dask_", "tests/test_executors.py::test_a_sweep_on_dask",
        "tests/test_executors.py::test_seed_batches_on_dask", "tests/test_executors.py::test_report_command_trains_on_dask",
        "tests/test_lint.py::test_mypy"], help="node-id prefixes marked by decorators already")
    args = parser.parse_args(argv)
    rows = [(t, n) for t, n in durations(args.junit_xml)
            if t >= args.seconds and not any(n.startswith(p) for p in args.exclude)]
    total = sum(t for t, _ in durations(args.junit_xml))
    header = [f"# Tests marked slow by tests/conftest.py (make test-fast leaves them out): the {len(rows)} that",
              f"# took >= {args.seconds:g} s in a full run of {total:.0f} s test time on "
              f"{datetime.date.today()} (load average {args.load}, 2 cores).",
              "# Regenerate: python benchmarks/slow_tests.py SUITE.xml (see its docstring). One node id a line."]
    OUT.write_text("\n".join(header + [n for _, n in rows]) + "\n")
    print(f"{OUT.relative_to(ROOT)}: {len(rows)} tests, {sum(t for t, _ in rows):.0f} s of {total:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
