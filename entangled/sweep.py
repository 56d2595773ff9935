"""Resumable sweeps: a list of run configs executed into a result directory.

Each run is stored as ``<out_dir>/<config_hash>.json`` (the :meth:`RunResult.to_dict` of the
run), written atomically: the JSON goes to a temporary file in the same directory, is
flushed and fsync'ed, then moved over the final name with :func:`os.replace`. A sweep that is
killed therefore leaves only complete result files (and possibly stray ``*.tmp`` files,
which are ignored and cleaned up); re-running it skips every run whose file is valid and runs
the rest.

A result file is **valid** when it is strict JSON, a dict whose ``config`` equals the
expected config and whose ``config_hash`` equals its file name. Invalid files (truncated,
edited, written by another config) are reported — a warning on stderr and
``SweepSummary.corrupt`` — and the run is repeated.

Results are read back as JSON only (never pickle).

Several sweeps may share one result directory (hosts on a shared filesystem, array jobs):
each run is trained under an ``O_EXCL`` claim file, so no run is trained twice, and
``shard="I/N"`` splits the runs up front (:mod:`entangled.store`). Runs execute in this
process, in local worker processes or on a Dask cluster (:mod:`entangled.executors`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from entangled.errors import EntangledError, InvalidParameterError
from entangled.executors import check_executor, make_executor
from entangled.mappings.params import check_positive_int
from entangled.store import (CLAIMED_ELSEWHERE, DONE_ELSEWHERE, RAN, ClaimPolicy, claim_is_live,
                             parse_shard, run_once)


def _config_dict(config: Any) -> dict[str, Any]:
    """Normalised full config dict (defaults filled in) of a RunConfig or a dict."""
    from entangled.train import RunConfig

    if isinstance(config, RunConfig):
        return config.to_dict()
    return RunConfig.from_dict(config).to_dict()


def canonical_json(data: Any) -> str:
    """Key-sorted, compact, strict JSON (the input of :func:`config_hash`)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(config: Any) -> str:
    """First 16 hex digits of the SHA-256 of the canonical JSON of the full config.

    ``config`` is a :class:`~entangled.train.RunConfig` or a dict of its fields; missing
    fields take their defaults, so a partial dict and the full config hash equally.
    """
    return hashlib.sha256(canonical_json(_config_dict(config)).encode()).hexdigest()[:16]


@dataclass
class SweepSummary:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    out_dir : the result directory.
    total : distinct configs in the sweep.
    skipped : runs already finished before this call (valid result files).
    ran : runs executed by this call and written.
    failed : ``[{"hash", "label", "error"}]`` for runs that raised (not written; rerun next time).
    corrupt : ``[{"path", "reason"}]`` for invalid result files found (and rerun).
    diverged : hashes of runs (old or new) with status ``"diverged"``.
    hashes : the config hash of every run, in sweep order.
    wall_time_s : duration of the call.
    shard : ``"I/N"`` when only shard I of N was run (``total`` counts that shard's runs).
    done_elsewhere : runs finished by another sweep on the same directory during this call.
    claimed_elsewhere : hashes of runs still being trained by another sweep when this call
        returned (only with ``wait=False``).
    """

    out_dir: str
    total: int = 0
    skipped: int = 0
    ran: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    corrupt: list[dict[str, str]] = field(default_factory=list)
    diverged: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0
    shard: str | None = None
    done_elsewhere: int = 0
    claimed_elsewhere: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every run of the sweep (of its shard) has a valid result file."""
        return not self.failed and self.skipped + self.ran + self.done_elsewhere == self.total

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------- files
def result_path(out_dir: str | os.PathLike, digest: str) -> Path:
    return Path(out_dir) / f"{digest}.json"


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as strict JSON to ``path`` atomically (temp file + ``os.replace``)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def check_result_file(path: str | os.PathLike, expected_config: dict[str, Any] | None = None
                      ) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(data, None)`` for a valid result file, ``(None, reason)`` otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable: {exc}"
    try:
        data = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(
            ValueError(f"non-standard constant {c}")))
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        return None, "not a run result (no 'config' object)"
    try:
        digest = config_hash(data["config"])
    except (ValueError, TypeError) as exc:
        return None, f"invalid config: {exc}"
    if digest != path.stem or data.get("config_hash") != path.stem:
        return None, f"config hash {digest} does not match the file name"
    if expected_config is not None and canonical_json(data["config"]) != canonical_json(expected_config):
        return None, "config does not match the sweep's config"
    if data.get("status") not in ("ok", "diverged"):
        return None, f"invalid status {data.get('status')!r}"
    return data, None


