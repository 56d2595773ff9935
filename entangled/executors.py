"""Where the runs of a sweep execute: in this process, in local worker processes, or on Dask.

An executor runs ``fn(*args)`` for a list of keyed calls and yields ``(key, value, error)``
as each call finishes (in completion order): ``value`` is what ``fn`` returned, ``error`` a
one-line description when the call itself failed (a dead worker; exceptions inside ``fn``
are ``fn``'s business). All three are context managers.

* :class:`SerialExecutor` — ``jobs=1``: calls in this process, in order.
* :class:`LocalExecutor` — ``jobs=N``: a process pool (``forkserver``, ``spawn`` where
  unavailable); each worker uses one torch thread and, when several GPUs are visible, GPU
  ``k mod G`` for the ``k``-th worker started (round-robin, :func:`device_for_worker`), so
  ``device="auto"``/``"cuda"`` runs spread over the GPUs.
* :class:`DaskExecutor` — a ``dask.distributed`` cluster at ``--scheduler tcp://host:8786``
  (or ``DASK_SCHEDULER_ADDRESS``); every task uses one torch thread. Needs the optional extra
  ``pip install "entangled[dask]"``. The workers must see the same result directory (a shared
  filesystem) and import the same ``entangled``. GPUs on Dask workers are chosen by the
  cluster (e.g. one worker per GPU with ``CUDA_VISIBLE_DEVICES``, as ``dask-cuda`` does).

:func:`make_executor` builds one from the CLI's ``--executor local|dask``, ``--jobs`` and
``--scheduler``.

Entries registered at run time (an architecture, a task or a family registered by a script,
:mod:`entangled.registry`) travel to the workers of both pools: an executor packs them when it
is created and refuses, with an error naming the entry, one that cannot be sent (then nothing
has trained yet).
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import re
import time
from typing import Any, Callable, Hashable, Iterator, Sequence

from entangled.errors import EntangledError, InvalidParameterError
from entangled.mappings.params import check_positive_int
from entangled.registry import portable_registrations, restore_registrations
from entangled.process_tree import pid_alive, set_parent_death_signal

EXECUTORS = ("local", "dask")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"

Call = tuple[Hashable, tuple]
Outcome = tuple[Hashable, Any, "str | None"]


# ---------------------------------------------------------------------------- GPUs
def device_for_worker(worker_index: int, device_count: int) -> str | None:
    """The CUDA device of local worker ``worker_index`` (0-based): ``cuda:{index mod count}``
    when ``device_count >= 2`` GPUs are visible, ``None`` (leave the default) otherwise."""
    if device_count < 2:
        return None
    return f"cuda:{worker_index % device_count}"


WATCH_PARENT_S = 0.5
#: seconds the terminated workers get, all together, before they are killed
TERMINATE_GRACE_S = 2.0


def _init_local_worker(counter, parent_pid: int | None = None,
                       registrations: bytes | None = None) -> None:
    """Pool initializer: the parent's run-time registrations; one torch thread; pick this
    worker's GPU round-robin; the worker ends when the sweep's process is gone (killed with
    SIGKILL, say, and not yet reaped), so no orphan keeps training.

    Two nets: a watchdog thread that checks every :data:`WATCH_PARENT_S` seconds whether the
    sweep's process still runs (a zombie counts as gone,
    :func:`entangled.process_tree.pid_alive`), and on Linux a parent-death signal (``SIGKILL``)
    from the process that forked this worker, set only when that is the forkserver (whose
    single thread lives as long as it does, and which exits when the sweep's process dies).

    ``torch._dynamo``, which ``torch.optim`` imports on its first use (1-2 s on an idle core),
    is imported here, once per worker, rather than inside the worker's first run (whose
    recorded wall time it would inflate).
    """
    import threading

    import torch
    import torch._dynamo  # warm-up: see the docstring

    restore_registrations(registrations)
    torch.set_num_threads(1)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    assign_gpu(index)
    if parent_pid is not None:
        if os.getppid() != parent_pid:  # forked by the forkserver, not by a sweep thread
            set_parent_death_signal()
        threading.Thread(target=_exit_when_gone, args=(parent_pid,), daemon=True,
                         name="entangled-parent-watch").start()


def _exit_when_gone(pid: int) -> None:
    while True:
        if not pid_alive(pid):
            os._exit(1)
        time.sleep(WATCH_PARENT_S)


def assign_gpu(worker_index: int) -> str | None:
    """Make GPU ``worker_index mod device_count`` this process's current CUDA device (when
    several are visible), so that ``torch.device("cuda")`` means that GPU. Returns it."""
    import torch

    device = device_for_worker(worker_index, torch.cuda.device_count())
    if device is not None:
        torch.cuda.set_device(device)
        os.environ["ENTANGLED_WORKER_DEVICE"] = device
    return device


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _describe(exc: BaseException) -> str:
    return f"worker failed: {exc!r}"


# ---------------------------------------------------------------------------- executors
class SerialExecutor:
    """Runs each call in this process, in order (``jobs=1``)."""

    workers = 1
    name = "1 process"

    def map_unordered(self, fn: Callable, calls: Sequence[Call],
                      on_start: Callable[[Hashable], None] | None = None) -> Iterator[Outcome]:
        for key, args in calls:
            if on_start is not None:
                on_start(key)
            yield key, fn(*args), None

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(SerialExecutor):
    """A pool of ``jobs`` worker processes on this machine (one torch thread each, GPUs
    round-robin). ``fn`` must be a picklable module-level function."""

    def __init__(self, jobs: int):
        self.workers = check_positive_int("jobs", jobs, context="LocalExecutor")
        self.name = f"{self.workers} local worker processes"
        self._pool: futures.ProcessPoolExecutor | None = None
        portable_registrations()  # refuse now what cannot reach the workers

    def _ensure_pool(self) -> futures.ProcessPoolExecutor:
        # the worker processes start on demand (one per call in flight, up to `workers`;
        # Python >= 3.9 with the forkserver or spawn method), so that fewer calls than
        # workers start fewer processes and a pool reused by a larger call grows
        if self._pool is None:
            context = _mp_context()
            counter = context.Value("i", 0)
            self._pool = futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context,
                initializer=_init_local_worker,
                initargs=(counter, os.getpid(), portable_registrations()))
        return self._pool

    def map_unordered(self, fn: Callable, calls: Sequence[Call],
                      on_start: Callable[[Hashable], None] | None = None) -> Iterator[Outcome]:
        if not calls:
            return
        pool = self._ensure_pool()
        pending = {pool.submit(fn, *args): key for key, args in calls}
        for future in futures.as_completed(pending):
            key = pending[future]
            try:
                yield key, future.result(), None
            except Exception as exc:  # the worker died (e.g. out of memory)
                yield key, None, _describe(exc)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def terminate(self) -> None:
        """Stop now (Ctrl-C, SIGTERM): cancel what has not started and terminate the
        workers; results already written stay."""
        if self._pool is None:
            return
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            try:
                process.terminate()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + TERMINATE_GRACE_S  # one grace period for all workers
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1)
        self._pool = None


def _call_with_threads(fn: Callable, args: tuple, torch_threads: int | None,
                       registrations: bytes | None = None) -> Any:
    """Run ``fn(*args)`` on a Dask worker with ``torch_threads`` torch threads, after
    registering the parent's run-time registrations."""
    restore_registrations(registrations)
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    return fn(*args)


