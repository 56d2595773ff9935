"""The larger-suite checks of the report (issue 12):

* MNIST-1D calibration against the published table, like for like
  (:mod:`entangled.reports.calibration`);
* the unlearnt (architecture, task) pairs (:mod:`entangled.reports.learnability`);
* the composite skip gain against outcome over the depth/width sweeps (:mod:`entangled.reports.depth`).

The evidence (:mod:`entangled.reports.evidence`) takes :func:`calibration_rows`, the sections
``calibration``, ``learnability`` and ``depth`` (:mod:`entangled.reports.builtin_sections`) show them,
and :func:`summary_entry` is their ``summary.json`` entry.
"""

from __future__ import annotations

from typing import Callable, Iterable

from entangled.reports import calibration, depth, learnability
from entangled.reports.analysis import Outcome


def calibration_rows(rows: list[Outcome], *,
                     references: Callable[[], dict] | str | None = "cached"
                     ) -> tuple[list[dict], str | None]:
    """The MNIST-1D calibration table (:func:`entangled.reports.calibration.calibration_table`:
    the reference rows, then ours), ``[]`` when the suite has no MNIST-1D identity runs, and
    when the reference rows were measured (``None``: not known, or not measured).

    ``references`` gives the paper's MNIST-1D reference models, called only when the suite has
    MNIST-1D identity runs: ``"cached"`` reads them from this machine's cache
    (:func:`entangled.reports.calibration.cached_references`, written by ``entangled calibrate
    --mnist1d-references``; absent: the page says how to get them), a callable returns them,
    ``None`` leaves them out.
    """
    if not calibration.has_mnist1d_identity(rows):
        return [], None
    provenance = None
    accuracies = None
    if references == "cached":
        stored = calibration.cached_references()
        if stored:
            provenance, accuracies = stored["measured"], stored["accuracies"]
    elif callable(references):
        accuracies = references()
    return calibration.calibration_table(rows, accuracies), provenance


def references_missing(table: list[dict]) -> bool:
    """Whether a calibration table has our rows but no measured reference row."""
    return bool(table) and not any(r["kind"] == "reference" for r in table)


def summary_entry(gains: depth.GainSection, unlearnt: Iterable[learnability.Unlearnt],
                  table: list[dict]) -> dict:
    """The ``summary.json`` entry: every composite gain, the unlearnt pairs, the calibration."""
    return {"composite_gain": [g.to_dict() for g in gains.gains],
            "unlearnt": [u.to_dict() for u in unlearnt],
            "unlearnt_margin": learnability.MARGIN,
            "mnist1d_calibration": table}
