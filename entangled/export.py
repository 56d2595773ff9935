"""Run results as flat tables: one row per run, for pandas, R, a spreadsheet or SQL.

A result file (``<config-hash>.json`` of :func:`entangled.sweep.run_sweep` or ``entangled
train --json``) is nested; :func:`run_row` flattens it into one row of named scalar columns:

* ``config_hash``;
* ``config.<field>`` for every configuration field, nested dicts dotted
  (``config.params.theta``, ``config.model.width``, ``config.task_options.length``);
* every top-level outcome field (``status``, ``test_accuracy``, ``train_loss``, ``steps_done``,
  ``diverged_at``, ``chance_accuracy``, ``n_parameters``, ``device``, ``wall_time_s``, ...);
* ``metrics.<stage>.<name>`` for the metric snapshots (``stage`` is ``init`` or ``final``):
  scalars as they are, dicts dotted (``metrics.final.skip_gain.forward``), and a list metric
  (one value per application, e.g. ``refinement_cosine``) both as the list itself and as
  ``<name>.mean``, the mean of its finite entries;
* ``environment.<name>`` (versions, threads).

The training curves are time series, not per-run values, and are left out. Missing values are
``None`` (an empty CSV cell). Rows are ordered by configuration, columns by first appearance.

:func:`write_csv` writes a list cell as its JSON text; :func:`write_parquet` (the ``parquet``
extra, pyarrow) keeps it as a list column.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, Iterable

from entangled.atomic_io import write_atomic
from entangled.errors import InvalidParameterError, MissingExtraError

LOGGER = logging.getLogger(__name__)
FORMATS = ("csv", "parquet")
#: Top-level result fields that are not per-run scalars and are not exported.
LEFT_OUT = ("curves",)
#: Fields of the stored result that are not outcome columns (written elsewhere or not at all).
NOT_OUTCOMES = ("config", "spec", "schema_version", "config_hash", "metrics", "environment")



# --------------------------------------------------------------------------- reading
def results_directory(path: str | os.PathLike) -> Path:
    """The directory holding the result files: ``path/runs`` for a report directory (one with a
    ``runs/`` folder of result files; its own ``summary.json``, ``history.json`` and cached
    ledgers are not runs), else ``path`` itself. Raises :class:`InvalidParameterError` when
    there is no result file in either."""
    root = Path(path)
    if not root.is_dir():
        raise InvalidParameterError("RUNS_DIR", str(path), "an existing directory of run results")
    for candidate in (root / "runs", root):
        if candidate.is_dir() and any(candidate.glob("*.json")):
            return candidate
    raise InvalidParameterError("RUNS_DIR", str(path),
                                "a directory with <config-hash>.json run results (or a report "
                                "directory with a runs/ folder of them)")


def read_results(path: str | os.PathLike) -> list:
    """Every valid run result under ``path`` (see :func:`results_directory`) as
    :class:`~entangled.train.RunResult` objects.

    The single place where result files are read: :func:`entangled.sweep.load_results`
    validates them (and skips an invalid file with a warning).
    """
    from entangled.sweep import load_results

    return list(load_results(results_directory(path)))


# ------------------------------------------------------------------------ flattening
def _finite_mean(values: list) -> float | None:
    finite = [float(v) for v in values
              if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def flatten(data: dict[str, Any], prefix: str = "", *, list_means: bool = False) -> dict[str, Any]:
    """Nested dicts as one level of dotted keys: ``{"a": {"b": 1}} -> {"a.b": 1}``.

    Lists are kept as values; with ``list_means`` a list of numbers also gives
    ``<key>.mean``, the mean of its finite entries (``None`` when there is none).
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + ".", list_means=list_means))
            continue
        flat[name] = value
        if list_means and isinstance(value, list) and all(
                v is None or isinstance(v, (int, float)) for v in value):
            flat[name + ".mean"] = _finite_mean(value)
    return flat


def run_row(result) -> dict[str, Any]:
    """One flat row of a :class:`~entangled.train.RunResult` (the columns are described in
    the module docstring); ``config.*`` come from its flat ``config`` dict."""
    data = result.to_dict()
    row: dict[str, Any] = {"config_hash": data.get("config_hash")}
    row.update(flatten(result.config, "config."))
    for key, value in data.items():
        if key in LEFT_OUT or key in NOT_OUTCOMES:
            continue
        if isinstance(value, dict):
            row.update(flatten(value, key + "."))
        else:
            row[key] = value
    row.update(flatten(data.get("metrics") or {}, "metrics.", list_means=True))
    row.update(flatten(data.get("environment") or {}, "environment."))
    return row


