"""What one executor call of a sweep does: train runs under their claims and write their
result files.

A call is a group of runs (:func:`execute_group`): one run, or with seed batching the runs
that differ only in their seeds. Each run is trained only while this sweep holds its claim
file (:mod:`entangled.store`), so sweeps sharing a result directory never train a run twice;
each result is checked and written atomically as soon as its run finishes. Every function
returns ``(hash, status, error)`` per run: ``status`` is the run's status, or
:data:`~entangled.store.CLAIMED_ELSEWHERE` / :data:`~entangled.store.DONE_ELSEWHERE`;
``error`` the one-line message of a run that raised (the sweep goes on).
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from typing import Any, Callable

from entangled import batched as batching  # looked up per call (tests stand in for fit_batch)
from entangled.errors import EntangledError
from entangled.runs import RunResult, RunSpec, result_from_json
from entangled.store import (CLAIMED_ELSEWHERE, DONE_ELSEWHERE, RAN, ClaimPolicy, heartbeating,
                             release, run_once, try_claim, write_result)
from entangled.sweep.results import check_result_file, result_path

#: The sweep's logger (one name for every module of :mod:`entangled.sweep`).
LOGGER = logging.getLogger("entangled.sweep")

#: ``(hash, status, error)`` of one run.
Outcome = tuple[str, "str | None", "str | None"]


def execute(run_fn: Callable, spec: RunSpec, out_dir: str, digest: str
             ) -> Outcome:
    """Run one spec and write its validated result file; return ``(hash, status, error)``."""
    try:
        return write_run_result(run_fn(spec), out_dir, digest)
    except Exception as exc:  # a crashing run is reported and the sweep goes on
        return digest, None, one_line(exc)


def one_line(exc: BaseException) -> str:
    """The exception as one line: its type and message."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def write_run_result(result: Any, out_dir: str, digest: str) -> Outcome:
    """Validate ``result`` (a RunResult or its JSON dict) as the result of run ``digest`` and
    write it atomically; return ``(hash, status, None)``."""
    if not isinstance(result, RunResult):
        result = result_from_json(result)
    if result.config_hash != digest:
        raise EntangledError(f"run function returned a result for another spec "
                             f"(hash {result.config_hash}, expected {digest})")
    data = result.to_dict()
    result_from_json(data)  # the value ranges of what is written
    write_result(out_dir, digest, data)  # its digest first, then the file
    return digest, result.status, None


def execute_claimed(run_fn: Callable, spec: RunSpec, out_dir: str, digest: str,
                     policy: ClaimPolicy) -> Outcome:
    """:func:`execute` under the run's claim (:func:`entangled.store.run_once`).

    Returns ``execute``'s ``(hash, status, error)``, or ``(hash, CLAIMED_ELSEWHERE, None)``
    while another sweep trains the run, or ``(hash, DONE_ELSEWHERE, None)`` once it has.
    """
    path = result_path(out_dir, digest)

    def is_done() -> bool:
        return path.exists() and check_result_file(path, spec)[0] is not None

    outcome, value = run_once(out_dir, digest, is_done,
                              lambda: execute(run_fn, spec, out_dir, digest), policy)
    return value if outcome == RAN and value is not None else (digest, outcome, None)


def execute_group(run_fn: Callable, members: list[tuple[str, RunSpec]], out_dir: str,
                   policy: ClaimPolicy, batched: bool) -> list[Outcome]:
    """The work of one executor call: ``(hash, status, error)`` per member run.

    Unbatched (one member): :func:`execute_claimed`. Batched (runs that differ only in their
    seeds): each run is claimed (:func:`entangled.store.try_claim`); those claimed or finished
    elsewhere are reported as such and left out; the rest train as one seed batch
    (:func:`entangled.batched.fit_batch`) while their claims are heartbeaten, and each result
    is written atomically as soon as its run finishes (a run that stops early is safe before
    the batch ends). If the batch fails, its unfinished runs are trained one at a time, so a
    run that cannot be batched still runs and a crashing one is reported alone.
    """
    if not batched:
        return [execute_claimed(run_fn, spec, out_dir, digest, policy) for digest, spec in members]
    outcomes: dict[str, Outcome] = {}
    claims, mine = [], []
    try:
        for digest, spec in members:
            claim = try_claim(out_dir, digest, policy)
            if claim is None:
                outcomes[digest] = (digest, CLAIMED_ELSEWHERE, None)
                continue
            path = result_path(out_dir, digest)
            if path.exists() and check_result_file(path, spec)[0] is not None:
                release(claim)
                outcomes[digest] = (digest, DONE_ELSEWHERE, None)
            else:
                claims.append(claim)
                mine.append((digest, spec))
        if mine:
            with contextlib.ExitStack() as beats:
                for claim in claims:
                    beats.enter_context(heartbeating(claim, policy.heartbeat_s))
                outcomes.update(train_batch(run_fn, mine, out_dir))
    finally:
        for claim in claims:
            release(claim)
    return [outcomes[digest] for digest, _ in members]


def train_batch(run_fn: Callable, members: list[tuple[str, RunSpec]], out_dir: str
                 ) -> dict[str, Outcome]:
    """Train ``members`` as one seed batch, writing each result as its run finishes; if the
    batch fails, train its unfinished runs one at a time with ``run_fn``."""
    outcomes: dict[str, Outcome] = {}

    def write(index: int, result: RunResult) -> None:
        digest = members[index][0]
        try:
            outcomes[digest] = write_run_result(result, out_dir, digest)
        except Exception as exc:
            outcomes[digest] = (digest, None, one_line(exc))

    try:
        batching.fit_batch([spec for _, spec in members], on_result=write)
    except Exception as exc:
        LOGGER.warning("seed batch of %d runs (%s) failed (%s); training the rest one at a time",
                       len(members), members[0][1].label(), one_line(exc))
        for digest, spec in members:
            if digest not in outcomes:
                outcomes[digest] = execute(run_fn, spec, out_dir, digest)
    return outcomes
