"""Several sweeps on one result directory: shards, claims, concurrent sweeps train each run once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from entangled.cli import main
from entangled.store import ClaimPolicy, claim_path, release, try_claim, write_result
from entangled.sweep import config_hash, load_results, run_sweep
from entangled.train import RunConfig

sys.path.insert(0, str(Path(__file__).parent))
from test_sweep import configs, fake_result, quick_run
from run_fakes import smoke_shard_size

LOG_ENV = "ENTANGLED_TEST_TRAIN_LOG"
POLICY = ClaimPolicy(heartbeat_s=0.1, stale_after_s=30, poll_s=0.05)


def logged_run(config: dict):
    """A fake run that appends '<hash> <pid>' to the file named by $ENTANGLED_TEST_TRAIN_LOG."""
    with open(os.environ[LOG_ENV], "a", encoding="utf-8") as fh:
        fh.write(f"{config_hash(config)} {os.getpid()}\n")
    time.sleep(0.3)
    return fake_result(config)


def trained(log: Path) -> Counter:
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter(line.split()[0] for line in lines)


@pytest.fixture
def train_log(tmp_path, monkeypatch):
    log = tmp_path / "trained.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    return log


def test_two_concurrent_sweeps_train_each_run_exactly_once(tmp_path, train_log):
    out, n = tmp_path / "runs", 10
    script = textwrap.dedent(f"""
        import json, sys, time
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_shared_store import POLICY, logged_run
        from test_sweep import configs
        from entangled.sweep import run_sweep
        Path(sys.argv[1]).touch()
        while not all(Path(p).exists() for p in sys.argv[2:]):  # start together
            time.sleep(0.01)
        summary = run_sweep(configs({n}), {str(out)!r}, run_fn=logged_run, progress=False,
                            claims=POLICY)
        print(json.dumps(summary.to_dict()))
    """)
    ready = [str(tmp_path / f"ready{i}") for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", script, ready[i], *ready],
                              stdout=subprocess.PIPE, text=True) for i in range(2)]
    try:
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0]
    summaries = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    counts = trained(train_log)
    assert set(counts) == {config_hash(c) for c in configs(n)}
    assert set(counts.values()) == {1}  # every run trained exactly once
    assert sum(s["ran"] for s in summaries) == n
    assert all(s["ran"] >= 1 for s in summaries)  # both sweeps did train
    for s in summaries:  # and each saw the whole sweep done when it returned
        assert s["skipped"] + s["ran"] + s["done_elsewhere"] == n and not s["failed"]
    assert len(load_results(out, strict=True)) == n
    assert not list((out / ".claims").iterdir())


def test_shards_split_the_runs_and_together_cover_them(tmp_path):
    runs = configs(7)
    first = run_sweep(runs, tmp_path, run_fn=quick_run, progress=False, shard="1/3")
    assert first.shard == "1/3" and first.complete and first.ran == first.total
    digests = sorted(config_hash(c) for c in runs)
    assert set(first.hashes) == set(digests[0::3])
    done = {r.config_hash for r in load_results(tmp_path)}
    assert done == set(digests[0::3])
    for index in (2, 3):
        run_sweep(runs, tmp_path, run_fn=quick_run, progress=False, shard=f"{index}/3")
    assert {r.config_hash for r in load_results(tmp_path)} == set(digests)
    again = run_sweep(runs, tmp_path, run_fn=quick_run, progress=False)
    assert again.ran == 0 and again.skipped == 7


def test_a_stale_claim_of_a_dead_host_is_taken_over(tmp_path, train_log):
    runs = configs(3)
    digest = config_hash(runs[0])
    path = claim_path(tmp_path, digest)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"host": "dead-host", "pid": 1, "token": "x", "created": 0}))
    past = time.time() - 3600
    os.utime(path, (past, past))
    summary = run_sweep(runs, tmp_path, run_fn=logged_run, progress=False,
                        claims=ClaimPolicy(heartbeat_s=1, stale_after_s=60))
    assert summary.ran == 3 and summary.complete
    assert trained(train_log)[digest] == 1
    assert not path.exists()


def hold_claim_then_finish(out: Path, config: dict, after_s: float) -> threading.Thread:
    """Another 'sweep' holding ``config``'s claim (fresh heartbeat), writing its result later."""
    claim = try_claim(out, config_hash(config), POLICY)
    assert claim is not None

    def finish():
        deadline = time.time() + after_s
        while time.time() < deadline:
            os.utime(claim.path)
            time.sleep(0.05)
        data = fake_result(RunConfig.from_dict(config).to_dict()).to_dict()
        write_result(out, config_hash(config), data)  # as a sweep writes it: digest, then file
        release(claim)

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_a_sweep_waits_for_a_run_claimed_by_a_live_sweep(tmp_path, train_log):
    runs = configs(3)
    other = hold_claim_then_finish(tmp_path, runs[0], after_s=1.0)
    summary = run_sweep(runs, tmp_path, run_fn=logged_run, progress=False, claims=POLICY)
    other.join()
    assert summary.complete and summary.ran == 2 and summary.done_elsewhere == 1
    assert config_hash(runs[0]) not in trained(train_log)  # never trained here
    assert len(load_results(tmp_path, strict=True)) == 3


