"""Shared result stores: shards and claim files, so that several sweeps never train a run twice.

Several hosts (or the tasks of one SLURM array job) may run the same sweep into one shared
result directory. Two mechanisms keep them from repeating each other's work:

**Shards** (``--shard I/N``, ``1 <= I <= N``) split the sweep up front. The distinct config
hashes are sorted and dealt out round-robin: shard ``I`` gets the hashes at sorted positions
``I-1, I-1+N, I-1+2N, ...``. The split depends only on the *set* of configs (not on their
order), every run is in exactly one shard, and shard sizes differ by at most one.

**Claims** make the training of one run exclusive even without shards. Before training run
``<hash>`` a worker creates ``<out>/.claims/<hash>.claim`` with ``O_CREAT | O_EXCL`` — an
atomic create-if-absent, also on NFSv3+ — holding JSON ``{"host", "pid", "token",
"created"}``. Only the creator trains the run; it re-checks after claiming that no result
file appeared meanwhile (claim, then check, then train: a run finished by another host is
never trained again), refreshes the claim's mtime every ``heartbeat_s`` seconds while it
trains (a background thread), writes the result atomically and deletes the claim.

A claim is **stale** — its holder is presumed dead — when

* its mtime is older than ``stale_after_s`` seconds (the heartbeat stopped: host down,
  process killed, network split), or
* it names this host and a pid that no longer exists (a local crash: taken over at once), or
* it is unreadable and older than ``heartbeat_s`` (the holder died between creating and
  writing it).

A stale claim is taken over under a short-lived ``<hash>.takeover`` lock (itself created
with ``O_EXCL``): the taker re-reads the claim and replaces it only if it is still the same
stale claim, so two hosts racing to take over one stale claim cannot both win. Staleness by
mtime compares the file server's mtime with the local clock, so hosts sharing a directory
should have clocks that agree to well within ``stale_after_s`` (NTP does this).

Results are deterministic and written atomically, so even the one remaining way to train a
run twice (a holder that stalls for longer than ``stale_after_s`` and then resumes) costs
compute, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from entangled.atomic_io import (dumps_json, loads_json, make_private_dir, read_limited,
                                 write_atomic, write_json_atomic)
from entangled.errors import InvalidParameterError
from entangled.process_tree import pid_alive

T = TypeVar("T")

CLAIMS_DIR = ".claims"


# ---------------------------------------------------------------------------- shards
@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, like ``--shard 2/4``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and not isinstance(self.count, bool) and self.count >= 1):
            raise InvalidParameterError("shard", f"{self.index}/{self.count}",
                                        "I/N with integers 1 <= I <= N")
        if not (isinstance(self.index, int) and not isinstance(self.index, bool)
                and 1 <= self.index <= self.count):
            raise InvalidParameterError("shard", f"{self.index}/{self.count}",
                                        "I/N with integers 1 <= I <= N")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, digests: Iterable[str]) -> set[str]:
        """The hashes of this shard: sorted distinct hashes at positions ``index-1 (mod count)``."""
        ordered = sorted(set(digests))
        return set(ordered[self.index - 1::self.count])

    def select_groups(self, groups: Mapping[str, str]) -> set[str]:
        """The hashes of this shard when runs go in groups (``{hash: group key}``, e.g. the
        seeds of one variant batched together): whole groups, the sorted distinct group keys
        at positions ``index-1 (mod count)``."""
        keys = sorted(set(groups.values()))
        chosen = set(keys[self.index - 1::self.count])
        return {digest for digest, key in groups.items() if key in chosen}


def parse_shard(text: Any) -> Shard | None:
    """``"I/N"`` -> :class:`Shard`; ``None`` or ``""`` -> ``None``; a :class:`Shard` as is."""
    if text is None or text == "":
        return None
    if isinstance(text, Shard):
        return text
    parts = str(text).strip().split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InvalidParameterError("shard", text, "I/N with integers 1 <= I <= N, e.g. 2/4")
    return Shard(int(parts[0]), int(parts[1]))


# ---------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class ClaimPolicy:
    """Timing of claims (picklable, shipped to workers).

    Parameters
    ----------
    heartbeat_s : the holder refreshes its claim's mtime this often while it trains.
    stale_after_s : a claim whose mtime is older than this is taken over (must exceed
        ``heartbeat_s``; the default allows nine missed heartbeats).
    poll_s : a sweep waiting for runs claimed by others looks for their results (and for
        stale claims to take over) this often.
    """

    heartbeat_s: float = 30.0
    stale_after_s: float = 300.0
    poll_s: float = 10.0

    def __post_init__(self) -> None:
        if not (isinstance(self.heartbeat_s, (int, float)) and self.heartbeat_s > 0):
            raise InvalidParameterError("heartbeat_s", self.heartbeat_s, "a positive number of seconds")
        if not (isinstance(self.stale_after_s, (int, float)) and self.stale_after_s > self.heartbeat_s):
            raise InvalidParameterError("stale_after_s", self.stale_after_s,
                                        f"a number of seconds > heartbeat_s={self.heartbeat_s}")
        if not (isinstance(self.poll_s, (int, float)) and self.poll_s > 0):
            raise InvalidParameterError("poll_s", self.poll_s, "a positive number of seconds")


@dataclass(frozen=True)
class Claim:
    """A claim held by this process."""

    path: str
    token: str
    host: str
    pid: int
    created: float = field(default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "token": self.token, "created": self.created}


def claim_path(out_dir: str | os.PathLike, digest: str) -> Path:
    """``<out_dir>/.claims/<digest>.claim``."""
    return Path(out_dir) / CLAIMS_DIR / f"{digest}.claim"


def _create_exclusive(path: Path, data: dict[str, Any]) -> bool:
    """Create ``path`` holding ``data`` as JSON if it does not exist (atomic); False if it does."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    return True