def scheduler_address(scheduler: str | None) -> str:
    """``scheduler`` or else ``$DASK_SCHEDULER_ADDRESS``; raise if neither is set."""
    address = scheduler or os.environ.get(SCHEDULER_ENV)
    if not address:
        raise InvalidParameterError(
            "--scheduler", scheduler,
            f"a Dask scheduler address such as tcp://host:8786 (or set {SCHEDULER_ENV})")
    return check_scheduler_address(address, "--scheduler" if scheduler else SCHEDULER_ENV)


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise EntangledError(
            "--executor dask needs dask.distributed: pip install \"entangled[dask]\" "
            f"({exc})") from exc
    return distributed


class DaskExecutor(SerialExecutor):
    """Calls submitted to a ``dask.distributed`` cluster.

    Parameters
    ----------
    scheduler : scheduler address (``tcp://host:8786``); default ``$DASK_SCHEDULER_ADDRESS``.
    client : an existing ``distributed.Client`` instead (e.g. one on a ``dask_jobqueue``
        cluster); it is not closed by :meth:`close`.
    torch_threads : torch threads per task (default 1, like the local workers, so that
        results equal the local executor's).
    """

    def __init__(self, scheduler: str | None = None, *, client=None, torch_threads: int | None = 1):
        distributed = _import_distributed()
        self._own_client = client is None
        if client is None:
            address = scheduler_address(scheduler)
            try:
                client = distributed.Client(address, timeout="30s")
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise InvalidParameterError("--scheduler", address,
                                            f"the address of a running Dask scheduler ({exc})") from None
        self.client = client
        self.torch_threads = torch_threads
        self._registrations = _cluster_registrations()
        n = sum(client.nthreads().values()) if hasattr(client, "nthreads") else 0
        self.workers = max(1, n)
        self.name = f"Dask cluster {getattr(client.scheduler, 'address', '?')} ({n} worker threads)"

    def map_unordered(self, fn: Callable, calls: Sequence[Call],
                      on_start: Callable[[Hashable], None] | None = None) -> Iterator[Outcome]:
        if not calls:
            return
        distributed = _import_distributed()
        registrations = _cluster_registrations()
        pending = {self.client.submit(_call_with_threads, fn, args, self.torch_threads,
                                      registrations, pure=False): key for key, args in calls}
        try:
            for future in distributed.as_completed(list(pending)):
                key = pending[future]
                try:
                    yield key, future.result(), None
                except Exception as exc:  # a worker died, or the task could not be run
                    yield key, None, _describe(exc)
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._own_client and self.client is not None:
            self.client.close()
        self.client = None


