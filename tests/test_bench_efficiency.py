"""benchmarks/bench_efficiency.py writes the README's efficiency line and the benchmarks
page's table in place (``--update-docs``): both files carry exactly one marked block, and
replacing it changes nothing else."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_efficiency",
                                                  ROOT / "benchmarks" / "bench_efficiency.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["README.md", "docs/benchmarks.md"])
def test_the_efficiency_block_is_replaced_and_nothing_else(page):
    bench = load_bench()
    text = (ROOT / page).read_text(encoding="utf-8")
    new = bench.replace_block(text, "NEW LINE\n")
    before, after = text.split(bench.BEGIN)[0], text.split(bench.END)[1]
    assert new == f"{before}{bench.BEGIN}\nNEW LINE\n{bench.END}{after}"
    assert bench.replace_block(new, "NEW LINE") == new  # idempotent


def test_a_page_without_one_block_is_refused():
    bench = load_bench()
    with pytest.raises(ValueError, match="efficiency: begin"):
        bench.replace_block("no markers here", "x")
    with pytest.raises(ValueError, match="efficiency: begin"):
        bench.replace_block(f"{bench.BEGIN}\n{bench.END}\n{bench.BEGIN}\n{bench.END}", "x")
    with pytest.raises(ValueError, match="efficiency: begin"):
        bench.replace_block(f"{bench.END}\n{bench.BEGIN}", "x")
