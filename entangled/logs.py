"""Messages of the library go through :mod:`logging`; the ``entangled`` command configures it.

Library code logs to the loggers of its packages (``entangled.*``, which includes
``entangled.theory.*`` and ``entangled.reports.*``) and never prints: progress notes at ``INFO``, details at ``DEBUG``, problems
that do not stop the work (a skipped result file, a failed run of a sweep) at ``WARNING``.
A program that uses the library decides what to show, e.g.
``logging.getLogger("entangled").setLevel(logging.ERROR)`` to silence the warnings, or
``caplog`` in pytest to capture them. Without any configuration Python shows warnings and
errors on stderr and drops the rest.

The command line calls :func:`configure` with the verbosity of ``-v``/``-q``: ``-q`` shows
warnings only, the default adds the ``INFO`` progress notes, ``-v`` adds ``DEBUG``.
Progress bars (:func:`progress_bar`) are drawn by tqdm on stderr and only on a terminal.
"""

from __future__ import annotations

import logging
import sys

#: Top-level packages whose loggers the command line configures.
PACKAGES = ("entangled",)
#: Logging level by verbosity (``-q`` is -1, the default 0, ``-v`` 1).
LEVELS = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (so that a redirected or
    captured stderr, e.g. pytest's ``capsys``, receives the messages)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it; stderr is always used
        pass


class _Formatter(logging.Formatter):
    """The message alone; warnings and errors prefixed with ``warning:`` / ``error:``."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.ERROR:
            return "error: " + message
        if record.levelno >= logging.WARNING:
            return "warning: " + message
        return message


def level_for(verbosity: int) -> int:
    """The logging level of a verbosity, clamped to ``-1`` (warnings) .. ``1`` (debug)."""
    return LEVELS[max(-1, min(1, int(verbosity)))]


def configure(verbosity: int = 0) -> logging.Handler:
    """Show the library's messages on stderr at the level of ``verbosity`` (see
    :func:`level_for`). Called by the command line; calling it again replaces the handler it
    installed before. Returns the handler."""
    handler = _StderrHandler()
    handler.setFormatter(_Formatter("%(message)s"))
    handler._entangled_cli = True  # type: ignore[attr-defined]
    level = level_for(verbosity)
    for name in PACKAGES:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_entangled_cli", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
    return handler


def progress_bar(total: int, *, enabled: bool = True, description: str = "", unit: str = "run"):
    """A tqdm progress bar on stderr, or a silent stand-in when ``enabled`` is false.

    The bar draws only when stderr is a terminal (tqdm's ``disable=None``): in a log file or a
    pipe it stays quiet. Use ``bar.update(n)``, ``bar.set_postfix_str(text)``, ``bar.close()``.
    """
    from tqdm import tqdm

    return tqdm(total=total, desc=description or None, unit=unit, file=sys.stderr,
                disable=None if enabled else True, dynamic_ncols=True, leave=True)
