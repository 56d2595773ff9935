"""How many local worker processes this machine holds (cores and available memory)."""

from __future__ import annotations

import logging
import os

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
