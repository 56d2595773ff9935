"""The progress of a sweep: a tqdm bar on a terminal, log lines anywhere else."""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable

from tqdm import tqdm

#: The sweep's logger (one name for every module of :mod:`entangled.sweep`).
LOGGER = logging.getLogger("entangled.sweep")


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