def load_results(out_dir: str | os.PathLike, *, strict: bool = False) -> list:
    """Read every valid ``<hash>.json`` result in ``out_dir`` as :class:`RunResult` objects.

    Invalid files are skipped with a warning on stderr (``strict=True``: raise instead).
    Results are sorted by config hash. JSON only; nothing is unpickled.
    """
    from entangled.train import RunResult

    out = []
    for path in sorted(Path(out_dir).glob("*.json")):
        data, reason = check_result_file(path)
        if data is not None:
            try:
                out.append(RunResult.from_dict(data))
                continue
            except (ValueError, TypeError) as exc:
                reason = str(exc)
        if strict:
            raise EntangledError(f"invalid result file {path}: {reason}")
        print(f"warning: skipping invalid result file {path}: {reason}", file=sys.stderr)
    return out


# ---------------------------------------------------------------------------- progress
def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """A one-line progress bar on stderr: runs done / total, current run, elapsed, ETA.

    On a terminal the line is redrawn in place; otherwise one line is printed per update.
    """

    def __init__(self, total: int, *, enabled: bool = True, stream=None, width: int = 24):
        self.total, self.done, self.enabled, self.width = total, 0, enabled, width
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.current = ""
        self._last_len = 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._timed_done = 0

    def update(self, *, done: int | None = None, current: str | None = None,
               timed: bool = False) -> None:
        if done is not None:
            if timed:
                self._timed_done += done - self.done
            self.done = done
        if current is not None:
            self.current = current
        if self.enabled:
            self._draw()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        remaining = self.total - self.done
        eta = (elapsed / self._timed_done * remaining) if self._timed_done else None
        eta_s = _clock(eta) if eta is not None else "--:--"
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"| {_clock(elapsed)} elapsed, ETA {eta_s} | {self.current}")

    def _draw(self) -> None:
        text = self.line()
        if self._tty:
            pad = max(0, self._last_len - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------- execution
def _execute(run_fn: Callable, config: dict[str, Any], out_dir: str, digest: str
             ) -> tuple[str, str | None, str | None]:
    """Run one config and write its result file; return ``(hash, status, error)``."""
    try:
        result = run_fn(dict(config))
        data = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        if canonical_json(data.get("config")) != canonical_json(config):
            raise EntangledError("run function returned a result for a different config")
        data["config_hash"] = digest
        write_json_atomic(result_path(out_dir, digest), data)
        return digest, data.get("status"), None
    except Exception as exc:  # a crashing run is reported and the sweep goes on
        return digest, None, "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _execute_claimed(run_fn: Callable, config: dict[str, Any], out_dir: str, digest: str,
                     policy: ClaimPolicy) -> tuple[str, str | None, str | None]:
    """:func:`_execute` under the run's claim (:func:`entangled.store.run_once`).

    Returns ``_execute``'s ``(hash, status, error)``, or ``(hash, CLAIMED_ELSEWHERE, None)``
    while another sweep trains the run, or ``(hash, DONE_ELSEWHERE, None)`` once it has.
    """
    path = result_path(out_dir, digest)

    def is_done() -> bool:
        return path.exists() and check_result_file(path, config)[0] is not None

    outcome, value = run_once(out_dir, digest, is_done,
                              lambda: _execute(run_fn, config, out_dir, digest), policy)
    return value if outcome == RAN else (digest, outcome, None)


def _label(config: dict[str, Any]) -> str:
    from entangled.train import RunConfig

    try:
        return RunConfig.from_dict(config).label()
    except Exception:  # pragma: no cover - label is cosmetic
        return str(config.get("arch", "?"))


