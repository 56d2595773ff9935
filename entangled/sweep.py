"""Resumable sweeps: a list of run specs executed into a result directory.

Each run is stored as ``<out_dir>/<config_hash>.json`` (the schema-versioned JSON of its
:class:`~entangled.runs.RunResult`), written atomically: the JSON goes to a uniquely named
temporary file in the same directory, is flushed and fsync'ed, then moved over the final name
with :func:`os.replace`. A sweep that is killed therefore leaves only complete result files
(and possibly stray ``.*.<pid>.*.tmp`` files; a later sweep removes only those of processes
that no longer run); re-running it skips every run whose file is valid and runs the rest.

Before a sweep trusts a file it validates it (:func:`entangled.runs.result_from_json`: schema,
value ranges, the hash of the spec equal to the file name). Files are never deleted:

* **invalid** (unreadable, out-of-range values, hash mismatch, extra or missing keys):
  reported, moved to ``<out_dir>/invalid/`` and the run is repeated;
* **stale** (valid, but produced with another torch version or on another device than this
  process would use): reported, moved to ``<out_dir>/stale/`` and repeated;
* **superseded** (an earlier schema, written by an earlier training protocol: test accuracy
  at the last step, no validation split): moved to ``<out_dir>/superseded/``; the runs of the
  sweep are trained under the current protocol (their hashes differ).

Results are read back as JSON only (never pickle). This module imports :mod:`entangled.train`
only when it runs the default run function (no import cycle).

Several sweeps may share one result directory (hosts on a shared filesystem, array jobs):
each run is trained under an ``O_EXCL`` claim file, so no run is trained twice, and
``shard="I/N"`` splits the runs up front (:mod:`entangled.store`). Runs execute in this
process, in local worker processes or on a Dask cluster (:mod:`entangled.executors`).
Ctrl-C or SIGTERM stops a sweep within seconds: pending runs are cancelled, local workers
terminated, finished result files kept; local workers also end by themselves when the
sweep's process dies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from entangled.atomic_io import loads_json, make_private_dir, read_limited, write_json_atomic
from entangled.errors import EntangledError, InvalidParameterError
from entangled.executors import check_executor, make_executor
from entangled.process_tree import pid_alive
from entangled.mappings.params import check_positive_int
from entangled.runs import (SCHEMA_VERSION, ResultFileError, RunResult, RunSpec, RunStatus,
                            as_spec, canonical_json, config_hash, result_from_json)
from entangled.store import (CLAIMED_ELSEWHERE, CLAIMS_DIR, DONE_ELSEWHERE, MANIFEST_DIR, RAN,
                             RESULT_FILE_LIMIT, ClaimPolicy, adopt_store, claim_is_live,
                             digest_problem, heartbeating, parse_shard, release, run_once,
                             try_claim, write_result)

LOGGER = logging.getLogger(__name__)

__all__ = ["SweepSummary", "canonical_json", "check_result_file", "config_hash", "load_results",
           "read_configs", "result_path", "run_sweep", "write_json_atomic"]

SET_ASIDE = ("invalid", "stale", "superseded")


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    out_dir : the result directory.
    total : distinct runs in the sweep.
    skipped : runs already finished before this call (valid result files).
    ran : runs executed by this call and written.
    failed : ``[{"hash", "label", "error"}]`` for runs that raised (not written; rerun next time).
    corrupt : ``[{"path", "reason", "moved_to"}]`` invalid result files found, moved aside
        and rerun.
    stale : ``[{"path", "reason", "moved_to"}]`` valid files produced differently (torch
        version, device), moved aside and rerun.
    superseded : ``[{"path", "reason", "moved_to"}]`` files of an earlier schema (another
        training protocol) moved to ``superseded/``.
    diverged : hashes of runs (old or new) with status ``"diverged"``.
    shard : ``"I/N"`` when only shard I of N was run (``total`` counts that shard's runs).
    done_elsewhere : runs finished by another sweep on the same directory during this call.
    claimed_elsewhere : hashes of runs still being trained by another sweep when this call
        returned (only with ``wait=False``).
    adopted : result files of a store written before manifests existed whose digests this
        call recorded (:func:`entangled.store.adopt_store`).
    hashes : the config hash of every run, in sweep order.
    ran_hashes : the hashes of the runs executed (and written) by this call.
    wall_time_s : duration of the call.
    """

    out_dir: str
    total: int = 0
    skipped: int = 0
    ran: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    corrupt: list[dict[str, str]] = field(default_factory=list)
    stale: list[dict[str, str]] = field(default_factory=list)
    superseded: list[dict[str, str]] = field(default_factory=list)
    diverged: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    ran_hashes: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0
    shard: str | None = None
    done_elsewhere: int = 0
    claimed_elsewhere: list[str] = field(default_factory=list)
    adopted: int = 0

    @property
    def complete(self) -> bool:
        """Every run of the sweep (of its shard) has a valid result file."""
        return not self.failed and self.skipped + self.ran + self.done_elsewhere == self.total

    @property
    def rerun(self) -> int:
        """Runs done again because their file was invalid or stale."""
        return len(self.corrupt) + len(self.stale)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------- files
