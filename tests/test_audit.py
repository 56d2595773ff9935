"""``entangled audit`` (issue 26): file checks against the manifest, and real retraining of a
sample of runs compared with what is stored."""

from __future__ import annotations

import dataclasses
import json

import pytest

from entangled.audit import audit_store, compare
from entangled.cli import main
from entangled.store import record_digest
from entangled.sweep import config_hash, load_results, result_path, run_sweep
from run_fakes import fake_result

REAL = [{"arch": "rnn", "task": "parity", "seed": s, "steps": 4, "eval_every": 2,
         "batch_size": 16, "metrics": False} for s in range(2)]


def configs(n: int) -> list[dict]:
    return [{"arch": "rnn", "task": "parity", "seed": s, "steps": 5} for s in range(n)]


@pytest.fixture(scope="module")
def real_store(tmp_path_factory):
    """Two runs really trained (a few seconds)."""
    out = tmp_path_factory.mktemp("audit") / "runs"
    assert run_sweep(REAL, out, progress=False).ran == 2
    return out


def _forge(path, **changes) -> None:
    """Change a result and record the new content in the manifest, as someone who also
    rewrites the manifest (or a result not produced by this config) would."""
    data = json.loads(path.read_text())
    data.update(changes)
    content = json.dumps(data, indent=1, sort_keys=True).encode()
    record_digest(path.parent, path.stem, content)
    path.write_bytes(content)


@pytest.mark.slow
def test_a_clean_store_audits_clean_with_real_reruns(real_store, capsys):
    code = main(["audit", str(real_store), "--rerun", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 result files, 2 valid, 0 with problems" in out
    assert "retrained 2 sampled runs: 0 differ" in out


@pytest.mark.slow
def test_a_forged_result_with_a_matching_digest_is_caught_by_the_rerun(real_store, tmp_path,
                                                                      capsys):
    import shutil

    store = tmp_path / "runs"
    shutil.copytree(real_store, store)
    target = result_path(store, config_hash(REAL[1]))
    stored = json.loads(target.read_text())
    _forge(target, test_accuracy=min(1.0, stored["test_accuracy"] + 0.25))
    assert len(load_results(store, strict=True)) == 2  # the files alone look fine
    code = main(["audit", str(store), "--rerun", "2", "--json", str(tmp_path / "a.json")])
    assert code == 1
    audit = json.loads((tmp_path / "a.json").read_text())
    assert not audit["clean"] and not audit["problems"]
    assert [(d["config_hash"], d["field"]) for d in audit["differences"]] == [
        (config_hash(REAL[1]), "test_accuracy")]
    assert "1 differ beyond the rounding" in capsys.readouterr().out


def test_file_problems_are_listed_and_nothing_is_moved(tmp_path, capsys):
    run_sweep(configs(3), tmp_path, run_fn=fake_result, progress=False)
    edited = result_path(tmp_path, config_hash(configs(3)[0]))
    data = json.loads(edited.read_text())
    data["test_accuracy"] = 0.99
    edited.write_text(json.dumps(data))
    (tmp_path / ("0" * 16 + ".json")).write_text("{}")
    report = audit_store(tmp_path)
    assert report.files == 4 and report.valid == 2 and not report.clean
    reasons = {p["path"]: p["reason"] for p in report.problems}
    assert reasons[str(edited)].startswith("edited after it was written")
    assert json.loads(edited.read_text())["test_accuracy"] == 0.99  # untouched
    assert main(["audit", str(tmp_path)]) == 1


def test_compare_uses_the_documented_rounding():
    stored = fake_result(configs(1)[0])
    within = dataclasses.replace(stored, test_accuracy=stored.test_accuracy + 5e-7)
    beyond = dataclasses.replace(stored, test_accuracy=stored.test_accuracy + 1e-4,
                                 steps_done=stored.steps_done - 1)
    assert compare(stored, within) == []
    assert {d.field for d in compare(stored, beyond)} == {"test_accuracy", "steps_done"}


def test_runs_of_another_torch_version_are_not_comparable_not_different(tmp_path):
    run_sweep(configs(1), tmp_path, run_fn=fake_result, progress=False)
    path = result_path(tmp_path, config_hash(configs(1)[0]))
    _forge(path, torch_version="1.0.0")
    report = audit_store(tmp_path, rerun=1, run_fn=lambda spec, stored: pytest.fail("retrained"))
    assert report.rerun == [] and "torch 1.0.0" in report.not_comparable[0]["reason"]
    assert report.clean


@pytest.mark.parametrize("argv, message", [
    (["--rerun", "5"], "at most the 1 valid runs"),
    (["--rerun", "-1"], "an integer >= 0"),
])
def test_bad_rerun_counts_are_refused(tmp_path, capsys, argv, message):
    run_sweep(configs(1), tmp_path, run_fn=fake_result, progress=False)
    try:
        code = main(["audit", str(tmp_path), *argv])
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    assert message in capsys.readouterr().err
