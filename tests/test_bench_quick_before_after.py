"""benchmarks/bench_quick_before_after.py: the table sets every report against *before*, and
the like-for-like pair (same preset, two codes) must agree word for word or say where not."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location(
        "bench_quick_before_after", ROOT / "benchmarks" / "bench_quick_before_after.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _report(label, wall, **words):
    return {"label": label, "wall": wall, "runs": 10, "out": "x",
            "timings": {"sweep": wall - 20, "ledger": 15.0, "page": 5.0}, "words": words}


def test_each_report_is_set_against_before_and_the_codes_are_named():
    script = load_script()
    lines = script.table([_report("before", 800.0, F1="inconclusive"),
                          _report("like", 400.0, F1="inconclusive"),
                          _report("after", 600.0, F1="opposite")], "18311ecb")
    assert lines[2].startswith("| before | 18311ecb | 18311ecb | 10 | 800 | 780 | 15 | 5 | 100% |")
    assert "| like | current | 18311ecb |" in lines[3] and "| 50% |" in lines[3]
    assert "| after | current | current |" in lines[4] and "| 75% | F1 opposite |" in lines[4]
    # without a before report there is nothing to set against
    assert "| — |" in script.table([_report("after", 600.0)], "18311ecb")[2]


def test_like_for_like_verdict_differences_are_named():
    script = load_script()
    before = _report("before", 800.0, F1="inconclusive", F2="not reproduced")
    assert script.word_differences([before, _report("like", 1.0, F1="inconclusive",
                                                    F2="not reproduced")]) == {}
    assert script.word_differences([before, _report("like", 1.0, F1="opposite",
                                                    F2="not reproduced", F3a="reproduced")]) == {
        "F1": ("inconclusive", "opposite"), "F3a": (None, "reproduced")}
    assert script.word_differences([before, _report("after", 1.0)]) is None