def _cluster_registrations() -> bytes:
    """Run-time registrations for Dask workers: cloudpickle (Dask's own serializer) sends what
    a script defines by value, since a Dask worker's ``__main__`` is not the script."""
    import cloudpickle

    return portable_registrations(dumps=cloudpickle.dumps)


def make_executor(executor: Any = "local", *, jobs: int = 1, scheduler: str | None = None):
    """An executor from CLI-style arguments: ``"local"`` (``jobs`` processes; 1: this process)
    or ``"dask"`` (``scheduler`` or ``$DASK_SCHEDULER_ADDRESS``). An executor object is returned
    as is."""
    check_executor(executor, scheduler)
    if hasattr(executor, "map_unordered"):
        return executor
    if executor == "local":
        jobs = check_positive_int("jobs", jobs, context="local executor")
        return SerialExecutor() if jobs == 1 else LocalExecutor(jobs)
    return DaskExecutor(scheduler)


def check_executor(executor: Any, scheduler: str | None = None) -> None:
    """Raise unless ``executor`` is ``"local"``, ``"dask"`` or an executor object, and a
    ``scheduler`` is given only with ``"dask"`` (cheap: connects to nothing)."""
    if hasattr(executor, "map_unordered"):
        return
    if executor not in EXECUTORS:
        raise InvalidParameterError("executor", executor, "one of " + ", ".join(EXECUTORS))
    if executor == "local" and scheduler:
        raise InvalidParameterError("--scheduler", scheduler,
                                    "only with --executor dask (the local executor has none)")
    if scheduler:
        check_scheduler_address(scheduler)


SCHEDULER_ADDRESS = re.compile(r"(?:(tcp|tls|ucx|ws|wss|inproc)://)?([^\s/:]+|\[[0-9a-fA-F:.]+\])"
                               r"(?::(\d{1,5}))?/?")


def check_scheduler_address(address: Any, name: str = "--scheduler") -> str:
    """``address`` if it reads as a Dask scheduler address (``[protocol://]host[:port]``,
    protocol one of tcp, tls, ucx, ws, wss, inproc; port 1-65535), else
    :class:`InvalidParameterError` (connects to nothing)."""
    match = SCHEDULER_ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if match is None or (match.group(3) is not None and not 1 <= int(match.group(3)) <= 65535):
        raise InvalidParameterError(name, address, "a Dask scheduler address "
                                    "[protocol://]host[:port], e.g. tcp://host:8786")
    return address