def result_path(out_dir: str | os.PathLike, digest: str) -> Path:
    return Path(out_dir) / f"{digest}.json"


def remove_stray_temp_files(out_dir: Path, policy: ClaimPolicy | None = None) -> list[Path]:
    """Remove ``.*.<pid>.*.tmp`` files of processes that no longer run, in ``out_dir`` and its
    manifest folder; return them.

    A temp file of a live process on this host, or of a run another sweep holds a live claim
    on (a host sharing the directory), is left alone, and so is any temp file whose name does
    not carry a pid.
    """
    removed = []
    for stray in [*out_dir.glob(".*.tmp"), *(out_dir / MANIFEST_DIR).glob(".*.tmp")]:
        parts = stray.name.split(".")
        pid = next((int(p) for p in parts[2:-1] if p.isdigit()), None)
        if pid is None or pid == os.getpid() or pid_alive(pid):
            continue
        if len(parts) > 2 and claim_is_live(out_dir, parts[1], policy or ClaimPolicy()):
            continue
        try:
            stray.unlink()
            removed.append(stray)
        except OSError:
            pass
    return removed


def read_result(path: str | os.PathLike, *, verify: bool = True) -> RunResult:
    """Read and validate one result file; raise :class:`ResultFileError` with the reason.

    Only a regular file of at most :data:`~entangled.store.RESULT_FILE_LIMIT` bytes is read
    (never through a symlink, never a FIFO or device:
    :func:`entangled.atomic_io.read_limited`); too deep nesting is invalid JSON like any
    other. ``verify``: the content must match the digest the store's manifest recorded when
    the file was written (:func:`entangled.store.digest_problem`; an edited file is invalid).
    """
    path = Path(path)
    try:
        content = read_limited(path, RESULT_FILE_LIMIT)
    except OSError as exc:
        raise ResultFileError(f"unreadable: {exc.strerror or exc}") from None
    problem = digest_problem(path.parent, path.stem, content) if verify else None
    if problem is not None:
        raise ResultFileError(problem)
    try:
        data = loads_json(content)
    except ValueError as exc:  # UnicodeDecodeError included
        raise ResultFileError(f"invalid JSON: {exc}") from None
    result = result_from_json(data)
    if isinstance(data, dict) and data.get("schema_version") == SCHEMA_VERSION \
            and result.config_hash != path.stem:
        raise ResultFileError(f"config hash {result.config_hash} does not match the file name")
    return result


def produced_differently(result: RunResult) -> str | None:
    """Why a valid cached result must not stand for a run in this process (or ``None``):
    another torch version, or another device than the spec resolves to here."""
    import torch

    from entangled.train import resolve_device

    if result.torch_version != torch.__version__:
        return (f"produced with torch {result.torch_version}, this process has torch "
                f"{torch.__version__}")
    device = resolve_device(result.spec.budget.device).type
    if result.device != device:
        return f"produced on {result.device}, this process would run on {device}"
    return None


def check_result_file(path: str | os.PathLike, expected: Any = None
                      ) -> tuple[RunResult | None, str | None]:
    """Return ``(result, None)`` for a valid result file, ``(None, reason)`` otherwise.

    ``expected`` (a spec, RunConfig or dict) must then hash to the file's hash as well.
    """
    path = Path(path)
    try:
        result = read_result(path)
    except ResultFileError as exc:
        return None, exc.reason
    if result.config_hash != path.stem:
        return None, f"config hash {result.config_hash} does not match the file name"
    if expected is not None and config_hash(expected) != result.config_hash:
        return None, "config does not match the sweep's config"
    return result, None


