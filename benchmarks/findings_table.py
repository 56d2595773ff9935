"""The README's F1-F3 table, printed from a report's ``summary.json``.

Usage: python benchmarks/findings_table.py reports/out/quick/summary.json

One row per finding: its verdict on the tuned runs (learning rate selected on validation) and
at the fixed learning rate, and the paired evidence of each comparison of the tuned verdict
(mean difference in test accuracy to the identity, paired t 95% interval, Holm-adjusted p, the
comparison's word). Every number is read from the file; nothing is recomputed.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def _pp(value: float | None, signed: bool = True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:+.1f}" if signed else f"{100 * value:.1f}"


def _p(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _label(entry: dict) -> str:
    """The mapping as the page writes it (parameters that differ from the family's defaults)."""
    from entangled.runs import SkipVariant
    from entangled.reports.analysis import variant_label

    v = entry["variant"]
    return variant_label(SkipVariant(v["family"], v.get("params") or {}, v.get("spatial", False)))


def evidence_line(entry: dict) -> str:
    """``arch/task mapping: Δ [low, high] pp (Holm p; word)`` of one comparison."""
    where = f"{entry['arch']}/{entry['task']} {_label(entry)}"
    paired = entry.get("paired")
    if not paired:
        return f"{where}: not measured"
    return (f"{where}: {_pp(paired['mean'])} [{_pp(paired['low'])}, {_pp(paired['high'])}] "
            f"(Holm p {_p(entry.get('p_adjusted'))}; {entry['status']})")


def table(summary: dict) -> str:
    fixed = {f["key"]: f for f in summary.get("findings_fixed_lr") or []}
    tuned = summary.get("protocol") == "tuned"
    head = ("| finding | verdict (tuned lr) | verdict (fixed lr) | evidence (tuned): Δ test accuracy "
            "vs identity, pp [paired 95% CI] |" if tuned else
            "| finding | verdict | evidence: Δ test accuracy vs identity, pp [paired 95% CI] |")
    lines = [head, "|---|---|---|---|" if tuned else "|---|---|---|"]
    for finding in summary["findings"]:
        evidence = "<br>".join(evidence_line(e) for e in finding["evidence"])
        if finding.get("extensions"):
            evidence += "<br>extension (not in the verdict, " + str(finding["extension_verdict"]) \
                + "): " + "<br>".join(evidence_line(e) for e in finding["extensions"])
        cells = [f"**{finding['key']}**", f"**{finding['verdict']}**"]
        if tuned:
            cells.append(fixed[finding["key"]]["verdict"] if finding["key"] in fixed else "—")
        cells.append(evidence)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path, help="summary.json of an entangled report")
    args = parser.parse_args()
    print(table(json.loads(args.summary.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
