"""The result files of a sweep's directory: where a run's file is, reading and checking it,
setting bad files aside, and preparing the directory.

Each run is stored as ``<out_dir>/<config_hash>.json`` (the schema-versioned JSON of its
:class:`~entangled.runs.RunResult`), written atomically (:func:`entangled.store.write_result`).
Before a sweep trusts a file it validates it (:func:`read_result`); files are never deleted,
only moved into one of :data:`SET_ASIDE` (see :mod:`entangled.sweep`). Results are read as
JSON only (never pickle).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from entangled.atomic_io import loads_json, make_private_dir, read_limited
from entangled.errors import EntangledError, InvalidParameterError
from entangled.process_tree import pid_alive
from entangled.runs import (SCHEMA_VERSION, SUPERSEDED_SCHEMAS, ResultFileError, RunResult,
                            config_hash, result_from_json, schema_of, superseded_reason)
from entangled.store import (CLAIMS_DIR, MANIFEST_DIR, RESULT_FILE_LIMIT, ClaimPolicy,
                             claim_is_live, digest_problem)
from entangled.sweep.summary import SweepSummary
from entangled.train import resolve_device

#: The sweep's logger (one name for every module of :mod:`entangled.sweep`).
LOGGER = logging.getLogger("entangled.sweep")

#: Folders of a result directory that files are moved into (never deleted).
SET_ASIDE = ("invalid", "stale", "superseded")


def result_path(out_dir: str | os.PathLike, digest: str) -> Path:
    """The result file of run ``digest`` (its config hash) in ``out_dir``."""
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
        LOGGER.warning(f"result file {path} ({reason}); moved to {moved}")
        if summary is not None:
            summary.superseded.append({"path": str(path), "reason": reason,
                                       "moved_to": str(moved)})


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
            LOGGER.warning(f"skipping {'superseded' if exc.kind == 'superseded' else 'invalid'} "
                           f"result file {path}: {exc.reason}")
            continue
        out.append(result)
    return sorted(out, key=lambda r: r.config_hash)


def prepare_out_dir(out: Path) -> None:
    """Create the result directory ``out`` and the folders a sweep writes into; refuse a path
    that is a file, cannot be created or written, or whose folders are not folders of its
    own (a symlink, a special file)."""
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
