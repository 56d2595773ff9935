"""Sweeps: hashing, atomic result files, resume after SIGKILL, corrupt files, parallel jobs."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from entangled.sweep import (
    ProgressBar,
    check_result_file,
    config_hash,
    load_results,
    read_configs,
    run_sweep,
    write_json_atomic,
)
from entangled.runs import RunSpec
from entangled.train import RunConfig, RunResult
from run_fakes import fake_result


def quick_run(spec: RunSpec) -> RunResult:
    return fake_result(spec, "diverged" if spec.seed == 3 else "ok")


def slow_run(config: RunSpec) -> RunResult:
    time.sleep(0.25)
    return fake_result(config)


def failing_run(config: RunSpec) -> RunResult:
    if config.seed == 1:
        raise RuntimeError("boom")
    return fake_result(config)


def configs(n: int) -> list[dict]:
    return [{"arch": "rnn", "task": "parity", "seed": s, "steps": 5} for s in range(n)]


def test_config_hash_is_stable_and_uses_the_full_config():
    a = config_hash({"arch": "rnn", "task": "parity"})
    assert a == config_hash(RunConfig(arch="rnn", task="parity"))  # defaults filled in
    assert len(a) == 16 and int(a, 16) >= 0
    assert a == config_hash({"task": "parity", "arch": "rnn"})      # key order irrelevant
    assert config_hash({"arch": "rnn", "task": "parity", "lr": 1}) == \
        config_hash({"arch": "rnn", "task": "parity", "lr": 1.0})
    assert a != config_hash({"arch": "rnn", "task": "parity", "seed": 1})
    rot = {"arch": "rnn", "task": "parity", "family": "rotation"}
    assert a != config_hash({**rot, "params": {"theta": 0.1}})
    with pytest.raises(ValueError, match="config field"):
        config_hash({"arch": "rnn", "colour": "red"})


@pytest.mark.parametrize("left,right", [
    ({"family": "rotation", "params": {"theta": 1}}, {"family": "rotation", "params": {"theta": 1.0}}),
    ({"family": "sparse"}, {"family": "sparse", "params": {"strength": 0.5}}),  # default given
    ({"task_options": {}}, {"task_options": {"length": 12}}),                      # task default
    ({"model": {}}, {"model": {"hidden": 64}}),                                    # model default
    ({"steps": 400, "lr": 0.003}, {"steps": 400.0}),
    ({}, {"threads": 1, "skip_seed": 0}),
])
def test_config_hash_is_canonical(left, right):
    base = {"arch": "rnn", "task": "parity"}
    assert config_hash({**base, **left}) == config_hash({**base, **right})
    spec = RunSpec.from_flat({**base, **right})
    assert config_hash(spec) == config_hash(RunConfig(**{**base, **left}))


def test_config_hash_separates_what_differs():
    base = {"arch": "rnn", "task": "parity", "family": "sparse"}
    hashes = {config_hash({**base, "params": {"strength": s}}) for s in (0.5, 0.50004)}
    hashes.add(config_hash({**base, "threads": 2}))
    assert len(hashes) == 3


def test_config_hash_golden_value():
    # canonical JSON of the resolved default spec -> sha256; changes only if the spec changes
    import hashlib

    from entangled.sweep import canonical_json

    full = RunConfig().to_spec().resolve().to_dict()
    assert full["skip"] == {"family": "identity", "params": {}, "spatial": False}
    assert full["arch"]["overrides"]["width"] == 16 and full["budget"]["threads"] == 1
    assert config_hash({}) == hashlib.sha256(canonical_json(full).encode()).hexdigest()[:16]
    assert canonical_json({"b": 1, "a": [1.5, None]}) == '{"a":[1.5,null],"b":1}'


def test_sweep_writes_one_json_per_run_and_skips_finished_runs(tmp_path):
    cfgs = configs(4) + [configs(4)[0]]  # a duplicate runs once
    summary = run_sweep(cfgs, tmp_path, run_fn=quick_run, progress=False)
    assert summary.total == 4 and summary.ran == 4 and summary.skipped == 0
    assert summary.complete and summary.diverged == [config_hash(configs(4)[3])]
    files = sorted(p.name for p in tmp_path.glob("*.json"))
    assert files == sorted(f"{config_hash(c)}.json" for c in configs(4))
    results = load_results(tmp_path)
    assert sorted(r.config["seed"] for r in results) == [0, 1, 2, 3]
    assert {r.status for r in results} == {"ok", "diverged"}
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}
    again = run_sweep(configs(5), tmp_path, run_fn=quick_run, progress=False)
    assert again.skipped == 4 and again.ran == 1 and again.total == 5
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())  # untouched
    assert len(again.diverged) == 1


def test_result_files_round_trip_exactly(tmp_path):
    run_sweep(configs(2), tmp_path, run_fn=quick_run, progress=False)
    for result in load_results(tmp_path):
        path = tmp_path / f"{result.config_hash}.json"
        assert RunResult.from_dict(json.loads(path.read_text())) == result
        assert result == RunResult.from_dict(json.loads(json.dumps(result.to_dict())))
        assert result.test_accuracy == 0.25 + result.config["seed"] / 1000


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other_config", "nan",
                                    "out_of_range", "extra_key"])
def test_corrupt_result_files_are_reported_and_rerun(tmp_path, damage, caplog):
    cfgs = configs(3)
    run_sweep(cfgs, tmp_path, run_fn=quick_run, progress=False)
    victim = tmp_path / f"{config_hash(cfgs[1])}.json"
    text = victim.read_text()
    if damage == "truncate":
        victim.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        victim.write_bytes(b"\x00\xff not json")
    elif damage == "other_config":
        data = json.loads(text)
        data["spec"]["seed"] = 99
        victim.write_text(json.dumps(data))
    elif damage == "nan":
        victim.write_text(text.replace('"test_accuracy": 0.251', '"test_accuracy": NaN'))
    elif damage == "out_of_range":
        victim.write_text(text.replace('"test_accuracy": 0.251', '"test_accuracy": 7.5'))
    else:  # an extra key
        data = json.loads(text)
        data["colour"] = "red"
        victim.write_text(json.dumps(data))
    damaged = victim.read_bytes()
    assert check_result_file(victim, cfgs[1])[0] is None
    caplog.clear()
    summary = run_sweep(cfgs, tmp_path, run_fn=quick_run, progress=False)
    assert summary.ran == 1 and summary.skipped == 2
    assert [c["path"] for c in summary.corrupt] == [str(victim)]
    assert "invalid result file" in caplog.text  # a warning of the entangled.sweep logger
    assert check_result_file(victim, cfgs[1])[1] is None
    moved = tmp_path / "invalid" / victim.name  # set aside, never deleted
    assert moved.read_bytes() == damaged
    assert len(load_results(tmp_path, strict=True)) == 3


def test_load_results_skips_invalid_files_with_a_warning(tmp_path, caplog):
    run_sweep(configs(2), tmp_path, run_fn=quick_run, progress=False)
    (tmp_path / "0123456789abcdef.json").write_text("{}")
    assert len(load_results(tmp_path)) == 2
    assert [r.name for r in caplog.records if "skipping invalid result file" in r.message] == [
        "entangled.sweep"]
    with pytest.raises(ValueError, match="invalid result file"):
        load_results(tmp_path, strict=True)


def test_failed_runs_are_reported_and_the_sweep_goes_on(tmp_path):
    summary = run_sweep(configs(3), tmp_path, run_fn=failing_run, progress=False)
    assert summary.ran == 2 and not summary.complete
    assert len(summary.failed) == 1 and "boom" in summary.failed[0]["error"]
    assert not (tmp_path / f"{config_hash(configs(3)[1])}.json").exists()
    assert run_sweep(configs(3), tmp_path, run_fn=quick_run, progress=False).ran == 1


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "x.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(ValueError):
        write_json_atomic(target, {"a": float("nan")})  # strict JSON refuses NaN mid-write
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_parallel_jobs_use_worker_processes(tmp_path):
    summary = run_sweep(configs(4), tmp_path, run_fn=slow_run, jobs=2, progress=False)
    assert summary.ran == 4 and summary.complete
    pids = {r.environment["pid"] for r in load_results(tmp_path)}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_done_total_and_current_run_on_a_terminal():
    stream = Terminal()
    bar = ProgressBar(5, stream=stream)
    bar.update(done=1)  # found finished on disk
    bar.update(done=3, current="rnn/parity/identity s0", timed=True)
    bar.close()
    line = stream.getvalue().replace("\r", "\n").strip().splitlines()[-1]
    assert "3/5" in line and "rnn/parity/identity s0" in line and "<" in line  # tqdm's ETA
    quiet = Terminal()
    ProgressBar(5, stream=quiet, enabled=False).update(done=1)
    assert quiet.getvalue() == ""
    piped = io.StringIO()  # not a terminal: quiet
    ProgressBar(5, stream=piped).update(done=1, timed=True)
    assert piped.getvalue() == ""


def test_sweep_draws_no_bar_when_stderr_is_not_a_terminal(tmp_path, capsys):
    run_sweep(configs(2), tmp_path, run_fn=quick_run, progress=True)
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "run/s" not in captured.err and "s/run" not in captured.err
    assert "|" not in captured.err and captured.out == ""  # no tqdm bar (log lines at most)


def test_progress_lines_known_counts_and_eta_when_not_a_terminal(caplog):
    """Off a terminal the bar logs lines at INFO: counts, elapsed and an ETA from the runs
    trained now (known answer: 3 runs trained in 30 s, 5 left -> 50 s)."""
    now = [100.0]
    with caplog.at_level(logging.INFO, logger="entangled.sweep"):
        bar = ProgressBar(10, stream=io.StringIO(), clock=lambda: now[0])
        bar.update(done=2, current="resuming")  # found finished on disk
        now[0] = 130.0
        bar.update(done=5, current="last finished: rnn/parity/identity s4", timed=True)
        bar.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "entangled.sweep"]
    assert lines == [
        "sweep: 2/10 runs done (2 found finished, 0 trained now), 0s elapsed, ETA unknown; resuming",
        "sweep: 5/10 runs done (2 found finished, 3 trained now), 30s elapsed, ETA 50s; "
        "last finished: rnn/parity/identity s4"]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "entangled.sweep")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="entangled.sweep"):  # a terminal or disabled: no lines
        ProgressBar(10, stream=Terminal()).update(done=1, timed=True)
        ProgressBar(10, stream=io.StringIO(), enabled=False).update(done=1, timed=True)
    assert not [r for r in caplog.records if r.name == "entangled.sweep"]


def test_progress_lines_every_n_runs_and_after_a_quiet_interval(caplog):
    now = [0.0]
    with caplog.at_level(logging.INFO, logger="entangled.sweep"):
        bar = ProgressBar(1000, stream=io.StringIO(), clock=lambda: now[0], interval_s=60)
        assert bar.every == 10
        for done in range(1, 26):
            now[0] += 1.0
            bar.update(done=done, timed=True)
        now[0] += 61  # a slow run: a line although 26 is not a multiple of 10
        bar.update(done=26, timed=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "entangled.sweep"]
    assert [line.split(" runs")[0] for line in lines] == [
        "sweep: 10/1000", "sweep: 20/1000", "sweep: 26/1000"]
    assert "1m26s elapsed" in lines[-1]


@pytest.fixture
def restore_logging():
    """Undo what the command line's ``logs.configure`` did (as in test_logging.py)."""
    from entangled import logs

    yield
    for name in logs.PACKAGES:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_entangled_cli", False)]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def test_a_sweep_in_a_log_file_writes_one_line_per_finished_run(tmp_path, capsys, restore_logging):
    """`entangled sweep` with stderr redirected (not a terminal): one INFO line per finished run
    with counts and ETA, and none of tqdm's bar."""
    from entangled.cli import main

    cfg = tmp_path / "configs.json"
    cfg.write_text(json.dumps([{"arch": "rnn", "task": "parity", "seed": s, "steps": 2,
                                "metrics": False, "task_options": {"length": 4}}
                               for s in range(2)]))
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "runs"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("sweep: ")]
    assert [line.split(" (")[0] for line in lines] == ["sweep: 1/2 runs done", "sweep: 2/2 runs done"]
    assert "1 trained now" in lines[0] and "ETA" in lines[0] and "\r" not in err
    assert "last finished: rnn/parity" in lines[-1]