def table(results: Iterable[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """``(columns, rows)`` of the results: rows ordered by configuration, every row holding
    every column (``None`` where a run lacks it), columns in order of first appearance."""
    ordered = sorted(results, key=lambda r: json.dumps(r.config, sort_keys=True, default=str))
    rows = _rectangular([run_row(r) for r in ordered])
    return (list(rows[0]) if rows else ["config_hash"]), rows


def _rectangular(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every column (``None`` where missing), columns in first-seen order."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return [{c: row.get(c) for c in columns} for row in rows]


# --------------------------------------------------------------------------- writing
def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def write_csv(columns: list[str], rows: list[dict[str, Any]], stream) -> None:
    """Write the table as CSV (header row first; list cells as JSON text, ``None`` empty)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row[c]) for c in columns])


def _column_values(rows: list[dict[str, Any]], column: str) -> list:
    values = [row[column] for row in rows]
    kinds = {type(v) for v in values if v is not None}
    if kinds == {int, float}:  # an integer-valued parameter next to a float one
        return [None if v is None else float(v) for v in values]
    if len(kinds) > 1 and not kinds <= {list}:
        return [None if v is None else json.dumps(v) if isinstance(v, (list, dict)) else str(v)
                for v in values]
    return values


def write_parquet(columns: list[str], rows: list[dict[str, Any]], target) -> None:
    """Write the table as Parquet with pyarrow (the ``parquet`` extra); list metrics stay list
    columns, a column mixing types is stored as text."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingExtraError("export --format parquet", "pyarrow", "parquet") from exc
    arrays = {column: _column_values(rows, column) for column in columns}
    pq.write_table(pa.table(arrays), target)


def export(path: str | os.PathLike, out: str | os.PathLike | None = None, *,
           format: str = "csv") -> Path | None:
    """Export the runs under ``path`` as one table to ``out`` and return its path.

    ``out`` defaults to ``<results directory>/runs.<format>``; ``"-"`` writes to stdout
    (and returns ``None``). Logs ``"<n> runs -> <path>"`` at ``INFO``.
    """
    if format not in FORMATS:
        raise InvalidParameterError("format", format, "one of " + ", ".join(FORMATS))
    columns, rows = table(read_results(path))
    if out is None:
        out = results_directory(path) / f"runs.{format}"
    if str(out) == "-":
        if format == "csv":
            write_csv(columns, rows, sys.stdout)
        else:
            buffer = io.BytesIO()
            write_parquet(columns, rows, buffer)
            sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.flush()
        return None
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    if format == "csv":
        def write(fh) -> None:
            stream = io.TextIOWrapper(fh, encoding="utf-8", newline="")
            write_csv(columns, rows, stream)
            stream.flush()
            stream.detach()  # the file stays open for write_atomic's fsync
    else:
        def write(fh) -> None:
            write_parquet(columns, rows, fh)
    write_atomic(target, write)
    LOGGER.info(f"{len(rows)} runs -> {target}")
    return target


# ------------------------------------------------------------------ report outcomes
def outcomes_table(outcomes: Iterable[Any]) -> list[dict[str, Any]]:
    """The report's outcomes (:class:`entangled.reports.analysis.Outcome` or their ``to_dict``) as flat
    rows: one per (architecture, task, mapping variant), scalar columns only.

    Columns: the outcome's description flattened (``arch``, ``task``, the mapping variant and
    its parameters, model overrides, ``diverged``, ``chance``, ``time_structure``, ...);
    ``runs`` (finished + diverged); ``n, mean, ci_low, ci_high, std`` of the test accuracy over
    the ``n`` finished seeds (95% t interval); ``diff_delta, diff_ci_low, diff_ci_high,
    diff_p_value, diff_n_a, diff_n_b``, the difference to the identity skip paired by seed
    (:func:`entangled.reports.analysis.paired_difference`: diverged runs at chance, paired t
    interval and p-value; ``diff_n_a`` = ``diff_n_b`` = the paired seeds; ``None`` for the
    identity itself); then ``property.<name>`` of the skip mapping.
    Lists (per-seed accuracies, seeds) are left out. Every row has every column.
    """
    rows = []
    for outcome in outcomes:
        data = outcome.to_dict() if hasattr(outcome, "to_dict") else dict(outcome)
        described = {k: v for k, v in data.items()
                     if k not in ("accuracies", "seeds", "summary", "difference", "properties")}
        row = {k: v for k, v in flatten(described).items() if not isinstance(v, list)}
        row["runs"] = len(data.get("accuracies") or []) + int(data.get("diverged") or 0)
        for key, value in (data.get("summary") or {}).items():
            if not isinstance(value, (list, dict)):
                row[_summary_column(key)] = value
        for key, value in (data.get("difference") or {}).items():
            if not isinstance(value, (list, dict)):
                row["diff_" + _summary_column(key)] = value
        row.update(flatten(data.get("properties") or {}, "property."))
        rows.append(row)
    return _rectangular(rows)


def _summary_column(key: str) -> str:
    return {"low": "ci_low", "high": "ci_high"}.get(key, key)
