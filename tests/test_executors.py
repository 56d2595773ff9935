"""Executors: in-process, local worker processes (GPUs round-robin), a Dask cluster."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import sys
import time

import pytest
import torch

from entangled.errors import EntangledError
from entangled.process_tree import pid_alive
from entangled.sweep import load_results
from entangled.executors import (
    DaskExecutor,
    LocalExecutor,
    SerialExecutor,
    _init_local_worker,
    assign_gpu,
    device_for_worker,
    make_executor,
    scheduler_address,
)


def whoami(delay: float) -> tuple[int, str | None, int]:
    time.sleep(delay)
    return os.getpid(), os.environ.get("ENTANGLED_WORKER_DEVICE"), torch.get_num_threads()


def square(x: int) -> int:
    return x * x


# ---------------------------------------------------------------------------- GPUs
@pytest.mark.parametrize("count, expected", [
    (0, [None] * 5), (1, [None] * 5),
    (2, ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]),
    (3, ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]),
])
def test_device_for_worker_is_round_robin_over_several_gpus(count, expected):
    assert [device_for_worker(k, count) for k in range(5)] == expected


@pytest.fixture
def four_fake_gpus(monkeypatch):
    """torch sees 4 GPUs; set_device records instead of touching CUDA."""
    chosen: list[str] = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: chosen.append(str(d)))
    monkeypatch.delenv("ENTANGLED_WORKER_DEVICE", raising=False)
    threads = torch.get_num_threads()
    yield chosen
    torch.set_num_threads(threads)


def test_local_workers_take_the_gpus_round_robin(four_fake_gpus):
    counter = multiprocessing.get_context("spawn").Value("i", 0)
    for _ in range(6):  # what the initializer of 6 successive pool workers does
        _init_local_worker(counter)
        assert torch.get_num_threads() == 1
        assert os.environ["ENTANGLED_WORKER_DEVICE"] == four_fake_gpus[-1]
    assert four_fake_gpus == ["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0", "cuda:1"]


def test_one_gpu_or_none_leaves_the_default_device(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(d))
    for count in (0, 1):
        monkeypatch.setattr(torch.cuda, "device_count", lambda c=count: c)
        assert assign_gpu(3) is None
    assert calls == []


# ---------------------------------------------------------------------------- local
def test_serial_executor_runs_in_this_process_in_order():
    started = []
    with SerialExecutor() as ex:
        out = list(ex.map_unordered(whoami, [("a", (0,)), ("b", (0,))], on_start=started.append))
    assert started == ["a", "b"]
    assert [(k, v[0], e) for k, v, e in out] == [("a", os.getpid(), None), ("b", os.getpid(), None)]


def test_local_executor_uses_worker_processes_with_one_thread():
    with LocalExecutor(2) as ex:
        out = list(ex.map_unordered(whoami, [(k, (0.2,)) for k in range(4)]))
    assert sorted(k for k, _, _ in out) == [0, 1, 2, 3]
    assert all(e is None for _, _, e in out)
    pids = {v[0] for _, v, _ in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {v[2] for _, v, _ in out} == {1}


def test_shared_workers_keep_their_processes_from_one_call_to_the_next():
    from entangled.sweep.workers import shared_workers

    with shared_workers("local", 2) as ex:
        assert isinstance(ex, LocalExecutor) and ex.workers == 2
        first = {v[0] for _, v, _ in ex.map_unordered(whoami, [("a", (0,))])}
        assert set(ex._pool._processes) == first  # one call: one process started, not two
        assert all(e is None for _, _, e in ex.map_unordered(whoami, [(k, (0.1,)) for k in range(4)]))
        started = set(ex._pool._processes)
    assert first < started and len(started) == 2  # the same process again, and one more
    assert ex._pool is None


def test_shared_workers_pass_other_executors_through_and_stop_theirs_on_an_error():
    from entangled.sweep.workers import shared_workers

    for executor, jobs in (("local", 1), ("dask", 4)):
        with shared_workers(executor, jobs) as same:
            assert same == executor
    with pytest.raises(KeyboardInterrupt):
        with shared_workers("local", 2) as ex:
            processes = {v[0] for _, v, _ in ex.map_unordered(whoami, [("a", (0,))])}
            raise KeyboardInterrupt
    assert ex._pool is None
    for pid in processes:
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(pid)


def test_make_executor_checks_its_arguments(monkeypatch):
    assert isinstance(make_executor("local", jobs=1), SerialExecutor)
    assert isinstance(make_executor("local", jobs=3), LocalExecutor)
    ex = SerialExecutor()
    assert make_executor(ex) is ex
    with pytest.raises(EntangledError, match=r"executor='slurm'.*local, dask"):
        make_executor("slurm")
    with pytest.raises(EntangledError, match="jobs=0"):
        make_executor("local", jobs=0)
    with pytest.raises(EntangledError, match=r"--scheduler.*only with --executor dask"):
        make_executor("local", scheduler="tcp://x:1")
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with pytest.raises(EntangledError, match="DASK_SCHEDULER_ADDRESS"):
        scheduler_address(None)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.1:8786")
    assert scheduler_address(None) == "tcp://10.0.0.1:8786"
    assert scheduler_address("tcp://h:1") == "tcp://h:1"


# ---------------------------------------------------------------------------- dask
def test_dask_executor_without_dask_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # import fails
    with pytest.raises(EntangledError, match=r"pip install \"entangled\[dask\]\""):
        make_executor("dask", scheduler="tcp://127.0.0.1:1")


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.mark.dask
def test_dask_executor_runs_on_the_cluster_workers(dask_cluster, monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.scheduler_address)
    with make_executor("dask") as ex:
        assert ex.workers == 2
        out = list(ex.map_unordered(whoami, [(k, (0.1,)) for k in range(4)]))
    assert sorted(k for k, _, _ in out) == [0, 1, 2, 3]
    pids = {v[0] for _, v, _ in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {v[2] for _, v, _ in out} == {1}  # one torch thread per task


@pytest.mark.dask
def test_dask_executor_by_address_reports_failed_calls(dask_cluster):
    with DaskExecutor(dask_cluster.scheduler_address) as ex:
        out = dict((k, (v, e)) for k, v, e in ex.map_unordered(square, [(2, (2,)), (3, ("x",))]))
    assert out[2] == (4, None)
    assert out[3][0] is None and "TypeError" in out[3][1]


TINY = {"arch": "rnn", "task": "parity", "model": {"hidden": 4}, "steps": 3, "batch_size": 8,
        "eval_every": 3, "metrics": False, "device": "cpu",
        "task_options": {"n_train": 32, "n_test": 16}}


class TerminalStream(io.StringIO):
    def isatty(self):
        return True


def comparable(result) -> dict:
    """A run's result without what legitimately differs between processes (timing, pid)."""
    data = result.to_dict()
    for key in ("wall_time_s", "environment"):
        data.pop(key, None)
    return data


