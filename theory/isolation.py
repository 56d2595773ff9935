"""Running user code in a child process: exits, crashes and hangs become error records.

User code (conjecture files, probe factories) may call ``sys.exit``, ``os._exit``, raise
``KeyboardInterrupt``, crash the interpreter or loop forever. None of that may decide the exit
status of ``entangled verify`` or hide the verdicts of the other conjectures, so such code runs
in a :class:`Worker`: a child Python process that executes calls ``module:function(*args)`` of
*trusted* functions (theory's own, which in turn run the user code) and answers each with a
:class:`CallResult`:

* the call returns: ``ok``, with the JSON-decoded return value;
* the call raises anything, ``BaseException`` included (``SystemExit``, ``KeyboardInterrupt``
  raised by user code): ``reason="raised"`` with the traceback; the child stays alive;
* the child dies (``os._exit``, a segfault, a kill): ``reason="exited"`` with its exit status;
  the next call starts a fresh child;
* the call runs longer than its ``timeout`` seconds: the child (and anything it started) is
  killed, ``reason="timeout"``; the next call starts a fresh child.

Arguments and return values travel as JSON lines over private pipes (no pickle); the child's
``stdout`` is redirected to its ``stderr`` so that prints of user code cannot corrupt the
protocol. The child runs in its own session, so Ctrl-C in the terminal reaches only the parent
(which stops the child on its way out), and it exits by itself when the parent dies: its
request pipe closes (also while the dead parent is a zombie nobody has reaped), which a
watcher thread notices within :data:`WATCH_PARENT_S` seconds.

Processes that user code starts are ended when its call ends, also those it detached into a
new session (``start_new_session=True``) or by a double fork: on Linux the child is a *child
subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so every orphaned descendant becomes its child
instead of init's, and after each call it stops and kills all of its descendants
(:func:`entangled.process_tree.end_descendants`); a child that is stopped (timeout, close) has
its whole tree ended first. Elsewhere only the child's process group is ended.

This is isolation against crashes, exits, hangs and stray processes, **not a sandbox**: user
code runs with the user's rights and can read the environment and files and write anywhere
the user can.

The child uses the parent's ``sys.path``, and hypothesis' storage directory (example database,
constants cache) is :func:`hypothesis_cache_dir`, never ``.hypothesis/`` in the working
directory.

:func:`call_isolated` is the one-shot form (one fresh child per call), e.g. for a probe
factory::

    from entangled.theory.isolation import call_isolated
    result = call_isolated("entangled.theory.cli_probe:probe_target", "my_blocks.py:make", timeout=60)
    if not result.ok:
        print(result.error)
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entangled.cache import cache_dir
from entangled.process_tree import become_subreaper, end_descendants, pid_alive

#: Seconds a fresh child may take to import its ``preload`` modules (torch included).
STARTUP_TIMEOUT = 300.0

_EOF = object()  # marker: the child's reply pipe is closed
_BOOTSTRAP = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
              "from entangled.theory.isolation import child_main; child_main(sys.argv[2:])")


def hypothesis_cache_dir() -> Path:
    """Where hypothesis stores its data for ``entangled`` runs: the subfolder ``hypothesis``
    of the user-level cache (:func:`entangled.cache.cache_dir`: ``$ENTANGLED_CACHE_DIR`` or
    ``$XDG_CACHE_HOME/entangled``, default ``~/.cache/entangled``)."""
    return cache_dir() / "hypothesis"


@dataclass
class CallResult:
    """Outcome of one isolated call.

    Attributes
    ----------
    ok : the call returned.
    value : its return value (JSON round-tripped) when ``ok``.
    reason : ``"ok"``, ``"raised"``, ``"exited"`` or ``"timeout"``.
    error : traceback or description when not ``ok``.
    seconds : wall time of the call.
    """

    ok: bool
    value: Any = None
    reason: str = "ok"
    error: str | None = None
    seconds: float = 0.0


class WorkerStartError(RuntimeError):
    """The child process could not start (its imports failed or took too long)."""


class Worker:
    """A child process executing trusted calls one at a time (see the module docstring).

    Parameters
    ----------
    preload : module names the child imports before it reports ready, so that their import
        time never counts against a call's ``timeout``.
    """

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        self.preload = tuple(preload)
        self._proc: subprocess.Popen | None = None
        self._replies: int | None = None
        self._buffer = b""
        self._ready = False
        self.starts = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the child now (it imports ``preload`` in the background); idempotent."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._discard()
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(hypothesis_cache_dir()))
        cmd = [sys.executable, "-c", _BOOTSTRAP, json.dumps(sys.path), str(write_fd),
               *self.preload]
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          pass_fds=(write_fd,), env=env, start_new_session=True)
        finally:
            os.close(write_fd)
        self._replies, self._buffer, self._ready = read_fd, b"", False
        self.starts += 1

    def _wait_ready(self) -> None:
        if self._ready:
            return
        line = self._read_line(time.monotonic() + STARTUP_TIMEOUT)
        if line is None or line is _EOF or not line.get("ready"):
            detail = (line.get("error") if isinstance(line, dict) else None) or self._death_text()
            self._discard()
            raise WorkerStartError(f"the isolated worker process did not start: {detail}")
        self._ready = True

    def close(self) -> None:
        """Stop the child (and everything it started)."""
        self._discard()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten worker must not outlive its owner
        try:
            self._discard()
        except Exception:
            pass

    def _discard(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                end_descendants(proc.pid)  # detached ones included: the child is a subreaper
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        if self._replies is not None:
            os.close(self._replies)
            self._replies = None
        self._buffer = b""

    # ------------------------------------------------------------------ calls
    def call(self, function: str, *args: Any, timeout: float | None = None) -> CallResult:
        """Run ``function`` (``"module:name"``, a trusted function taking and returning
        JSON-able values) with ``args`` in the child; never raises for what the call does."""
        self.start()
        self._wait_ready()
        start = time.monotonic()
        request = json.dumps({"function": function, "args": list(args)}) + "\n"
        try:
            self._proc.stdin.write(request.encode())
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._exited(start)
        deadline = None if timeout is None else start + timeout
        reply = self._read_line(deadline)
        seconds = time.monotonic() - start
        if reply is _EOF:
            return self._exited(start)
        if reply is None:
            self._discard()
            return CallResult(False, reason="timeout", seconds=seconds,
                              error=f"timed out after {timeout:g} s (the time limit of one "
                                    "check; see --timeout); the process was stopped")
        if reply.get("ok"):
            return CallResult(True, value=reply.get("value"), seconds=seconds)
        return CallResult(False, reason="raised", error=reply.get("error"), seconds=seconds)

    def _exited(self, start: float) -> CallResult:
        text = self._death_text()
        self._discard()
        return CallResult(False, reason="exited", seconds=time.monotonic() - start,
                          error=f"the process running it exited: {text}")

    def _death_text(self) -> str:
        proc = self._proc
        if proc is None:
            return "not running"
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "no answer"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f"killed by signal {name}"
        return f"exit status {code} (e.g. os._exit({code}) or a crash)"

    def _read_line(self, deadline: float | None) -> dict | object | None:
        """The next JSON reply, :data:`_EOF` when the child closed its end (it died), or None
        when ``deadline`` passes."""
        while b"\n" not in self._buffer:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return None
            ready, _, _ = select.select([self._replies], [], [], wait)
            if not ready:
                return None
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                return _EOF
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


def call_isolated(function: str, *args: Any, timeout: float | None = None,
                  preload: tuple[str, ...] = ()) -> CallResult:
    """Run one trusted call in a fresh child process (see :class:`Worker`)."""
    with Worker(preload) as worker:
        return worker.call(function, *args, timeout=timeout)


# ---------------------------------------------------------------------------- child
def _resolve(function: str):
    import importlib

    module_name, _, name = function.partition(":")
    target = importlib.import_module(module_name)
    for part in name.split("."):
        target = getattr(target, part)
    return target


#: Seconds between the child's checks that its parent is still there.
WATCH_PARENT_S = 0.5


def _parent_gone(parent: int, requests_fd: int) -> bool:
    """The request pipe has no writer left (the parent exited, reaped or not), or the parent
    is gone or a zombie, or this process was re-parented."""
    poller = select.poll()
    poller.register(requests_fd, 0)  # POLLHUP and POLLERR are always reported
    if any(event & (select.POLLHUP | select.POLLERR | select.POLLNVAL)
           for _, event in poller.poll(0)):
        return True
    return os.getppid() != parent or not pid_alive(parent)


def _watch_parent(parent: int, requests_fd: int) -> None:
    """End this process and its descendants when the parent is gone."""
    while True:
        time.sleep(WATCH_PARENT_S)
        if _parent_gone(parent, requests_fd):
            end_descendants()
            os._exit(1)


def _send(out, message: dict) -> None:
    try:
        text = json.dumps(message)
    except (TypeError, ValueError) as exc:
        text = json.dumps({"ok": False, "error": f"the result is not JSON data: {exc}"})
    out.write(text.encode() + b"\n")
    out.flush()


def child_main(argv: list[str]) -> None:
    """Entry point of the child: serve requests from stdin until it closes."""
    reply_fd, preload = int(argv[0]), argv[1:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(reply_fd, "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # prints of user code go to stderr, never into the protocol
    become_subreaper()
    threading.Thread(target=_watch_parent, args=(os.getppid(), requests.fileno()),
                     daemon=True).start()
    try:
        import importlib

        for name in preload:
            importlib.import_module(name)
    except BaseException:
        _send(replies, {"ready": False, "error": traceback.format_exc()})
        return
    _send(replies, {"ready": True})
    for line in requests:
        request = json.loads(line)
        try:
            value = _resolve(request["function"])(*request["args"])
            message = {"ok": True, "value": value}
        except BaseException:  # user code's SystemExit / KeyboardInterrupt included
            message = {"ok": False, "error": traceback.format_exc()}
        end_descendants()  # what the call started ends with it, detached or not
        sys.stdout.flush()
        _send(replies, message)
    end_descendants()
