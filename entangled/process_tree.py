"""Processes the tool starts: liveness that sees zombies, parent-death signals, subreapers.

Three things go wrong with child processes when a parent dies or user code misbehaves, and
this module holds the checks and remedies the sweep's workers and the isolated children of
user code (:mod:`entangled.theory.isolation`) use:

* **A zombie looks alive.** ``os.kill(pid, 0)`` succeeds on a process that has exited but was
  not yet reaped by its own parent (a caller still reading its pipes). :func:`pid_alive`
  reads the process state on Linux (``/proc/<pid>/stat``) and counts a zombie as dead.
* **A worker outlives its parent.** :func:`set_parent_death_signal` asks the kernel (Linux
  ``prctl(PR_SET_PDEATHSIG)``) to send a signal when the parent dies. The signal follows the
  *thread* that created the child, so it is only safe in a child created by its parent's main
  thread for that parent's whole life (the forkserver's workers); elsewhere a watcher polls.
* **User code detaches descendants** (``start_new_session=True``, double forks): they leave the
  child's process group and are re-parented to init when their parent exits.
  :func:`become_subreaper` (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``) makes orphaned descendants
  children of the calling process instead, so :func:`descendants` finds every one of them and
  :func:`end_descendants` stops them all (stopped first, so that none can fork away while the
  others are being killed).

Elsewhere than Linux the prctl calls are no-ops that return ``False`` and :func:`descendants`
finds nothing; process groups are then the only net (documented in the README).
"""

from __future__ import annotations

import os
import signal
import sys
import time

__all__ = ["become_subreaper", "descendants", "end_descendants", "pid_alive", "process_state",
           "set_parent_death_signal"]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return False


def set_parent_death_signal(signum: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``signum`` to this process when the thread that created it
    exits (Linux); ``False`` where unsupported. Call it in the child, then check the parent is
    still there (it may have died before the call)."""
    return _prctl(PR_SET_PDEATHSIG, int(signum))


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux); ``False`` where
    unsupported."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def process_state(pid: int) -> str | None:
    """The state letter of process ``pid`` (``"R"``, ``"S"``, ``"Z"`` for a zombie, ...) from
    ``/proc``; ``None`` when there is no such process or no ``/proc``."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except (OSError, ValueError, OverflowError):
        return None
    return text.rpartition(")")[2].split()[0] if ")" in text else None


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host: it exists and is not a zombie (an exited
    process nobody has reaped yet counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    except (OverflowError, ValueError, TypeError):
        return False
    return process_state(pid) not in ("Z", "X")


def _parents() -> dict[int, int]:
    """``{pid: parent pid}`` of every process visible in ``/proc`` (empty without ``/proc``)."""
    out: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                text = fh.read().decode("ascii", "replace")
            out[int(name)] = int(text.rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def descendants(pid: int | None = None) -> list[int]:
    """Every live descendant of ``pid`` (default: this process), parents before children."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    out, frontier = [], [root]
    while frontier:
        nxt = []
        for parent in frontier:
            for child in children.get(parent, ()):
                if child != root and child not in out:
                    out.append(child)
                    nxt.append(child)
        frontier = nxt
    return out


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_children() -> None:
    """Reap every exited child of this process (without blocking)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def end_descendants(pid: int | None = None, *, rounds: int = 20) -> int:
    """Stop and kill every descendant of ``pid`` (default: this process, which then reaps
    them); return how many were ended.

    Each round stops the processes found (``SIGSTOP``, so that none forks while the others are
    killed), kills them (``SIGKILL``) and looks again, until a round finds none (orphans of a
    killed process reach a subreaper in between).
    """
    mine = pid is None or pid == os.getpid()
    ended: set[int] = set()
    for _ in range(rounds):
        found = [p for p in descendants(pid) if pid_alive(p)]
        if not found:
            break
        for p in found:
            _signal(p, signal.SIGSTOP)
        for p in found:
            _signal(p, signal.SIGKILL)
        ended.update(found)
        if mine:
            _reap_children()
        time.sleep(0.01)
    if mine:
        _reap_children()
    return len(ended)