def set_aside(path: Path, kind: str) -> Path:
    """Move ``path`` into ``<its dir>/<kind>/`` under a free name; return the new path."""
    target_dir = make_private_dir(path.parent / kind)
    target = target_dir / path.name
    counter = 1
    while os.path.lexists(target):
        target = target_dir / f"{path.stem}.{counter}{path.suffix}"
        counter += 1
    os.replace(path, target)
    return target


def supersede_directory(out_dir: Path, summary: SweepSummary | None = None) -> None:
    """Move every result file of an earlier schema (:data:`entangled.runs.SUPERSEDED_SCHEMAS`,
    written by an earlier training protocol) in ``out_dir`` to ``superseded/``, with a
    warning; nothing is deleted."""
    from entangled.runs import SUPERSEDED_SCHEMAS, schema_of, superseded_reason

    for path in sorted(out_dir.glob("*.json")):
        try:
            data = loads_json(read_limited(path, RESULT_FILE_LIMIT))
        except (OSError, ValueError):
            continue
        version = schema_of(data) if isinstance(data, dict) else None
        if version not in SUPERSEDED_SCHEMAS:
            continue
        moved = set_aside(path, "superseded")
        reason = superseded_reason(version)
        _warn(f"result file {path} ({reason}); moved to {moved}")
        if summary is not None:
            summary.superseded.append({"path": str(path), "reason": reason,
                                       "moved_to": str(moved)})


def _warn(message: str) -> None:
    LOGGER.warning(message)


def load_results(out_dir: str | os.PathLike, *, strict: bool = False) -> list[RunResult]:
    """Read every valid ``<hash>.json`` result in ``out_dir`` as :class:`RunResult` objects.

    Invalid files and files of an earlier schema (another training protocol) are skipped with
    a warning on stderr (``strict=True``: raise instead); they are never deleted. Results are sorted by
    config hash. JSON only; nothing is unpickled.
    """
    out = []
    for path in sorted(Path(out_dir).glob("*.json")):
        try:
            result = read_result(path)
        except ResultFileError as exc:
            if strict:
                raise EntangledError(f"invalid result file {path}: {exc.reason}") from None
            _warn(f"skipping {'superseded' if exc.kind == 'superseded' else 'invalid'} "
                  f"result file {path}: {exc.reason}")
            continue
        out.append(result)
    return sorted(out, key=lambda r: r.config_hash)


