"""The store manifest (issue 26): every result's SHA-256 is recorded when it is written, so an
edit inside the valid range is detected, moved aside and retrained, never exported; stores
written before the manifest are adopted once; results copied in without an entry are not
trusted; shards and resumption keep working."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from entangled.export import export
from entangled.store import MANIFEST_DIR, content_sha256, manifest_entry_path
from entangled.sweep import check_result_file, config_hash, load_results, result_path, run_sweep
from run_fakes import fake_result


def configs(n: int) -> list[dict]:
    return [{"arch": "rnn", "task": "parity", "seed": s, "steps": 5} for s in range(n)]


def quick_run(spec):
    return fake_result(spec)


def _edit_accuracy(path, value: float) -> None:
    data = json.loads(path.read_text())
    data["test_accuracy"] = value
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def test_every_written_result_has_its_digest_in_the_manifest(tmp_path):
    run_sweep(configs(3), tmp_path, run_fn=quick_run, progress=False)
    for config in configs(3):
        digest = config_hash(config)
        entry = json.loads(manifest_entry_path(tmp_path, digest).read_text())
        content = result_path(tmp_path, digest).read_bytes()
        assert entry == {"sha256": content_sha256(content), "bytes": len(content)}


def test_an_edit_inside_the_valid_range_is_moved_aside_and_retrained(tmp_path, caplog):
    """The reported case: test_accuracy 0.251 -> 0.99 in one result file gave "already done"
    and was exported as is."""
    runs = configs(3)
    run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    victim = result_path(tmp_path, config_hash(runs[1]))
    _edit_accuracy(victim, 0.99)
    result, reason = check_result_file(victim, runs[1])
    assert result is None and reason.startswith("edited after it was written")
    summary = run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    assert summary.ran == 1 and summary.skipped == 2
    assert summary.corrupt[0]["reason"].startswith("edited after it was written")
    moved = tmp_path / "invalid" / victim.name
    assert json.loads(moved.read_text())["test_accuracy"] == 0.99  # kept, never deleted
    accuracies = sorted(r.test_accuracy for r in load_results(tmp_path, strict=True))
    assert accuracies == [0.25, 0.251, 0.252]  # retrained: the measured value is back


def test_export_leaves_out_an_edited_result_with_a_warning(tmp_path, caplog):
    runs = configs(2)
    run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    _edit_accuracy(result_path(tmp_path, config_hash(runs[0])), 0.99)
    target = export(tmp_path, tmp_path / "runs.csv")
    text = target.read_text()
    assert "0.99" not in text and "0.251" in text
    assert "edited after it was written" in caplog.text
    with pytest.raises(ValueError, match="edited after it was written"):
        load_results(tmp_path, strict=True)


def test_a_store_from_before_the_manifest_is_adopted_once_then_guarded(tmp_path, caplog):
    runs = configs(3)
    run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    shutil.rmtree(tmp_path / MANIFEST_DIR)  # as written by an earlier version
    assert len(load_results(tmp_path, strict=True)) == 3  # nothing to compare: trusted
    summary = run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    assert summary.adopted == 3 and summary.skipped == 3 and summary.ran == 0
    assert "had no manifest" in caplog.text
    _edit_accuracy(result_path(tmp_path, config_hash(runs[2])), 0.99)
    again = run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    assert again.adopted == 0 and again.ran == 1 and len(again.corrupt) == 1


def test_a_result_copied_in_without_its_entry_is_not_trusted(tmp_path):
    runs = configs(2)
    elsewhere = tmp_path / "elsewhere"
    run_sweep(runs, elsewhere, run_fn=quick_run, progress=False)
    store = tmp_path / "store"
    run_sweep(runs[:1], store, run_fn=quick_run, progress=False)
    copied = result_path(store, config_hash(runs[1]))
    shutil.copy(result_path(elsewhere, config_hash(runs[1])), copied)
    summary = run_sweep(runs, store, run_fn=quick_run, progress=False)
    assert summary.ran == 1 and "not in the store's manifest" in summary.corrupt[0]["reason"]
    # copied together with its manifest entry, a result is trusted like its own
    shutil.copy(manifest_entry_path(elsewhere, config_hash(runs[1])),
                manifest_entry_path(store, config_hash(runs[1])))
    shutil.copy(result_path(elsewhere, config_hash(runs[1])), copied)
    assert run_sweep(runs, store, run_fn=quick_run, progress=False).skipped == 2


def test_a_killed_write_between_digest_and_result_costs_one_rerun_at_most(tmp_path):
    """The digest is recorded before the result is moved into place: an entry without its
    result (a kill in between) is harmless, and the run is trained on resume."""
    runs = configs(2)
    run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    result_path(tmp_path, config_hash(runs[0])).unlink()  # the entry stays, the result is gone
    summary = run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    assert summary.ran == 1 and summary.skipped == 1 and not summary.corrupt
    assert len(load_results(tmp_path, strict=True)) == 2


def test_a_symlinked_manifest_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store = tmp_path / "store"
    store.mkdir()
    (store / MANIFEST_DIR).symlink_to(elsewhere)
    with pytest.raises(ValueError, match=r"\.manifest/"):
        run_sweep(configs(1), store, run_fn=quick_run, progress=False)
    assert list(elsewhere.iterdir()) == []


def test_temporary_files_of_dead_writers_are_removed_from_the_manifest_too(tmp_path):
    run_sweep(configs(1), tmp_path, run_fn=quick_run, progress=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stray = tmp_path / MANIFEST_DIR / f".{config_hash(configs(1)[0])}.{dead.pid}.x1y2.tmp"
    stray.write_text("{")
    mine = tmp_path / MANIFEST_DIR / f".{config_hash(configs(1)[0])}.{os.getpid()}.z.tmp"
    mine.write_text("{")
    run_sweep(configs(1), tmp_path, run_fn=quick_run, progress=False)
    assert not stray.exists() and mine.exists()
