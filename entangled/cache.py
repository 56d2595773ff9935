"""The user-level cache: what does not depend on an output directory, kept across reports.

Two things live here: the conjecture ledger of a report (``ledger/``) and generated data
sets such as MNIST-1D (``data/``). Each is a file named by a **key**, a hash of everything its
content depends on (the caller's business: sources, parameters, versions), so that a new
key never reads an old entry.

Location: ``$ENTANGLED_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/entangled``, else
``~/.cache/entangled`` (the folder that :mod:`entangled.theory.isolation` gives hypothesis).
Delete the folder to empty the cache; nothing else refers to it.

Safety:

* **atomic writes** - an entry is written by :func:`entangled.atomic_io.write_atomic` (a
  unique, exclusively created temporary file in the same folder renamed over the entry): a
  reader sees the old file or the new one, never a part, and a symlink planted at the
  entry's name is replaced, never written through;
* **bounded reads** - an entry is read by :func:`entangled.atomic_io.read_limited` (no
  symlink followed, no FIFO waited on, at most :data:`READ_LIMIT` bytes); anything else at
  its name reads as missing, with a warning;
* **concurrent writers** - :meth:`Entry.locked` holds an exclusive ``flock`` on
  ``<entry>.lock`` while the caller computes, so that of several processes wanting the same
  missing entry (the worker processes of a sweep, two reports at once) one computes and the
  others wait and read its result; without the lock (a filesystem that refuses it, or a
  symlink or special file at the lock's name, which is never opened) each computes and the
  last rename wins, which is still correct;
* **verified reads** - an entry starts with a header line holding the SHA-256 of the
  payload; an entry whose payload does not match (a truncated or corrupted file) is removed
  and read as missing, so that it is computed again, never trusted;
* **no cache is no error** - a folder that cannot be created or written makes every read a
  miss and every write a no-op, with one warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Iterator

from entangled.atomic_io import (DEFAULT_READ_LIMIT, UnsafeFileError, open_lock_file,
                                 read_limited, write_atomic)
from entangled.errors import InvalidParameterError

LOGGER = logging.getLogger(__name__)
ENV = "ENTANGLED_CACHE_DIR"
MAGIC = b"entangled-cache 1 sha256="
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_warned: set[str] = set()
#: Largest cache entry read (generated data sets are a few MB).
READ_LIMIT = 4 * DEFAULT_READ_LIMIT

__all__ = ["ENV", "cache_dir", "Entry", "entry"]


def cache_dir() -> Path:
    """``$ENTANGLED_CACHE_DIR``, else ``$XDG_CACHE_HOME/entangled``, else
    ``~/.cache/entangled`` (read at each call, so a test can point it elsewhere)."""
    root = os.environ.get(ENV)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "entangled")
    return Path(root)


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        LOGGER.warning(message)


class Entry:
    """One cache file: :meth:`read` (verified), :meth:`write` (atomic), :meth:`locked`."""

    def __init__(self, path: Path):
        self.path = path

    def _folder(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _warn_once(f"cache folder {self.path.parent} cannot be created ({exc.strerror}); "
                       f"working without a cache (set {ENV} to another folder)")
            return False
        return True

    def read(self) -> bytes | None:
        """The payload, or ``None`` when missing, unreadable or corrupted (then removed)."""
        try:
            content = read_limited(self.path, READ_LIMIT)
        except UnsafeFileError as exc:
            _warn_once(f"cache entry {self.path} is not used ({exc}); computing it again")
            return None
        except OSError:
            return None
        header, newline, payload = content.partition(b"\n")
        expected = header[len(MAGIC):].decode("ascii", "replace") if header.startswith(MAGIC) else ""
        if newline and expected == hashlib.sha256(payload).hexdigest():
            return payload
        LOGGER.warning("cache entry %s is corrupted (checksum mismatch); computing it again",
                       self.path)
        with contextlib.suppress(OSError):
            self.path.unlink()
        return None

    def write(self, payload: bytes) -> bool:
        """Write ``payload`` atomically; ``False`` (with one warning) when the folder is not
        writable."""
        if not self._folder():
            return False
        header = MAGIC + hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n"
        try:
            write_atomic(self.path, header + payload)
        except OSError as exc:
            _warn_once(f"cache entry {self.path} cannot be written ({exc}); working without "
                       f"it (set {ENV} to another folder)")
            return False
        return True

    @contextlib.contextmanager
    def locked(self) -> Iterator["Entry"]:
        """Hold an exclusive lock on ``<entry>.lock`` in the block (released when the block
        ends or the process dies); a filesystem without ``flock`` runs the block unlocked."""
        import fcntl

        if not self._folder():
            yield self
            return
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            handle = os.fdopen(open_lock_file(lock), "r+b")
        except UnsafeFileError as exc:
            _warn_once(f"cache lock {lock} is not used ({exc}); working unlocked")
            yield self
            return
        except OSError:
            yield self
            return
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            except OSError:
                pass
            yield self


def entry(namespace: str, name: str, root: Path | None = None) -> Entry:
    """The cache file ``<root>/<namespace>/<name>`` (``root`` defaults to :func:`cache_dir`).
    ``namespace`` and ``name`` are plain file names (letters, digits, ``_.-``)."""
    for label, value in (("namespace", namespace), ("name", name)):
        if not (isinstance(value, str) and _NAME.match(value) and value not in (".", "..")):
            raise InvalidParameterError(label, value, "a file name of letters, digits, '_', '.', '-'")
    return Entry((cache_dir() if root is None else Path(root)) / namespace / name)