# ---------------------------------------------------------------------------- progress
def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def duration_text(seconds: float) -> str:
    """``seconds`` as ``"42s"``, ``"3m05s"`` or ``"2h07m"`` (progress lines).

    >>> duration_text(185), duration_text(7650)
    ('3m05s', '2h07m')
    """
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressBar:
    """Progress of a sweep: runs done / total, the current run, elapsed time and ETA.

    On a terminal, tqdm draws a bar on ``stream`` (stderr). Anywhere else (a log file, a pipe,
    a batch job) the progress goes to the ``entangled.sweep`` logger at ``INFO`` instead, one
    line every ``every`` finished runs (default: every run up to 100 runs, else every
    ``total / 100``), whenever ``interval_s`` passed since the last line, and at the end::

        sweep: 37/500 runs done (12 found finished, 25 trained now), 3m12s elapsed, ETA 40m05s; last finished: cnn/digits/orthogonal s3

    Silent when not ``enabled``. Runs found finished on disk (an untimed ``update``) count as
    done but not into the rate, so the ETA reflects the runs trained in this invocation.
    """

    def __init__(self, total: int, *, enabled: bool = True, stream=None,
                 every: int | None = None, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        from tqdm import tqdm

        stream = stream if stream is not None else sys.stderr
        self.total, self.done, self.trained = total, 0, 0
        self.bar = tqdm(total=total, file=stream, disable=None if enabled else True,
                        unit="run", dynamic_ncols=True)
        self.log_lines = enabled and not _is_terminal(stream)
        self.every = every if every is not None else max(1, -(-total // 100))
        self.interval_s, self.clock = interval_s, clock
        self.started = self.last_line = clock()
        self.current = ""

    def update(self, *, done: int | None = None, current: str | None = None,
               timed: bool = False) -> None:
        if current is not None:
            self.bar.set_postfix_str(current, refresh=done is None)
            self.current = current
        if done is not None and done != self.done:
            if timed:
                self.bar.update(done - self.done)
                self.trained += done - self.done
            else:
                self.bar.n = self.bar.initial = done
                self.bar.refresh()
            self.done = done
            if self.log_lines and (done % self.every == 0 or done >= self.total or not timed
                                   or self.clock() - self.last_line >= self.interval_s):
                LOGGER.info(self.line())
                self.last_line = self.clock()

    def eta_s(self) -> float | None:
        """Seconds left at the rate of the runs trained in this invocation (``None`` before the
        first one)."""
        if not self.trained:
            return None
        return (self.clock() - self.started) / self.trained * max(0, self.total - self.done)

    def line(self) -> str:
        """The progress line (see the class docstring)."""
        found = self.done - self.trained
        eta = self.eta_s()
        text = (f"sweep: {self.done}/{self.total} runs done ({found} found finished, "
                f"{self.trained} trained now), {duration_text(self.clock() - self.started)} "
                f"elapsed, ETA {duration_text(eta) if eta is not None else 'unknown'}")
        return text + (f"; {self.current}" if self.current else "")

    def close(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------------------- execution
def _execute(run_fn: Callable, spec: RunSpec, out_dir: str, digest: str
             ) -> tuple[str, str | None, str | None]:
    """Run one spec and write its validated result file; return ``(hash, status, error)``."""
    try:
        return _write_result(run_fn(spec), out_dir, digest)
    except Exception as exc:  # a crashing run is reported and the sweep goes on
        return digest, None, _one_line(exc)


def _one_line(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _write_result(result: Any, out_dir: str, digest: str) -> tuple[str, str | None, None]:
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


def _execute_claimed(run_fn: Callable, spec: RunSpec, out_dir: str, digest: str,
                     policy: ClaimPolicy) -> tuple[str, str | None, str | None]:
    """:func:`_execute` under the run's claim (:func:`entangled.store.run_once`).

    Returns ``_execute``'s ``(hash, status, error)``, or ``(hash, CLAIMED_ELSEWHERE, None)``
    while another sweep trains the run, or ``(hash, DONE_ELSEWHERE, None)`` once it has.
    """
    path = result_path(out_dir, digest)

    def is_done() -> bool:
        return path.exists() and check_result_file(path, spec)[0] is not None

    outcome, value = run_once(out_dir, digest, is_done,
                              lambda: _execute(run_fn, spec, out_dir, digest), policy)
    return value if outcome == RAN and value is not None else (digest, outcome, None)


def _execute_group(run_fn: Callable, members: list[tuple[str, RunSpec]], out_dir: str,
                   policy: ClaimPolicy, batched: bool) -> list[tuple[str, str | None, str | None]]:
    """The work of one executor call: ``(hash, status, error)`` per member run.

    Unbatched (one member): :func:`_execute_claimed`. Batched (runs that differ only in their
    seeds): each run is claimed (:func:`entangled.store.try_claim`); those claimed or finished
    elsewhere are reported as such and left out; the rest train as one seed batch
    (:func:`entangled.batched.fit_batch`) while their claims are heartbeaten, and each result
    is written atomically as soon as its run finishes (a run that stops early is safe before
    the batch ends). If the batch fails, its unfinished runs are trained one at a time, so a
    run that cannot be batched still runs and a crashing one is reported alone.
    """
    if not batched:
        return [_execute_claimed(run_fn, spec, out_dir, digest, policy) for digest, spec in members]
    outcomes: dict[str, tuple[str, str | None, str | None]] = {}
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
                outcomes.update(_train_batch(run_fn, mine, out_dir))
    finally:
        for claim in claims:
            release(claim)
    return [outcomes[digest] for digest, _ in members]


def _train_batch(run_fn: Callable, members: list[tuple[str, RunSpec]], out_dir: str
                 ) -> dict[str, tuple[str, str | None, str | None]]:
    """Train ``members`` as one seed batch, writing each result as its run finishes; if the
    batch fails, train its unfinished runs one at a time with ``run_fn``."""
    from entangled.batched import fit_batch

    outcomes: dict[str, tuple[str, str | None, str | None]] = {}

    def write(index: int, result: RunResult) -> None:
        digest = members[index][0]
        try:
            outcomes[digest] = _write_result(result, out_dir, digest)
        except Exception as exc:
            outcomes[digest] = (digest, None, _one_line(exc))

    try:
        fit_batch([spec for _, spec in members], on_result=write)
    except Exception as exc:
        LOGGER.warning("seed batch of %d runs (%s) failed (%s); training the rest one at a time",
                       len(members), _label(members[0][1]), _one_line(exc))
        for digest, spec in members:
            if digest not in outcomes:
                outcomes[digest] = _execute(run_fn, spec, out_dir, digest)
    return outcomes


def _batching(mode: str, run_fn: Callable, specs: list[RunSpec]) -> bool:
    from entangled.batched import use_seed_batching
    from entangled.train import fit

    return run_fn is fit and use_seed_batching(mode, specs)


def _label(spec: RunSpec) -> str:
    return spec.label()


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


def plan(configs: Iterable[Any]) -> dict[str, RunSpec]:
    """Resolve every config (RunSpec, RunConfig or dict) once, in order, without duplicates:
    ``{hash: resolved spec}``. An invalid config raises before anything runs."""
    ordered: dict[str, RunSpec] = {}
    for config in configs:
        spec = as_spec(config).resolve()
        ordered.setdefault(config_hash(spec), spec)
    return ordered


def _prepare_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidParameterError("out_dir", str(out), "a directory (this path is a file)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError("out_dir", str(out),
                                    f"a directory that can be created ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InvalidParameterError("out_dir", str(out), "a writable directory")
    for name in (CLAIMS_DIR, MANIFEST_DIR, *SET_ASIDE):  # folders the sweep writes into
        if name == CLAIMS_DIR or os.path.lexists(out / name):
            try:
                make_private_dir(out / name)
            except OSError as exc:
                raise InvalidParameterError("out_dir", str(out), f"a result directory whose "
                                            f"{name}/ is a folder of its own ({exc})") from None


#: Memory one local worker process needs: torch imported and one small model training.
WORKER_MEMORY_BYTES = 600 * 2**20


def available_memory_bytes() -> int | None:
    """Physical memory available now (Linux/most Unixes), ``None`` where it cannot be read."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def local_worker_limit() -> int:
    """Worker processes this machine holds: at most one per core and one per
    :data:`WORKER_MEMORY_BYTES` of available memory, at least one."""
    limit = os.cpu_count() or 1
    memory = available_memory_bytes()
    if memory is not None:
        limit = min(limit, memory // WORKER_MEMORY_BYTES)
    return max(1, int(limit))


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
    validate : kept for compatibility; specs are always validated.
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
    from entangled.batched import SEED_BATCHING, batch_groups, batch_key
    from entangled.train import fit

    if seed_batching not in SEED_BATCHING:
        raise InvalidParameterError("seed_batching", seed_batching,
                                    "one of " + ", ".join(map(repr, SEED_BATCHING)))
    if seed_batching == "on" and run_fn is not None and run_fn is not fit:
        raise InvalidParameterError("seed_batching", seed_batching,
                                    "'auto' or 'off' with a custom run_fn (batching trains with "
                                    "entangled.train's own loop)")
    if run_fn is None:
        run_fn = fit
    jobs = check_positive_int("jobs", jobs, context="run_sweep")
    shard = parse_shard(shard)
    check_executor(executor, scheduler)
    if executor == "local" and jobs > local_worker_limit():
        LOGGER.warning("run_sweep: jobs=%d capped to %d, the worker processes this machine holds "
                       "(one per core, about %d MB of available memory each)",
                       jobs, local_worker_limit(), WORKER_MEMORY_BYTES // 2**20)
        jobs = local_worker_limit()
    policy = claims if claims is not None else ClaimPolicy()
    start = time.perf_counter()
    ordered = plan(configs)
    out = Path(out_dir)
    _prepare_out_dir(out)
    remove_stray_temp_files(out, policy)
    batched = _batching(seed_batching, run_fn, list(ordered.values()))
    if shard is not None:  # with seed batching, whole batches go to one shard
        mine = (shard.select_groups({d: batch_key(s) for d, s in ordered.items()}) if batched
                else shard.select(ordered))
        ordered = {digest: spec for digest, spec in ordered.items() if digest in mine}
    summary = SweepSummary(out_dir=str(out), total=len(ordered), hashes=list(ordered),
                           shard=None if shard is None else str(shard))
    supersede_directory(out, summary)
    summary.adopted = adopt_store(out)
    if summary.adopted:
        _warn(f"result store {out} had no manifest (written before digests were recorded): "
              f"recorded the digests of its {summary.adopted} result files as they are now; "
              "edits made from now on are detected, earlier ones cannot be")

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
            _warn(f"{kind} result file {path} ({reason or stale}); moved to {moved} and "
                  f"running it again")
            (summary.corrupt if result is None else summary.stale).append(
                {"path": str(path), "reason": str(reason or stale), "moved_to": str(moved)})
            todo.append((digest, spec))
        else:
            summary.skipped += 1
            if result.status == RunStatus.DIVERGED:
                summary.diverged.append(digest)


    bar = ProgressBar(summary.total, enabled=progress)
    bar.update(done=summary.skipped, current="resuming" if summary.skipped else "starting")

    def handle(digest: str, status: str | None, error: str | None) -> None:
        if error is not None:
            summary.failed.append({"hash": digest, "label": _label(ordered[digest]),
                                   "error": error})
            LOGGER.warning(f"run {digest} ({_label(ordered[digest])}) failed: {error}")
        else:
            summary.ran += 1
            summary.ran_hashes.append(digest)
            LOGGER.debug("run %s (%s): %s", digest, _label(ordered[digest]), status)
            if status == RunStatus.DIVERGED:
                summary.diverged.append(digest)

    finished = summary.skipped
    pool = None  # created only when there is something to run
    interrupted = False
    try:
        with _terminate_as_interrupt():
            while todo:
                if pool is None:
                    pool = make_executor(executor, jobs=min(jobs, len(todo)), scheduler=scheduler)
                elsewhere: list[tuple[str, RunSpec]] = []
                groups = ([[todo[i] for i in group]
                           for group in batch_groups([spec for _, spec in todo])]
                          if batched else [[member] for member in todo])
                members = {group[0][0]: group for group in groups}
                calls = [(group[0][0], (run_fn, group, str(out), policy, batched))
                         for group in groups]
                on_start = lambda key: bar.update(current=_label(ordered[key]))  # noqa: E731
                if pool.workers > 1:
                    bar.update(current=", ".join(_label(spec) for _, spec in todo[:2]))
                for key, values, error in pool.map_unordered(_execute_group, calls, on_start):
                    if error is not None:  # the worker died: every run of the call failed
                        values = [(digest, None, error) for digest, _ in members[key]]
                    for digest, status, run_error in values:
                        if status == CLAIMED_ELSEWHERE:
                            elsewhere.append((digest, ordered[digest]))
                            continue
                        if status == DONE_ELSEWHERE:
                            summary.done_elsewhere += 1
                            result, _ = check_result_file(result_path(out, digest))
                            if result is not None and result.status == RunStatus.DIVERGED:
                                summary.diverged.append(digest)
                        else:
                            handle(digest, status, run_error)
                        finished += 1
                        bar.update(done=finished, timed=status != DONE_ELSEWHERE,
                                   current=f"last finished: {_label(ordered[digest])}")
                todo = elsewhere
                if todo and wait:
                    bar.update(current=f"waiting for {len(todo)} run(s) claimed by another sweep")
                    time.sleep(policy.poll_s)
                elif todo:
                    summary.claimed_elsewhere = [digest for digest, _ in todo]
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
        bar.close()
        summary.wall_time_s = time.perf_counter() - start
    return summary


def read_configs(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a JSON list of run configs (flat RunConfig or nested RunSpec dicts; the input of
    ``entangled sweep``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidParameterError("CONFIGS", str(path), f"a readable JSON file ({exc})") from None
    except ValueError as exc:
        raise InvalidParameterError("CONFIGS", str(path), f"valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        data = data["runs"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InvalidParameterError("CONFIGS", str(path), "a JSON list of RunConfig objects")
    return data
