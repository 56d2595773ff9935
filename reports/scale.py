"""The report's sections for issue 12 (beyond toy scale), assembled from the typed results:

* the MNIST-1D calibration table (:mod:`entangled.reports.calibration`), when the suite has MNIST-1D
  identity runs;
* the unlearnt (architecture, task) pairs (:mod:`entangled.reports.learnability`);
* the composite skip gain against outcome over the depth/width sweeps (:mod:`entangled.reports.depth`).

:func:`scale_section` gives the template's ``scale`` entry, :func:`scale_summary` the
``summary.json`` entry.
"""

from __future__ import annotations

from typing import Callable, Iterable

from entangled.runs import RunResult
from entangled.reports import calibration, depth, learnability
from entangled.reports.analysis import Outcome


def scale_section(results: Iterable[RunResult], rows: list[Outcome], *,
                  references: Callable[[], dict] | str | None = "cached") -> dict:
    """Everything the page's scale sections show.

    ``references`` gives the paper's MNIST-1D reference models, called only when the suite has
    MNIST-1D identity runs: ``"cached"`` reads them from this machine's cache
    (:func:`entangled.reports.calibration.cached_references`, written by ``entangled calibrate
    --mnist1d-references``; absent: the table says how to get them), a callable returns them,
    ``None`` leaves them out.
    """
    provenance = None
    if references == "cached":
        stored = calibration.cached_references()
        provenance = stored["measured"] if stored else None
        references = (lambda: stored["accuracies"]) if stored else None
    results = list(results)
    gains = depth.gain_section(results, rows)
    figure = depth.gain_figure(gains)
    table = []
    if calibration.has_mnist1d_identity(rows):
        table = calibration.calibration_table(rows, references() if references else None)
    return {
        "gains": gains, "gain_table": gains.table(), "gain_figure": figure,
        "figures": [f for f in (figure,) if f is not None],
        "unlearnt": learnability.unlearnt_pairs(rows, learnability.memoryless_levels(results)),
        "margin": learnability.MARGIN, "calibration": table,
        "tolerance": calibration.TOLERANCE, "references_measured": provenance,
        "references_missing": bool(table) and not any(r["kind"] == "reference" for r in table),
    }


def scale_summary(section: dict) -> dict:
    """The ``summary.json`` entry: every composite gain, the unlearnt pairs, the calibration."""
    return {"composite_gain": [g.to_dict() for g in section["gains"].gains],
            "unlearnt": [u.to_dict() for u in section["unlearnt"]],
            "unlearnt_margin": section["margin"],
            "mnist1d_calibration": section["calibration"]}