def test_killed_sweep_resumes_and_loses_nothing(tmp_path):
    out = tmp_path / "runs"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_sweep import configs, slow_run
        from entangled.sweep import run_sweep
        run_sweep(configs(12), {str(out)!r}, run_fn=slow_run, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(list(out.glob("*.json"))) < 3:
            time.sleep(0.05)
        time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    done_before = {p.name: p.read_text() for p in out.glob("*.json")}
    assert 3 <= len(done_before) < 12
    for name in done_before:  # every file that exists is complete and valid
        assert check_result_file(out / name)[1] is None
    summary = run_sweep(configs(12), out, run_fn=slow_run, progress=False)
    assert summary.skipped == len(done_before) and summary.ran == 12 - len(done_before)
    assert summary.complete and not summary.corrupt
    assert all((out / n).read_text() == t for n, t in done_before.items())  # nothing redone
    assert sorted(r.config["seed"] for r in load_results(out, strict=True)) == list(range(12))
    assert not list(out.glob(".*.tmp"))


def test_the_validate_parameter_is_deprecated(tmp_path, recwarn):
    run_sweep(configs(1), tmp_path / "a", run_fn=quick_run, progress=False)
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
    with pytest.warns(DeprecationWarning, match=r"run_sweep\(validate=\.\.\.\) is deprecated"):
        summary = run_sweep(configs(1), tmp_path / "b", run_fn=quick_run, progress=False,
                            validate=False)
    assert summary.complete and summary.ran == 1  # no effect: the run is validated and runs


def test_the_old_names_are_importable_from_entangled_sweep():
    """The package re-exports every public name of the module it replaced (issue 24)."""
    import entangled.sweep as sweep
    from entangled.sweep import loop, planning, progress, results, summary, workers

    assert sweep.run_sweep is loop.run_sweep and sweep.SweepSummary is summary.SweepSummary
    assert sweep.plan is planning.plan and sweep.read_configs is planning.read_configs
    assert sweep.ProgressBar is progress.ProgressBar
    assert sweep.local_worker_limit is workers.local_worker_limit
    for name in ("load_results", "check_result_file", "read_result", "result_path",
                 "produced_differently", "remove_stray_temp_files", "set_aside"):
        assert getattr(sweep, name) is getattr(results, name), name
    assert sorted(sweep.__all__) == [
        "SweepSummary", "canonical_json", "check_result_file", "config_hash", "load_results",
        "read_configs", "result_path", "run_sweep", "write_json_atomic"]


def test_read_configs(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(configs(2)))
    assert read_configs(path) == configs(2)
    path.write_text(json.dumps({"arch": "rnn"}))
    with pytest.raises(ValueError, match="JSON list"):
        read_configs(path)
    path.write_text("[")
    with pytest.raises(ValueError, match="valid JSON"):
        read_configs(path)


def test_jobs_beyond_what_the_machine_holds_are_capped_with_a_warning(tmp_path, caplog, monkeypatch):
    import entangled.sweep.workers as workers

    monkeypatch.setattr(workers.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(workers, "available_memory_bytes", lambda: 100 * 2**30)
    assert workers.local_worker_limit() == 2
    monkeypatch.setattr(workers, "available_memory_bytes", lambda: 2**30)  # room for one
    assert workers.local_worker_limit() == 1
    with caplog.at_level("WARNING", logger="entangled.sweep"):
        summary = run_sweep(configs(2), tmp_path, run_fn=quick_run, jobs=1000, progress=False)
    assert summary.complete
    assert "jobs=1000 capped to 1" in caplog.text