def test_without_waiting_a_sweep_lists_the_runs_claimed_elsewhere(tmp_path, train_log):
    runs = configs(3)
    claim = try_claim(tmp_path, config_hash(runs[1]), POLICY)
    try:
        summary = run_sweep(runs, tmp_path, run_fn=logged_run, progress=False, claims=POLICY,
                            wait=False)
    finally:
        release(claim)
    assert summary.ran == 2 and not summary.complete
    assert summary.claimed_elsewhere == [config_hash(runs[1])]
    assert config_hash(runs[1]) not in trained(train_log)


TINY = {"arch": "rnn", "task": "parity", "model": {"hidden": 4}, "steps": 2, "batch_size": 8,
        "metrics": False, "device": "cpu", "task_options": {"n_train": 16, "n_test": 8}}


def test_sweep_command_takes_a_shard(tmp_path, capsys):
    path = tmp_path / "configs.json"
    path.write_text(json.dumps([dict(TINY, seed=s) for s in range(3)]))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--shard", "2/2", "--no-progress"]) == 0
    assert "1 runs (shard 2/2)" in capsys.readouterr().out
    assert len(list(out.glob("*.json"))) == 1
    assert main(["sweep", str(path), "--out", str(out), "--shard", "3/2"]) == 2
    assert "invalid shard='3/2'" in capsys.readouterr().err
    assert main(["sweep", str(path), "--out", str(out), "--scheduler", "tcp://h:1"]) == 2
    assert "only with --executor dask" in capsys.readouterr().err


def test_report_command_with_a_shard_trains_its_share_and_renders_nothing(tmp_path, capsys,
                                                                         monkeypatch):
    import entangled.sweep

    real = entangled.sweep.run_sweep
    monkeypatch.setattr(entangled.sweep, "run_sweep",
                        lambda *a, **kw: real(*a, **dict(kw, run_fn=quick_run)))
    out = tmp_path / "report"
    assert main(["report", "--preset", "smoke", "--out", str(out), "--shard", "3/16",
                 "--no-progress", "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "entangled report --preset smoke" in printed
    expected = smoke_shard_size("3/16")
    assert f"shard 3/16: {expected} runs" in printed and expected >= 1
    assert len(list((out / "runs").glob("*.json"))) == expected
    assert not (out / "index.html").exists()


def test_temp_files_of_runs_with_a_live_claim_are_left_alone(tmp_path):
    """A sweep starting on a shared directory removes temp files left by killed writers, but
    not one whose run has a live claim: that may be another sweep's write in flight."""
    # temp names carry the writer's pid; both writers here are dead processes (of this host,
    # or of another host sharing the directory: the claim decides)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    in_flight = tmp_path / f".aaaa.{dead}.x1.tmp"
    garbage = tmp_path / f".bbbb.{dead}.x2.tmp"
    for path in (in_flight, garbage):
        path.write_text("{")
    claim = try_claim(tmp_path, "aaaa", POLICY)
    run_sweep([], tmp_path, run_fn=quick_run, progress=False, claims=POLICY)
    assert in_flight.exists() and not garbage.exists()
    release(claim)
    run_sweep([], tmp_path, run_fn=quick_run, progress=False, claims=POLICY)
    assert not in_flight.exists()

