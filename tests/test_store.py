"""Shared result stores: shards split a sweep exactly, claims make each run exclusive."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entangled.errors import EntangledError
from entangled.store import (
    CLAIMED_ELSEWHERE,
    DONE_ELSEWHERE,
    RAN,
    ClaimPolicy,
    Shard,
    claim_path,
    heartbeat,
    heartbeating,
    is_stale,
    parse_shard,
    pid_alive,
    read_claim,
    release,
    run_once,
    try_claim,
)

FAST = ClaimPolicy(heartbeat_s=0.05, stale_after_s=0.5, poll_s=0.05)


def hashes(n: int) -> list[str]:
    return [f"{i:016x}" for i in range(n)]


# ---------------------------------------------------------------------------- shards
@given(n_runs=st.integers(0, 60), count=st.integers(1, 9), data=st.data())
def test_shards_partition_the_runs_evenly_whatever_the_order(n_runs, count, data):
    digests = hashes(n_runs)
    shuffled = data.draw(st.permutations(digests))
    parts = [Shard(i, count).select(digests) for i in range(1, count + 1)]
    assert set().union(*parts) == set(digests)  # every run in a shard...
    assert sum(len(p) for p in parts) == n_runs  # ...and in only one
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert [Shard(i, count).select(shuffled) for i in range(1, count + 1)] == parts


def test_shard_selection_is_round_robin_over_sorted_hashes():
    digests = ["c", "a", "e", "b", "d"]
    assert Shard(1, 2).select(digests) == {"a", "c", "e"}
    assert Shard(2, 2).select(digests) == {"b", "d"}
    assert Shard(1, 1).select(digests) == set(digests)


@pytest.mark.parametrize("text, expected", [("1/1", Shard(1, 1)), ("2/4", Shard(2, 4)),
                                            (" 3/3 ", Shard(3, 3)), (None, None), ("", None)])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2", "1.5/2"])
def test_bad_shard_names_the_parameter_and_the_rule(text):
    with pytest.raises(EntangledError, match=r"shard.*1 <= I <= N"):
        parse_shard(text)


@pytest.mark.parametrize("kwargs, name", [({"heartbeat_s": 0}, "heartbeat_s"),
                                          ({"heartbeat_s": 5, "stale_after_s": 5}, "stale_after_s"),
                                          ({"poll_s": -1}, "poll_s")])
def test_bad_claim_policy(kwargs, name):
    with pytest.raises(EntangledError, match=name):
        ClaimPolicy(**kwargs)


# ---------------------------------------------------------------------------- claims
def test_a_claim_is_exclusive_until_released(tmp_path):
    first = try_claim(tmp_path, "abc", FAST)
    assert first is not None and first.pid == os.getpid()
    holder = read_claim(tmp_path, "abc")
    assert holder["host"] == socket.gethostname() and holder["pid"] == os.getpid()
    assert holder["token"] == first.token
    assert try_claim(tmp_path, "abc", FAST) is None  # a live holder: refused
    assert try_claim(tmp_path, "other", FAST) is not None  # other runs are independent
    release(first)
    assert not claim_path(tmp_path, "abc").exists()
    assert try_claim(tmp_path, "abc", FAST) is not None


def test_claim_files_are_not_result_files(tmp_path):
    try_claim(tmp_path, "abc", FAST)
    assert list(tmp_path.glob("*.json")) == []
    assert claim_path(tmp_path, "abc").parent == tmp_path / ".claims"


def test_a_claim_without_heartbeat_goes_stale_and_is_taken_over(tmp_path):
    old = try_claim(tmp_path, "abc", FAST)
    past = time.time() - 10 * FAST.stale_after_s
    os.utime(claim_path(tmp_path, "abc"), (past, past))
    new = try_claim(tmp_path, "abc", FAST)
    assert new is not None and new.token != old.token
    assert read_claim(tmp_path, "abc")["token"] == new.token
    assert not heartbeat(old)  # the old holder learns it lost the claim...
    release(old)  # ...and its release does not delete the new claim
    assert read_claim(tmp_path, "abc")["token"] == new.token


def test_heartbeat_keeps_a_claim_alive(tmp_path):
    claim = try_claim(tmp_path, "abc", FAST)
    path = claim_path(tmp_path, "abc")
    past = time.time() - 10 * FAST.stale_after_s
    with heartbeating(claim, FAST.heartbeat_s):
        os.utime(path, (past, past))
        time.sleep(6 * FAST.heartbeat_s)
        assert time.time() - path.stat().st_mtime < FAST.stale_after_s
        assert try_claim(tmp_path, "abc", FAST) is None


def test_a_claim_of_a_dead_local_process_is_stale_at_once(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(proc.stdout)
    assert not pid_alive(dead_pid) and pid_alive(os.getpid())
    path = claim_path(tmp_path, "abc")
    path.parent.mkdir()
    record = {"host": socket.gethostname(), "pid": dead_pid, "token": "t", "created": 0}
    path.write_text(json.dumps(record))
    policy = ClaimPolicy(heartbeat_s=60, stale_after_s=3600)
    content, mtime_ns = path.read_bytes(), path.stat().st_mtime_ns
    assert is_stale(content, mtime_ns, policy)
    # the same pid on another host says nothing: only the mtime can tell
    assert not is_stale(content, mtime_ns, policy, host="some-other-host")
    assert is_stale(content, mtime_ns, policy, host="some-other-host", now=time.time() + 7200)
    assert try_claim(tmp_path, "abc", policy) is not None


def test_an_unreadable_claim_is_stale_only_after_a_heartbeat(tmp_path):
    policy = ClaimPolicy(heartbeat_s=10, stale_after_s=100)
    now = time.time()
    assert not is_stale(b"{trunc", int(now * 1e9), policy, now=now + 5)
    assert is_stale(b"{trunc", int(now * 1e9), policy, now=now + 11)


def test_racing_takeovers_of_one_stale_claim_have_one_winner(tmp_path):
    try_claim(tmp_path, "abc", FAST)
    past = time.time() - 10 * FAST.stale_after_s
    os.utime(claim_path(tmp_path, "abc"), (past, past))
    barrier = threading.Barrier(8)
    won = []

    def take():
        barrier.wait()
        claim = try_claim(tmp_path, "abc", FAST)
        if claim is not None:
            won.append(claim)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert read_claim(tmp_path, "abc")["token"] == won[0].token
    assert not list((tmp_path / ".claims").glob("*.takeover"))


# ---------------------------------------------------------------------------- run_once
def test_run_once_claims_checks_works_and_releases(tmp_path):
    done = set()

    def work():
        assert read_claim(tmp_path, "abc") is not None  # held while working
        done.add("abc")
        return 42

    assert run_once(tmp_path, "abc", lambda: "abc" in done, work, FAST) == (RAN, 42)
    assert read_claim(tmp_path, "abc") is None
    assert run_once(tmp_path, "abc", lambda: "abc" in done, work, FAST) == (DONE_ELSEWHERE, None)


def test_run_once_leaves_a_run_held_by_another_alone(tmp_path):
    other = try_claim(tmp_path, "abc", FAST)
    calls = []
    assert run_once(tmp_path, "abc", lambda: False, lambda: calls.append(1), FAST) == (
        CLAIMED_ELSEWHERE, None)
    assert calls == [] and read_claim(tmp_path, "abc")["token"] == other.token


def test_run_once_releases_the_claim_when_the_work_fails(tmp_path):
    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_once(tmp_path, "abc", lambda: False, boom, FAST)
    assert read_claim(tmp_path, "abc") is None


def test_grouped_shards_deal_whole_groups_and_cover_every_run():
    from entangled.store import Shard

    groups = {f"h{i}": f"k{i % 4}" for i in range(12)}  # 4 groups of 3
    chosen = [Shard(i, 3).select_groups(groups) for i in (1, 2, 3)]
    assert set().union(*chosen) == set(groups)
    assert sum(map(len, chosen)) == len(groups)  # disjoint
    for part in chosen:  # whole groups only
        keys = {groups[h] for h in part}
        assert part == {h for h, k in groups.items() if k in keys}
    assert sorted(len({groups[h] for h in part}) for part in chosen) == [1, 1, 2]
