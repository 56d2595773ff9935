"""The sweep loop: :func:`run_sweep` plans the runs, sorts out the result files already
there, and executes the rest (in this process, local workers or on a cluster), round after
round while other sweeps on the same directory hold some of them."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from entangled.batched import SEED_BATCHING, batch_groups, use_seed_batching
from entangled.cost import batch_seconds
from entangled.errors import InvalidParameterError
from entangled.executors import check_executor, make_executor
from entangled.mappings.params import check_positive_int
from entangled.runs import RunSpec, RunStatus
from entangled.store import (CLAIMED_ELSEWHERE, DONE_ELSEWHERE, ClaimPolicy, adopt_store,
                             parse_shard)
from entangled.sweep.execute import Outcome, execute_group
from entangled.sweep.planning import plan, shard_of
from entangled.sweep.progress import ProgressBar
from entangled.sweep.results import (check_result_file, prepare_out_dir, produced_differently,
                                     remove_stray_temp_files, result_path, set_aside,
                                     supersede_directory)
from entangled.sweep.summary import SweepSummary
from entangled.sweep.workers import capped_jobs
from entangled.train import fit

#: The sweep's logger (one name for every module of :mod:`entangled.sweep`).
LOGGER = logging.getLogger("entangled.sweep")


def run_sweep(configs: Iterable[Any], out_dir: str | os.PathLike, *, jobs: int = 1,
              progress: bool = True, run_fn: Callable | None = None,
              validate: bool | None = None, executor: Any = "local",
              scheduler: str | None = None, shard: Any = None,
              claims: ClaimPolicy | None = None, wait: bool = True,
              seed_batching: str = "auto") -> SweepSummary:
    """Run every config into ``out_dir`` (one ``<config_hash>.json`` per run), resumably.

    Parameters
    ----------
    configs : :class:`~entangled.runs.RunSpec` or :class:`~entangled.train.RunConfig`
        objects or dicts of their fields; every one is validated before anything runs (and
        before ``out_dir`` is created); duplicates (equal hash) run once.
    out_dir : result directory (created if missing).
    jobs : worker processes; ``1`` runs in this process. Workers are started with
        ``forkserver`` (``spawn`` where unavailable), so ``run_fn`` must be a picklable
        module-level function. Every run fixes its own thread count (the spec's
        ``budget.threads``), so the numbers do not depend on ``jobs``.
    progress : draw a progress bar on stderr.
    run_fn : ``RunSpec -> RunResult`` (or its JSON dict); default :func:`entangled.train.fit`.
    validate : deprecated, has no effect (specs are always validated); passing it warns.
    executor : ``"local"`` (``jobs`` processes on this machine, GPUs round-robin),
        ``"dask"`` (the cluster at ``scheduler``, default ``$DASK_SCHEDULER_ADDRESS``) or an
        executor object (:mod:`entangled.executors`, e.g. a ``DaskExecutor(client=...)``).
    scheduler : Dask scheduler address, with ``executor="dask"``.
    shard : ``"I/N"`` or a :class:`~entangled.store.Shard`: run only shard I of N
        (:meth:`Shard.select`; with seed batching, whole batches: :meth:`Shard.select_groups`,
        so every shard of one store must use the same ``seed_batching``); ``None``: every run.
    claims : timing of the claim files (:class:`~entangled.store.ClaimPolicy`; default
        heartbeat 30 s, stale after 300 s, poll 10 s).
    wait : when another sweep on the same directory is training some of this sweep's runs,
        wait for them (polling every ``claims.poll_s``; a claim gone stale is taken over);
        ``False``: return and list them in ``claimed_elsewhere``.
    seed_batching : ``"on"``: runs that differ only in their seeds train as one batched
        model (:func:`entangled.batched.fit_batch`; same hashes, same result files, numbers
        equal up to float rounding); ``"off"``: one run at a time; ``"auto"`` (default): on
        when the runs resolve to CUDA here (where it pays; on a CPU the gain is about 1.2x,
        ``benchmarks/bench_seed_batch.py``). Needs the default ``run_fn``.

    Returns
    -------
    SweepSummary
    """
    if validate is not None:
        warnings.warn("run_sweep(validate=...) is deprecated and has no effect (specs are "
                      "always validated); it will be removed in entangled 0.2",
                      DeprecationWarning, stacklevel=2)
    run_fn = _checked_run_fn(run_fn, seed_batching)
    jobs = check_positive_int("jobs", jobs, context="run_sweep")
    parsed_shard = parse_shard(shard)
    check_executor(executor, scheduler)
    if executor == "local":
        jobs = capped_jobs(jobs)
    policy = claims if claims is not None else ClaimPolicy()
    start = time.perf_counter()
    ordered = plan(configs)
    out = Path(out_dir)
    prepare_out_dir(out)
    remove_stray_temp_files(out, policy)
    batched = run_fn is fit and use_seed_batching(seed_batching, list(ordered.values()))
    ordered = shard_of(ordered, parsed_shard, batched)
    summary = SweepSummary(out_dir=str(out), total=len(ordered), hashes=list(ordered),
                           shard=None if parsed_shard is None else str(parsed_shard))
    _open_store(out, summary)
    todo = _sort_existing(out, ordered, summary)
    bar = ProgressBar(summary.total, enabled=progress)
    bar.update(done=summary.skipped, current="resuming" if summary.skipped else "starting")
    sweep = _Execution(ordered, out, summary, bar, run_fn, policy, batched)
    try:
        sweep.run(todo, executor=executor, jobs=jobs, scheduler=scheduler, wait=wait)
    finally:
        bar.close()
        summary.wall_time_s = time.perf_counter() - start
    return summary


def _checked_run_fn(run_fn: Callable | None, seed_batching: str) -> Callable:
    """``run_fn`` (default :func:`entangled.train.fit`), checked against ``seed_batching``."""
    if seed_batching not in SEED_BATCHING:
        raise InvalidParameterError("seed_batching", seed_batching,
                                    "one of " + ", ".join(map(repr, SEED_BATCHING)))
    if seed_batching == "on" and run_fn is not None and run_fn is not fit:
        raise InvalidParameterError("seed_batching", seed_batching,
                                    "'auto' or 'off' with a custom run_fn (batching trains with "
                                    "entangled.train's own loop)")
    return fit if run_fn is None else run_fn


def _open_store(out: Path, summary: SweepSummary) -> None:
    """Move the files of an earlier schema aside and adopt a store written before manifests
    (recording the digests of its files as they are now)."""
    supersede_directory(out, summary)
    summary.adopted = adopt_store(out)
    if summary.adopted:
        LOGGER.warning(f"result store {out} had no manifest (written before digests were "
                       f"recorded): recorded the digests of its {summary.adopted} result files "
                       "as they are now; edits made from now on are detected, earlier ones "
                       "cannot be")


def _sort_existing(out: Path, ordered: dict[str, RunSpec], summary: SweepSummary
                   ) -> list[tuple[str, RunSpec]]:
    """The runs still to train: those without a result file, and those whose file is invalid
    or was produced differently (moved aside, counted in ``summary``). Valid files count as
    skipped."""
    todo: list[tuple[str, RunSpec]] = []
    for digest, spec in ordered.items():
        path = result_path(out, digest)
        if not path.exists():
            todo.append((digest, spec))
            continue
        result, reason = check_result_file(path, spec)
        stale = produced_differently(result) if result is not None else None
        if result is None or stale is not None:
            kind = "invalid" if result is None else "stale"
            moved = set_aside(path, kind)
            LOGGER.warning(f"{kind} result file {path} ({reason or stale}); moved to {moved} "
                           "and running it again")
            (summary.corrupt if result is None else summary.stale).append(
                {"path": str(path), "reason": str(reason or stale), "moved_to": str(moved)})
            todo.append((digest, spec))
        else:
            summary.skipped += 1
            if result.status == RunStatus.DIVERGED:
                summary.diverged.append(digest)
    return todo


def longest_first(groups: list[list[tuple[str, RunSpec]]]) -> list[list[tuple[str, RunSpec]]]:
    """The batches in order of their estimated training time, longest first
    (:func:`entangled.cost.batch_seconds`; ties keep their order), so that the workers finish
    together rather than one waiting for a long last batch (the longest-processing-time rule)."""
    cost = [batch_seconds([spec for _, spec in group]) for group in groups]
    order = sorted(range(len(groups)), key=lambda i: -cost[i])
    return [groups[i] for i in order]


def lpt_finish_times(costs: Sequence[float], workers: int) -> list[float]:
    """When each batch finishes when ``costs`` are started in order, each on the first
    worker free (``workers`` of them, all free at 0)."""
    free = [0.0] * max(1, workers)
    finished = []
    for cost in costs:
        at = min(range(len(free)), key=free.__getitem__)
        free[at] += cost
        finished.append(free[at])
    return finished


def balanced_batches(groups: list[list[tuple[str, RunSpec]]], workers: int, *,
                     max_splits: int = 8) -> list[list[tuple[str, RunSpec]]]:
    """:func:`longest_first`, with the batch that would finish last halved as long as that
    ends the round sooner by the estimate (:func:`entangled.cost.batch_seconds`, scheduled by
    :func:`lpt_finish_times`): a few large batches on fewer workers than batches leave one
    worker alone with the last batch, and two halves on two workers end sooner than the
    whole on one, though batching each half saves less. At most ``max_splits`` halvings."""
    def finish_times(batches: list[list[tuple[str, RunSpec]]]) -> list[float]:
        return lpt_finish_times([batch_seconds([s for _, s in b]) for b in batches], workers)

    ordered = longest_first(groups)
    finish = finish_times(ordered)
    for _ in range(max_splits if workers > 1 else 0):
        last = max(range(len(ordered)), key=finish.__getitem__)
        batch = ordered[last]
        if len(batch) < 2:
            break
        half = (len(batch) + 1) // 2
        trial = longest_first(ordered[:last] + [batch[:half], batch[half:]] + ordered[last + 1:])
        trial_finish = finish_times(trial)
        if max(trial_finish) >= max(finish) * 0.99:  # not worth it (<1%)
            break
        ordered, finish = trial, trial_finish
    return ordered


class _Execution:
    """The runs of one :func:`run_sweep` call that are left to train, executed and recorded
    into its summary and progress bar."""

    def __init__(self, ordered: dict[str, RunSpec], out: Path, summary: SweepSummary,
                 bar: ProgressBar, run_fn: Callable, policy: ClaimPolicy, batched: bool):
        self.ordered, self.out, self.summary, self.bar = ordered, out, summary, bar
        self.run_fn, self.policy, self.batched = run_fn, policy, batched
        self.finished = summary.skipped

    def label(self, digest: str) -> str:
        return self.ordered[digest].label()

    def run(self, todo: list[tuple[str, RunSpec]], *, executor: Any, jobs: int,
            scheduler: str | None, wait: bool) -> None:
        """Execute ``todo`` round after round: a round leaves the runs another sweep holds;
        wait for them (``wait``) or list them in ``claimed_elsewhere``. The executor is
        created only when there is something to run, and stopped at once on Ctrl-C or
        SIGTERM (finished result files are kept)."""
        pool = None
        interrupted = False
        try:
            with _terminate_as_interrupt():
                while todo:
                    if pool is None:
                        pool = make_executor(executor, jobs=min(jobs, len(todo)),
                                             scheduler=scheduler)
                    todo = self.round(pool, todo)
                    if todo and wait:
                        self.bar.update(current=f"waiting for {len(todo)} run(s) claimed by "
                                                "another sweep")
                        time.sleep(self.policy.poll_s)
                    elif todo:
                        self.summary.claimed_elsewhere = [digest for digest, _ in todo]
                        break
        except BaseException:  # Ctrl-C, SIGTERM: stop now, keep what is finished
            interrupted = True
            raise
        finally:
            if pool is not None and pool is not executor:
                if interrupted and hasattr(pool, "terminate"):
                    pool.terminate()
                else:
                    pool.close()

    def round(self, pool: Any, todo: list[tuple[str, RunSpec]]) -> list[tuple[str, RunSpec]]:
        """Execute every run of ``todo`` once (in seed batches when batched); return those
        another sweep holds a claim on."""
        groups = ([[todo[i] for i in group] for group in batch_groups([s for _, s in todo])]
                  if self.batched else [[member] for member in todo])
        if self.batched:
            groups = balanced_batches(groups, pool.workers)
        members = {group[0][0]: group for group in groups}
        calls = [(group[0][0], (self.run_fn, group, str(self.out), self.policy, self.batched))
                 for group in groups]
        if pool.workers > 1:
            self.bar.update(current=", ".join(spec.label() for _, spec in todo[:2]))
        elsewhere: list[tuple[str, RunSpec]] = []
        for key, values, error in pool.map_unordered(
                execute_group, calls, lambda key: self.bar.update(current=self.label(key))):
            if error is not None:  # the worker died: every run of the call failed
                values = [(digest, None, error) for digest, _ in members[key]]
            for digest, status, run_error in values:
                if status == CLAIMED_ELSEWHERE:
                    elsewhere.append((digest, self.ordered[digest]))
                else:
                    self.record((digest, status, run_error))
        return elsewhere

    def record(self, outcome: Outcome) -> None:
        """Count one finished run (trained here, failed, or finished by another sweep)."""
        digest, status, error = outcome
        summary = self.summary
        if status == DONE_ELSEWHERE:
            summary.done_elsewhere += 1
            result, _ = check_result_file(result_path(self.out, digest))
            if result is not None and result.status == RunStatus.DIVERGED:
                summary.diverged.append(digest)
        elif error is not None:
            summary.failed.append({"hash": digest, "label": self.label(digest), "error": error})
            LOGGER.warning(f"run {digest} ({self.label(digest)}) failed: {error}")
        else:
            summary.ran += 1
            summary.ran_hashes.append(digest)
            LOGGER.debug("run %s (%s): %s", digest, self.label(digest), status)
            if status == RunStatus.DIVERGED:
                summary.diverged.append(digest)
        self.finished += 1
        self.bar.update(done=self.finished, timed=status != DONE_ELSEWHERE,
                        current=f"last finished: {self.label(digest)}")


class SweepInterrupted(KeyboardInterrupt):
    """SIGTERM during a sweep (Ctrl-C raises KeyboardInterrupt): pending runs were
    cancelled, running local workers terminated; finished results are kept."""


@contextlib.contextmanager
def _terminate_as_interrupt():
    """Within the block, SIGTERM raises :class:`SweepInterrupted` in the main thread (like
    Ctrl-C raises KeyboardInterrupt), so that the executor is stopped either way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SweepInterrupted(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
