"""The README's F1-F3 table, printed from a report's ``summary.json``.

Usage: python benchmarks/findings_table.py reports/out/quick/summary.json

One row per finding (F1, F2, F3a, F3b and the conjunction F3): its verdict and the paired
evidence of each primary comparison it rests on (mean difference in test accuracy to the
identity, paired t 95% interval, Holm-adjusted p, the comparison's word); with ``--secondary``
the secondary readings too (never counted). Every number is read from the file; nothing is
recomputed. A fragile verdict says where it was decided;
below the table, the machine the runs were trained on (results may differ on another CPU).
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


def table(summary: dict, secondary: bool = False) -> str:
    lines = ["| finding | verdict | primary evidence: Δ test accuracy vs identity, pp [paired 95% CI] |",
             "|---|---|---|"]
    for finding in summary["findings"]:
        if finding.get("parts"):
            evidence = "conjunction of " + " and ".join(finding["parts"])
        else:
            evidence = "<br>".join(evidence_line(e) for e in finding["evidence"]) or "—"
        if secondary and finding.get("secondary"):
            evidence += "<br>secondary (not counted): " + "<br>".join(
                evidence_line(e) for e in finding["secondary"])
        if finding.get("fragility"):
            evidence = (f"*{finding['fragility']['text']}* ({finding['fragility']['comparison']}; "
                        f"across α: {finding['fragility']['flips_to']})<br>" + evidence)
        lines.append(f"| **{finding['key']}** | **{finding['verdict']}** | {evidence} |")
    return "\n".join(lines)


def machines(summary: dict) -> str:
    """``Trained on <machine> (N runs)[; <machine> (M runs)]``, or a note for a summary
    written before machines were recorded."""
    found = summary.get("run_machines")
    if not found:
        return "Trained on: machine not recorded (summary.json written before the environment record)."
    return "Trained on: " + "; ".join(f"{m['label']} ({m['runs']} runs)" for m in found) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path, help="summary.json of an entangled report")
    parser.add_argument("--secondary", action="store_true", help="list the secondary readings too")
    args = parser.parse_args()
    summary = json.loads(args.summary.read_text(encoding="utf-8"))
    print(table(summary, args.secondary))
    print()
    print(machines(summary))


if __name__ == "__main__":
    main()