def run_sweep(configs: Iterable[Any], out_dir: str | os.PathLike, *, jobs: int = 1,
              progress: bool = True, run_fn: Callable | None = None,
              validate: bool | None = None, executor: Any = "local",
              scheduler: str | None = None, shard: Any = None,
              claims: ClaimPolicy | None = None, wait: bool = True) -> SweepSummary:
    """Run every config into ``out_dir`` (one ``<config_hash>.json`` per run), resumably.

    Parameters
    ----------
    configs : :class:`~entangled.train.RunConfig` objects or dicts of their fields;
        duplicates (equal hash) run once.
    out_dir : result directory (created if missing).
    jobs : worker processes; ``1`` runs in this process. Workers are started with
        ``forkserver`` (``spawn`` where unavailable) and use one torch thread each, so
        ``run_fn`` must be a picklable module-level function.
    progress : draw a progress bar on stderr.
    run_fn : ``config_dict -> RunResult`` (or a dict with the same ``config``);
        default :func:`entangled.train.fit`.
    validate : check every config with :meth:`RunConfig.validate` before running anything
        (default: only when ``run_fn`` is ``fit``).
    executor : ``"local"`` (``jobs`` processes on this machine, GPUs round-robin),
        ``"dask"`` (the cluster at ``scheduler``, default ``$DASK_SCHEDULER_ADDRESS``) or an
        executor object (:mod:`entangled.executors`, e.g. a ``DaskExecutor(client=...)``).
    scheduler : Dask scheduler address, with ``executor="dask"``.
    shard : ``"I/N"`` or a :class:`~entangled.store.Shard`: run only shard I of N
        (:meth:`Shard.select`); ``None``: every run.
    claims : timing of the claim files (:class:`~entangled.store.ClaimPolicy`; default
        heartbeat 30 s, stale after 300 s, poll 10 s).
    wait : when another sweep on the same directory is training some of this sweep's runs,
        wait for them (polling every ``claims.poll_s``; a claim gone stale is taken over);
        ``False``: return and list them in ``claimed_elsewhere``.

    Returns
    -------
    SweepSummary
    """
    from entangled.train import RunConfig, fit

    if run_fn is None:
        run_fn = fit
    jobs = check_positive_int("jobs", jobs, context="run_sweep")
    shard = parse_shard(shard)
    check_executor(executor, scheduler)
    policy = claims if claims is not None else ClaimPolicy()
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stray in out.glob(".*.tmp"):  # left by a killed writer...
        if claim_is_live(out, stray.name.split(".")[1], policy):
            continue  # ...unless its run is claimed by a live sweep: maybe a write in flight
        try:
            stray.unlink()
        except OSError:
            pass

    ordered: dict[str, dict[str, Any]] = {}
    for config in configs:
        cfg = _config_dict(config)
        if validate or (validate is None and run_fn is fit):
            RunConfig.from_dict(cfg).validate()
        ordered.setdefault(config_hash(cfg), cfg)
    if shard is not None:
        mine = shard.select(ordered)
        ordered = {digest: cfg for digest, cfg in ordered.items() if digest in mine}
    summary = SweepSummary(out_dir=str(out), total=len(ordered), hashes=list(ordered),
                           shard=None if shard is None else str(shard))

    todo: list[tuple[str, dict[str, Any]]] = []
    for digest, cfg in ordered.items():
        path = result_path(out, digest)
        if not path.exists():
            todo.append((digest, cfg))
            continue
        data, reason = check_result_file(path, cfg)
        if data is None:
            print(f"warning: corrupt result file {path} ({reason}); running it again",
                  file=sys.stderr)
            summary.corrupt.append({"path": str(path), "reason": reason})
            todo.append((digest, cfg))
        else:
            summary.skipped += 1
            if data.get("status") == "diverged":
                summary.diverged.append(digest)

    bar = ProgressBar(summary.total, enabled=progress)
    bar.update(done=summary.skipped, current="resuming" if summary.skipped else "starting")

    def handle(digest: str, status: str | None, error: str | None) -> None:
        if error is not None:
            summary.failed.append({"hash": digest, "label": _label(ordered[digest]),
                                   "error": error})
            print(f"\nwarning: run {digest} ({_label(ordered[digest])}) failed: {error}",
                  file=sys.stderr)
        else:
            summary.ran += 1
            if status == "diverged":
                summary.diverged.append(digest)

    finished = summary.skipped
    pool = None  # created only when there is something to run
    try:
        while todo:
            if pool is None:
                pool = make_executor(executor, jobs=min(jobs, len(todo)), scheduler=scheduler)
            elsewhere: list[tuple[str, dict[str, Any]]] = []
            calls = [(digest, (run_fn, cfg, str(out), digest, policy)) for digest, cfg in todo]
            on_start = lambda digest: bar.update(current=_label(ordered[digest]))  # noqa: E731
            if pool.workers > 1:
                bar.update(current=", ".join(_label(cfg) for _, cfg in todo[:2]))
            for digest, value, error in pool.map_unordered(_execute_claimed, calls, on_start):
                status = None if error is not None else value[1]
                if status == CLAIMED_ELSEWHERE:
                    elsewhere.append((digest, ordered[digest]))
                    continue
                if status == DONE_ELSEWHERE:
                    summary.done_elsewhere += 1
                    data, _ = check_result_file(result_path(out, digest))
                    if data is not None and data.get("status") == "diverged":
                        summary.diverged.append(digest)
                else:
                    handle(digest, status, error if error is not None else value[2])
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
    finally:
        if pool is not None and pool is not executor:
            pool.close()
        bar.close()
        summary.wall_time_s = time.perf_counter() - start
    return summary


def read_configs(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a JSON list of RunConfig dicts (the input of ``entangled sweep``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidParameterError("CONFIGS", str(path), f"a readable JSON file ({exc})")
    except ValueError as exc:
        raise InvalidParameterError("CONFIGS", str(path), f"valid JSON ({exc})")
    if isinstance(data, dict) and isinstance(data.get("runs"), list):
        data = data["runs"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise InvalidParameterError("CONFIGS", str(path), "a JSON list of RunConfig objects")
    return data
