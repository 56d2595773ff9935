"""Files the tool writes and reads back: atomic, never through a symlink, never unbounded.

One helper family for every file ``entangled`` writes (result files, the store manifest,
pages, summaries, caches, figures, checkpoints, ``--json`` outputs) and for the files it reads
back from an output directory:

* :func:`write_atomic` (and :func:`write_json_atomic`, :func:`write_text_atomic`): the content
  goes to a temporary file created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` under a unique name
  (``.<stem>.<pid>.<random>.tmp``, in the target's directory), is flushed and fsync'ed, then
  moved over the target with :func:`os.replace`. A planted symlink at the temporary name is
  impossible (the name is new and created exclusively) and a symlink at the target is replaced,
  never written through; a failure (disk full, a directory in the way) removes the temporary
  file and raises :class:`OutputError` naming the path.
* :func:`read_limited`: opens with ``O_NOFOLLOW | O_NONBLOCK``, accepts only a regular file of
  at most ``limit`` bytes, and raises :class:`UnsafeFileError` saying what the path is instead
  (a symlink, a FIFO, a device, a directory, too large), so that a planted special file can
  neither hang a reader nor exhaust its memory. :func:`loads_json` parses strict JSON and turns
  pathological nesting into a :class:`ValueError`.
* :func:`open_lock_file`: a lock file opened without following a symlink (``.report.lock``).
* :func:`make_private_dir`: a directory the tool creates inside an output root (``runs/``,
  ``invalid/``, ``.claims/``, ...), refused when a symlink stands at its name.
* :func:`check_path_name`: a name that becomes one path component (a suite name): no
  separator, no ``..``, not absolute.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

from entangled.errors import InvalidParameterError

__all__ = ["OutputError", "UnsafeFileError", "check_path_name", "describe_file_type", "dumps_json",
           "loads_json", "make_private_dir", "open_lock_file", "read_limited", "umask",
           "write_atomic", "write_json_atomic", "write_text_atomic"]

#: Flags of every read of a file the tool finds in an output directory.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
    | getattr(os, "O_CLOEXEC", 0)

#: Default cap of :func:`read_limited` (a result file with every metric is ~100 kB).
DEFAULT_READ_LIMIT = 64 * 2**20

PATH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class OutputError(OSError):
    """A file could not be written (disk full, not writable, a directory in the way); the
    message names the path. No temporary file is left behind."""


class UnsafeFileError(OSError):
    """A file the tool reads back is not a regular file of bounded size (a symlink, FIFO,
    device, directory, or larger than the limit)."""


# ----------------------------------------------------------------------------- writing
def umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - no /proc: read by setting and restoring
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, write: Callable[[Any], None] | bytes | str) -> Path:
    """Write a file atomically through a uniquely named, exclusively created temporary file.

    Parameters
    ----------
    path : the target. Its directory must exist. A symlink at ``path`` is replaced by the new
        file (its target is never written); a directory at ``path`` is an error.
    write : the content (``bytes`` or ``str``, UTF-8), or a function that writes it to the
        binary file object it is given (e.g. ``lambda fh: torch.save(obj, fh)``).

    Returns the path. Raises :class:`OutputError` (an ``OSError``) naming the path when the
    file cannot be written; the temporary file is removed first.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}.", suffix=".tmp",
                                   dir=path.parent)
    except OSError as exc:
        raise _output_error(path, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as fh:
            if callable(write):
                write(fh)
            else:
                fh.write(write.encode("utf-8") if isinstance(write, str) else write)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _output_error(path, exc) from None
        raise
    return path


def _output_error(path: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    return OutputError(exc.errno, f"cannot write {path}: {reason}")


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """:func:`write_atomic` for UTF-8 text."""
    return write_atomic(path, text)


def dumps_json(data: Any) -> str:
    """``data`` as the tool writes JSON files: strict (no NaN), indented, sorted keys."""
    return json.dumps(data, indent=1, sort_keys=True, allow_nan=False)


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as strict JSON (:func:`dumps_json`) with :func:`write_atomic`.

    The file gets the permissions of a normally created file (the user's umask).
    """
    return write_atomic(path, dumps_json(data))


# ----------------------------------------------------------------------------- reading
def describe_file_type(mode: int) -> str:
    """What a ``st_mode`` is, in words (``"a FIFO"``, ``"a directory"``, ...)."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def read_limited(path: str | os.PathLike, limit: int = DEFAULT_READ_LIMIT) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Never follows a symlink at ``path``, never blocks on a FIFO, never reads a device.
    Raises :class:`UnsafeFileError` for anything but a regular file of at most ``limit``
    bytes, :class:`FileNotFoundError` when it does not exist, ``OSError`` when unreadable.
    """
    path = Path(path)
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(errno.ELOOP, f"{path} is a symbolic link (not followed)") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(errno.EINVAL, f"{path} is {describe_file_type(info.st_mode)}, "
                                                "not a regular file")
        if info.st_size > limit:
            raise UnsafeFileError(errno.EFBIG, f"{path} has {info.st_size} bytes, more than "
                                               f"the {limit} allowed")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UnsafeFileError(errno.EFBIG, f"{path} grew beyond the {limit} bytes allowed")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard constant {name}")


def loads_json(data: bytes | str) -> Any:
    """Strict JSON (no NaN/Infinity); too deeply nested input is a :class:`ValueError`
    (``UnicodeDecodeError`` is one too), never a ``RecursionError``."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


# ----------------------------------------------------------------------------- places
def open_lock_file(path: str | os.PathLike) -> int:
    """Open (create) the lock file ``path`` read-write without following a symlink at it;
    return the descriptor. Raises :class:`UnsafeFileError` for a symlink or a non-regular file."""
    path = Path(path)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(errno.ELOOP, f"{path} is a symbolic link (not followed)") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UnsafeFileError(errno.EINVAL, f"{path} is {describe_file_type(mode)}, not a "
                                            "regular file")
    return fd


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create the directory ``path`` (its parent must exist) unless it exists; refuse a
    symlink or anything but a directory at that name (:class:`UnsafeFileError`), so that the
    files the tool puts there stay under the output root."""
    path = Path(path)
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    mode = os.lstat(path).st_mode
    if not stat.S_ISDIR(mode):
        raise UnsafeFileError(errno.ENOTDIR, f"{path} is {describe_file_type(mode)}, not a "
                                             "directory (the tool creates it itself; move it away)")
    return path


def check_path_name(name: Any, parameter: str = "name") -> str:
    """``name`` if it can be one path component: 1-128 characters from ``A-Z a-z 0-9 . _ -``,
    starting with a letter or digit (so no separator, no ``..``, not absolute, not hidden);
    else :class:`~entangled.errors.InvalidParameterError`."""
    if not isinstance(name, str) or not PATH_NAME.fullmatch(name):
        raise InvalidParameterError(parameter, name,
                                    "1-128 characters from A-Z a-z 0-9 . _ - starting with a "
                                    "letter or digit (it becomes a folder name: no '/', no "
                                    "'..', not an absolute path)")
    return name

