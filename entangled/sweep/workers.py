"""How many local worker processes this machine holds (cores and available memory)."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Iterator

from entangled.executors import LocalExecutor

#: The sweep's logger (one name for every module of :mod:`entangled.sweep`).
LOGGER = logging.getLogger("entangled.sweep")

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


def capped_jobs(jobs: int) -> int:
    """``jobs`` local workers, or :func:`local_worker_limit` with a warning when that is
    fewer."""
    limit = local_worker_limit()
    if jobs > limit:
        LOGGER.warning("run_sweep: jobs=%d capped to %d, the worker processes this machine holds "
                       "(one per core, about %d MB of available memory each)",
                       jobs, limit, WORKER_MEMORY_BYTES // 2**20)
        return limit
    return jobs


@contextlib.contextmanager
def shared_workers(executor: Any = "local", jobs: int = 1) -> Iterator[Any]:
    """The executor to pass to several :func:`~entangled.sweep.run_sweep` calls in a row (a
    staged report's stages), so that their runs share one set of worker processes: for
    ``executor="local"`` and ``jobs > 1``, one :class:`~entangled.executors.LocalExecutor`
    of :func:`capped_jobs` workers, started on first use and stopped on leaving the block
    (terminated at once on Ctrl-C or an error, as a sweep's own pool is); anything else is
    passed through unchanged (each sweep then makes its own executor, as without this).

    Each sweep would otherwise start fresh workers, which import torch and load their tasks
    again (seconds per worker, with the cores idle)."""
    if executor != "local" or jobs <= 1:
        yield executor
        return
    pool = LocalExecutor(capped_jobs(jobs))
    try:
        yield pool
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.close()