@pytest.mark.dask
def test_a_sweep_on_dask_equals_the_local_sweep_and_resumes(dask_cluster, tmp_path, capsys,
                                                          monkeypatch):
    from entangled.cli import main
    from entangled.sweep import result_path, run_sweep

    runs = [dict(TINY, family=f, seed=s) for f in ("identity", "orthogonal") for s in (0, 1)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in every worker
    try:
        local = run_sweep(runs, tmp_path / "local", progress=False)
    finally:
        torch.set_num_threads(threads)
    terminal = TerminalStream()  # the progress bar draws on a terminal only
    stderr, sys.stderr = sys.stderr, terminal
    try:
        on_dask = run_sweep(runs, tmp_path / "dask", executor="dask", progress=True,
                            scheduler=dask_cluster.scheduler_address)
    finally:
        sys.stderr = stderr
    assert local.complete and on_dask.complete and on_dask.ran == 4
    assert "4/4" in terminal.getvalue()  # the same progress bar
    expected = [comparable(r) for r in load_results(tmp_path / "local", strict=True)]
    got = load_results(tmp_path / "dask", strict=True)
    assert [comparable(r) for r in got] == expected
    assert {r.environment["torch_threads"] for r in got} == {1}
    # the same result store: the CLI on Dask (address from the environment) resumes it
    result_path(tmp_path / "dask", on_dask.hashes[2]).unlink()
    path = tmp_path / "configs.json"
    path.write_text(json.dumps(runs))
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", dask_cluster.scheduler_address)
    assert main(["sweep", str(path), "--out", str(tmp_path / "dask"), "--executor", "dask",
                 "--no-progress"]) == 0
    assert "3 already done, 1 run now" in capsys.readouterr().out
    assert [comparable(r) for r in load_results(tmp_path / "dask", strict=True)] == expected


@pytest.mark.dask
def test_seed_batches_on_dask_equal_the_local_seed_batches(dask_cluster, tmp_path):
    """--seed-batching on ships each batch to one Dask worker; its results are those of the
    runs trained locally (a run's numbers depend neither on its batch nor on where it runs)."""
    from entangled.sweep import run_sweep

    runs = [dict(TINY, family=f, seed=s, skip_seed=s) for f in ("identity", "orthogonal")
            for s in (0, 1, 2)]
    local = run_sweep(runs, tmp_path / "local", progress=False, seed_batching="on")
    on_dask = run_sweep(runs, tmp_path / "dask", executor="dask", progress=False,
                        scheduler=dask_cluster.scheduler_address, seed_batching="on")
    assert local.complete and on_dask.complete and on_dask.ran == 6
    got = load_results(tmp_path / "dask", strict=True)
    here = load_results(tmp_path / "local", strict=True)
    assert {r.environment["seed_batch"] for r in here} == {6}  # both families in one batch
    # on the cluster's two workers the batch is halved (balanced_batches: two halves on two
    # workers end sooner than the whole on one)
    assert {r.environment["seed_batch"] for r in got} == {3}
    assert ([comparable(r) for r in got]
            == [comparable(r) for r in here])


@pytest.mark.dask
def test_report_command_trains_on_dask(dask_cluster, tmp_path, capsys, monkeypatch):
    import entangled.sweep
    from entangled.cli import main
    from test_sweep import quick_run

    real, seen = entangled.sweep.run_sweep, []

    def fake_training(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **dict(kwargs, run_fn=quick_run))

    monkeypatch.setattr(entangled.sweep, "run_sweep", fake_training)
    out = tmp_path / "report"
    assert main(["report", "--preset", "smoke", "--out", str(out), "--shard", "1/16",
                 "--executor", "dask", "--scheduler", dask_cluster.scheduler_address,
                 "--no-progress"]) == 0
    from run_fakes import smoke_shard_size

    expected = smoke_shard_size("1/16")
    assert f"shard 1/16: {expected} runs" in capsys.readouterr().out
    assert seen[0]["executor"] == "dask"
    assert seen[0]["scheduler"] == dask_cluster.scheduler_address
    results = load_results(out / "runs", strict=True)
    assert len(results) == expected and os.getpid() not in {r.environment["pid"] for r in results}
