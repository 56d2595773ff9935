"""``entangled export``: one flat row per run (CSV and Parquet) and the flat outcomes table."""

from __future__ import annotations

import csv
import io
import json
import math
import sys

import pytest

from entangled.cli import main
from entangled.errors import InvalidParameterError, MissingExtraError
from entangled.export import (
    export,
    flatten,
    outcomes_table,
    read_results,
    table,
)
from entangled.sweep import config_hash, result_path, write_json_atomic


def snapshot(cosine: list, accuracy: float) -> dict:
    return {"loss": 0.5, "accuracy": accuracy, "num_applications": len(cosine),
            "refinement_cosine": cosine, "lesion_applications": list(range(len(cosine))),
            "skip_gain": {"forward": 1.0, "backward": 2.0}}


def result(family: str, params: dict, seed: int, accuracy: float | None) -> dict:
    """The on-disk form of a run result (schema 3), built through the typed model."""
    import torch

    from entangled.runs import Curves, MetricSnapshot, RunResult, RunSpec

    config = {"arch": "cnn", "task": "digits", "family": family, "params": params,
              "model": {"width": 16}, "seed": seed, "steps": 10}
    spec = RunSpec.from_flat(config).resolve()
    ok = accuracy is not None
    final = MetricSnapshot.from_snapshot(snapshot([0.1, None, 0.3], accuracy)) if ok else None
    return RunResult(
        spec=spec, config_hash=config_hash(config),
        status="ok" if ok else "diverged", steps_done=10 if ok else 3, steps_planned=10,
        diverged_at=None if ok else 4, train_accuracy=accuracy,
        train_loss=0.1 if ok else None, test_accuracy=accuracy,
        test_loss=0.2 if ok else None, chance_accuracy=0.1, memoryless_accuracy=0.1,
        time_structure="static", input_kind="image", skip_width=16,
        curves=Curves([0, 10], [None, 0.1], [2.3, 0.2], [0.1, accuracy]),
        metrics={"init": MetricSnapshot.from_snapshot(snapshot([0.0, 0.0, 0.0], 0.1)),
                 "final": final},
        n_parameters=1000, device="cpu", threads=1, torch_version=torch.__version__,
        validation_accuracy=accuracy, selected_step=10 if ok else None,
        steps_to_threshold=10 if ok else None, wall_time_s=1.5,
        environment={"torch": "2.13.0", "torch_threads": 1},
    ).to_dict()


RESULTS = [result("rotation", {"theta": 0.5}, 1, 0.75), result("identity", {}, 0, 0.9),
           result("rotation", {"theta": 1}, 0, None)]


@pytest.fixture
def runs_dir(tmp_path):
    directory = tmp_path / "runs"
    directory.mkdir()
    for data in RESULTS:
        write_json_atomic(result_path(directory, data["config_hash"]), data)
    return directory


def as_results(dicts: list[dict]) -> list:
    from entangled.train import RunResult

    return [RunResult.from_dict(d) for d in dicts]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_flatten_known_answer():
    nested = {"a": {"b": 1, "c": {"d": [1, None, 3]}}, "e": "x"}
    assert flatten(nested) == {"a.b": 1, "a.c.d": [1, None, 3], "e": "x"}
    assert flatten(nested, "p.", list_means=True)["p.a.c.d.mean"] == 2.0
    assert flatten({"v": [None, float("nan")]}, list_means=True)["v.mean"] is None


def test_csv_has_one_row_per_run_with_config_outcome_and_metric_columns(runs_dir):
    path = export(runs_dir, format="csv")
    assert path == runs_dir / "runs.csv"
    rows = read_csv(path.read_text())
    assert len(rows) == 3
    # ordered by configuration: identity first, then the rotations by theta
    assert [r["config.family"] for r in rows] == ["identity", "rotation", "rotation"]
    identity, rotation, diverged = rows
    assert identity["config.params.theta"] == "" and rotation["config.params.theta"] == "0.5"
    assert rotation["config.model.width"] == "16" and rotation["config.seed"] == "1"
    assert float(rotation["test_accuracy"]) == 0.75 and rotation["status"] == "ok"
    assert float(rotation["metrics.final.refinement_cosine.mean"]) == pytest.approx(0.2)
    assert json.loads(rotation["metrics.final.refinement_cosine"]) == [0.1, None, 0.3]
    assert float(rotation["metrics.final.skip_gain.backward"]) == 2.0
    assert rotation["environment.torch"] == "2.13.0"
    assert diverged["status"] == "diverged" and diverged["test_accuracy"] == ""
    assert diverged["diverged_at"] == "4" and diverged["metrics.final.accuracy"] == ""
    assert not any(column.startswith("curves") for column in rows[0])
    assert rotation["config_hash"] == RESULTS[0]["config_hash"]