#: Largest result file read (a result with every metric and curve is ~100 kB).
RESULT_FILE_LIMIT = 32 * 2**20
#: A claim file is a few hundred bytes; anything larger (or not a regular file) is unreadable.
CLAIM_READ_LIMIT = 64 * 2**10


def _snapshot(path: Path) -> tuple[bytes, int] | None:
    """``(content, mtime_ns)`` of ``path``, ``None`` if it does not exist. A symlink, special
    file or oversized file at the claim's name reads as empty content (an unreadable claim,
    stale after one heartbeat; taking it over unlinks the name, never its target)."""
    try:
        mtime_ns = os.lstat(path).st_mtime_ns
        return read_limited(path, CLAIM_READ_LIMIT), mtime_ns
    except FileNotFoundError:
        return None
    except OSError:
        return b"", mtime_ns


def _parse(content: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        return None
    return data


def read_claim(out_dir: str | os.PathLike, digest: str) -> dict[str, Any] | None:
    """The holder of ``digest``'s claim (``host``, ``pid``, ``token``, ``created``, ``age_s``);
    ``None`` when unclaimed. An unreadable claim gives ``{"age_s": ...}`` only."""
    snap = _snapshot(claim_path(out_dir, digest))
    if snap is None:
        return None
    data = dict(_parse(snap[0]) or {})
    data["age_s"] = time.time() - snap[1] / 1e9
    return data


def is_stale(content: bytes, mtime_ns: int, policy: ClaimPolicy, *, now: float | None = None,
             host: str | None = None) -> bool:
    """Whether a claim with this content and mtime belongs to a dead holder (see module doc)."""
    age = (time.time() if now is None else now) - mtime_ns / 1e9
    if age > policy.stale_after_s:
        return True
    data = _parse(content)
    if data is None:
        return age > policy.heartbeat_s
    this_host = socket.gethostname() if host is None else host
    pid = data.get("pid")
    if data.get("host") == this_host and isinstance(pid, int) and not isinstance(pid, bool):
        return not pid_alive(pid)
    return False


def claim_is_live(out_dir: str | os.PathLike, digest: str, policy: ClaimPolicy = ClaimPolicy()
                  ) -> bool:
    """Whether run ``digest`` has a claim whose holder is presumed alive (not stale)."""
    snap = _snapshot(claim_path(out_dir, digest))
    return snap is not None and not is_stale(*snap, policy)


def _new_claim(path: Path) -> Claim:
    return Claim(path=str(path), token=uuid.uuid4().hex, host=socket.gethostname(),
                 pid=os.getpid(), created=time.time())


def try_claim(out_dir: str | os.PathLike, digest: str, policy: ClaimPolicy = ClaimPolicy()
              ) -> Claim | None:
    """Claim run ``digest`` for this process: the :class:`Claim`, or ``None`` if a live holder has it.

    A stale claim is taken over (see the module docstring).
    """
    path = claim_path(out_dir, digest)
    make_private_dir(path.parent)
    claim = _new_claim(path)
    for _ in range(2):  # a second try when the claim vanished between create and read
        if _create_exclusive(path, claim.to_dict()):
            return claim
        seen = _snapshot(path)
        if seen is None:
            continue
        if not is_stale(*seen, policy):
            return None
        return claim if _take_over(path, seen, claim, policy) else None
    return None


def _take_over(path: Path, seen: tuple[bytes, int], claim: Claim, policy: ClaimPolicy) -> bool:
    """Replace the stale claim ``seen`` at ``path`` by ``claim``, under a takeover lock."""
    lock = path.with_suffix(".takeover")
    if not _create_exclusive(lock, claim.to_dict()):
        held = _snapshot(lock)  # a taker that died inside this millisecond window
        if held is not None and time.time() - held[1] / 1e9 > policy.stale_after_s:
            lock.unlink(missing_ok=True)
        return False
    try:
        if _snapshot(path) != seen:  # someone else replaced or refreshed it meanwhile
            return False
        path.unlink(missing_ok=True)
        return _create_exclusive(path, claim.to_dict())
    finally:
        lock.unlink(missing_ok=True)


def still_held(claim: Claim) -> bool:
    """Whether ``claim``'s file still holds this claim's token."""
    snap = _snapshot(Path(claim.path))
    data = _parse(snap[0]) if snap is not None else None
    return data is not None and data.get("token") == claim.token


def heartbeat(claim: Claim) -> bool:
    """Refresh ``claim``'s mtime; False (nothing touched) if it was taken over or removed."""
    if not still_held(claim):
        return False
    try:
        os.utime(claim.path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def release(claim: Claim) -> None:
    """Delete ``claim``'s file if it still holds this claim."""
    if still_held(claim):
        Path(claim.path).unlink(missing_ok=True)


@contextmanager
def heartbeating(claim: Claim, interval_s: float) -> Iterator[None]:
    """Refresh ``claim`` every ``interval_s`` seconds from a daemon thread while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval_s):
            if not heartbeat(claim):
                return

    thread = threading.Thread(target=beat, name=f"claim-heartbeat-{Path(claim.path).stem}",
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# ---------------------------------------------------------------------------- one run, once
CLAIMED_ELSEWHERE = "claimed-elsewhere"
DONE_ELSEWHERE = "done-elsewhere"
RAN = "ran"


def run_once(out_dir: str | os.PathLike, digest: str, is_done: Callable[[], bool],
             work: Callable[[], T], policy: ClaimPolicy = ClaimPolicy()) -> tuple[str, T | None]:
    """Run ``work()`` for run ``digest`` unless another process has it or has finished it.

    Claim, then check ``is_done()``, then work while heartbeating, then release (also when
    ``work`` raises). Returns ``(RAN, work())``, ``(CLAIMED_ELSEWHERE, None)`` or
    ``(DONE_ELSEWHERE, None)``. ``work`` must write the run's result before it returns, so that
    the result exists whenever the claim is gone.
    """
    claim = try_claim(out_dir, digest, policy)
    if claim is None:
        return CLAIMED_ELSEWHERE, None
    try:
        if is_done():
            return DONE_ELSEWHERE, None
        with heartbeating(claim, policy.heartbeat_s):
            return RAN, work()
    finally:
        release(claim)


# ---------------------------------------------------------------------------- manifest
MANIFEST_DIR = ".manifest"
#: Suffix of a manifest entry: ``<out>/.manifest/<hash>.sha256`` holds ``{"sha256", "bytes"}``.
MANIFEST_SUFFIX = ".sha256"


def manifest_entry_path(out_dir: str | os.PathLike, digest: str) -> Path:
    """``<out_dir>/.manifest/<digest>.sha256``."""
    return Path(out_dir) / MANIFEST_DIR / f"{digest}{MANIFEST_SUFFIX}"


def content_sha256(content: bytes) -> str:
    """The SHA-256 of ``content``, hexadecimal."""
    return hashlib.sha256(content).hexdigest()


def has_manifest(out_dir: str | os.PathLike) -> bool:
    """Whether the store keeps a manifest (every store written since the manifest exists);
    a symlink at its name is not one."""
    try:
        return stat.S_ISDIR(os.lstat(Path(out_dir) / MANIFEST_DIR).st_mode)
    except OSError:
        return False


def record_digest(out_dir: str | os.PathLike, digest: str, content: bytes) -> None:
    """Record the SHA-256 of result ``digest``'s ``content`` in the store's manifest.

    Called *before* the result file is moved into place, so that a result on disk always has
    its entry (a process killed in between leaves an entry without a result, which the next
    write replaces)."""
    folder = make_private_dir(Path(out_dir) / MANIFEST_DIR)
    write_json_atomic(folder / f"{digest}{MANIFEST_SUFFIX}",
                      {"sha256": content_sha256(content), "bytes": len(content)})


def write_result(out_dir: str | os.PathLike, digest: str, data: Any) -> Path:
    """Write result ``digest``'s JSON ``data`` into the store as a sweep does: its SHA-256
    into the manifest first (:func:`record_digest`), then the file ``<out_dir>/<digest>.json``
    atomically. Returns the file's path."""
    content = dumps_json(data).encode("utf-8")
    record_digest(out_dir, digest, content)
    return write_atomic(Path(out_dir) / f"{digest}.json", content)


def digest_problem(out_dir: str | os.PathLike, digest: str, content: bytes) -> str | None:
    """Why ``content``, read as result ``digest`` of the store, must not be trusted, or
    ``None``: it differs from the digest recorded when it was written (edited), or the store
    keeps a manifest without an entry for it (not written by a sweep on this store). A store
    without a manifest (written before it existed) has nothing to compare: ``None``."""
    if not has_manifest(out_dir):
        return None
    path = manifest_entry_path(out_dir, digest)
    try:
        entry = loads_json(read_limited(path, CLAIM_READ_LIMIT))
    except FileNotFoundError:
        return ("not in the store's manifest (.manifest/): not written by a sweep on this "
                "store, or copied in without its manifest entry")
    except (OSError, ValueError) as exc:
        return f"its manifest entry {path.name} is unreadable ({exc})"
    recorded = entry.get("sha256") if isinstance(entry, dict) else None
    actual = content_sha256(content)
    if recorded != actual:
        return (f"edited after it was written: its SHA-256 is {actual[:12]}..., the manifest "
                f"recorded {str(recorded)[:12]}... when the sweep wrote it")
    return None


def adopt_store(out_dir: str | os.PathLike, names: Iterable[str] | None = None) -> int:
    """Give a store written before manifests existed its manifest: record the digest of every
    result file in it as it is now; return how many. A store that has one is left alone (0).

    The manifest is built in a private temporary folder and renamed into place, so that
    concurrent sweeps on the same store see either no manifest or a complete one."""
    import shutil
    import tempfile

    out = Path(out_dir)
    if has_manifest(out):
        return 0
    building = Path(tempfile.mkdtemp(prefix=f"{MANIFEST_DIR}-new-{os.getpid()}-", dir=out))
    count = 0
    try:
        for path in sorted(out.glob("*.json")) if names is None else [out / n for n in names]:
            try:
                content = read_limited(path, RESULT_FILE_LIMIT)
            except OSError:
                continue  # special or unreadable: moved aside by the sweep, nothing to record
            write_json_atomic(building / f"{path.stem}{MANIFEST_SUFFIX}",
                              {"sha256": content_sha256(content), "bytes": len(content)})
            count += 1
        try:
            os.rename(building, out / MANIFEST_DIR)
        except OSError:  # another sweep adopted it first: theirs stands
            return 0
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    for leftover in out.glob(f"{MANIFEST_DIR}-new-*"):  # of adopters that were killed
        parts = leftover.name.split("-")
        if len(parts) > 2 and parts[2].isdigit() and not pid_alive(int(parts[2])):
            shutil.rmtree(leftover, ignore_errors=True)
    return count