def test_cli_export_to_stdout_and_report_directory(runs_dir, capsys):
    assert main(["export", str(runs_dir.parent), "--out", "-"]) == 0  # a report dir with runs/
    rows = read_csv(capsys.readouterr().out)
    assert sorted(float(r["test_accuracy"] or "nan") for r in rows)[:2] == [0.75, 0.9]
    out = runs_dir.parent / "table.csv"
    assert main(["export", str(runs_dir), "--out", str(out)]) == 0
    assert "3 runs" in capsys.readouterr().err
    assert len(read_csv(out.read_text())) == 3


def test_parquet_round_trip_keeps_types_and_list_columns(runs_dir):
    pq = pytest.importorskip("pyarrow.parquet", reason="the 'parquet' extra")
    columns, rows = table(read_results(runs_dir))
    path = export(runs_dir, runs_dir / "out.parquet", format="parquet")
    back = pq.read_table(path)
    assert back.column_names == columns
    records = back.to_pylist()
    assert [r["test_accuracy"] for r in records] == [0.9, 0.75, None]
    assert records[1]["metrics.final.refinement_cosine"] == [0.1, None, 0.3]
    # theta is 0.5 in one run and the integer 1 in another: one float column
    assert [r["config.params.theta"] for r in records] == [None, 0.5, 1.0]
    assert str(back.schema.field("config.seed").type) == "int64"


def test_parquet_without_pyarrow_names_the_extra(runs_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingExtraError, match=r"entangled\[parquet\]"):
        export(runs_dir, runs_dir / "x.parquet", format="parquet")
    assert main(["export", str(runs_dir), "--format", "parquet"]) == 2


def test_bad_input_names_the_parameter(tmp_path):
    with pytest.raises(InvalidParameterError, match="RUNS_DIR"):
        export(tmp_path / "missing")
    with pytest.raises(InvalidParameterError, match="RUNS_DIR.*result"):
        export(tmp_path)  # exists, holds no results
    with pytest.raises(InvalidParameterError, match="format='xlsx'.*csv, parquet"):
        export(tmp_path, format="xlsx")


def test_outcomes_table_is_flat_and_its_difference_is_paired_by_seed():
    """Known answer: seeds 0-2 with differences -0.15, -0.2, -0.15: the paired mean, the paired
    t interval mean ± t(0.975, 2) sd / sqrt 3 and scipy's ttest_rel p-value; Welch's test on
    the same numbers gives another p-value; the diverged seed 9 has no identity seed to pair."""
    import statistics

    from scipy import stats

    from entangled.reports import analysis

    identity_acc, rotation_acc = [0.8, 0.9, 1.0], [0.65, 0.7, 0.85]
    results = [result("identity", {}, s, a) for s, a in enumerate(identity_acc)]
    results += [result("rotation", {"theta": 0.5}, s, a) for s, a in enumerate(rotation_acc)]
    results.append(result("rotation", {"theta": 0.5}, 9, None))
    rows = outcomes_table(analysis.outcomes(as_results(results)))
    assert len(rows) == 2 and rows[0].keys() == rows[1].keys()
    assert all(not isinstance(v, (list, dict)) for row in rows for v in row.values())
    by_family = {row.get("family", row.get("variant.family")): row for row in rows}
    rotation, identity = by_family["rotation"], by_family["identity"]
    assert rotation["runs"] == 4 and rotation["diverged"] == 1 and rotation["n"] == 3
    assert rotation["mean"] == pytest.approx(statistics.mean(rotation_acc))
    differences = [a - b for a, b in zip(rotation_acc, identity_acc)]
    mean = statistics.mean(differences)
    half = stats.t.ppf(0.975, 2) * statistics.stdev(differences) / math.sqrt(3)
    assert rotation["diff_delta"] == pytest.approx(mean)
    assert (rotation["diff_ci_low"], rotation["diff_ci_high"]) == pytest.approx(
        (mean - half, mean + half))
    paired_p = stats.ttest_rel(rotation_acc, identity_acc).pvalue
    assert rotation["diff_p_value"] == pytest.approx(paired_p)
    assert rotation["diff_n_a"] == rotation["diff_n_b"] == 3
    welch_p = stats.ttest_ind(rotation_acc, identity_acc, equal_var=False).pvalue
    assert abs(welch_p - paired_p) > 0.05  # the known answer tells the two apart
    assert rotation["ci_low"] <= rotation["mean"] <= rotation["ci_high"]
    assert identity["diff_delta"] is None
    assert rotation.get("params.theta", rotation.get("variant.params.theta")) == 0.5
    json.dumps(rows)  # plain data
