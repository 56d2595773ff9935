"""Processes (issue 26): workers notice a parent killed with SIGKILL even while it is an
unreaped zombie, and processes that user code detaches are ended when its check ends. Every
case is a real process tree, counted after the command exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from entangled.process_tree import pid_alive, process_state

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the process checks read /proc (Linux)")

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]), **extra}


def _wait_for(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _pids(folder: Path) -> list[int]:
    return [int(p.read_text()) for p in folder.glob("*.pid") if p.read_text().strip()]


# ------------------------------------------------------------------ liveness
def test_a_zombie_counts_as_dead_while_kill_0_still_succeeds():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert _wait_for(lambda: process_state(child.pid) == "Z", 30)
    os.kill(child.pid, 0)  # the old check: succeeds on the zombie
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid) and process_state(child.pid) is None
    assert pid_alive(os.getpid())


def test_end_descendants_ends_a_detached_grandchild(tmp_path):
    """A child that starts a grandchild in a new session and exits: the grandchild is not in
    the child's process group; ended through this process as its subreaper."""
    script = textwrap.dedent(f"""
        import subprocess, sys
        p = subprocess.Popen(["sleep", "300"], start_new_session=True)
        open({str(tmp_path / 'g.pid')!r}, "w").write(str(p.pid))
    """)
    helper = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import subprocess, sys, time
        from entangled.process_tree import become_subreaper, descendants, end_descendants
        assert become_subreaper()
        subprocess.run([sys.executable, "-c", {script!r}], check=True)
        found = descendants()
        print(len(found), end_descendants(), len(descendants()))
    """)], stdout=subprocess.PIPE, text=True, env=_env())
    out, _ = helper.communicate(timeout=120)
    grandchild = int((tmp_path / "g.pid").read_text())
    assert out.split() == ["1", "1", "0"]
    assert _wait_for(lambda: not pid_alive(grandchild), 10)


# ------------------------------------------------------------------ kill -9, parent unreaped
SWEEP = """
    import sys
    from entangled.sweep import run_sweep
    from run_fakes import sleepy_run
    configs = [{"arch": "rnn", "task": "parity", "seed": s} for s in range(6)]
    run_sweep(configs, sys.argv[1], jobs=2, run_fn=sleepy_run, progress=False)
"""


@pytest.mark.slow
def test_workers_stop_when_the_sweep_is_killed_and_left_unreaped(tmp_path):
    """The caller kills the sweep with SIGKILL and keeps reading its pipe without reaping it
    (the sweep stays a zombie, on which ``kill(pid, 0)`` succeeds): its two workers, busy in a
    minute-long run, end within seconds and write nothing."""
    marks = tmp_path / "marks"
    marks.mkdir()
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SWEEP), str(out)],
                            env=_env(ENTANGLED_TEST_MARKS=str(marks)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        assert _wait_for(lambda: len(list(marks.glob("pid-*"))) >= 2, 300), "workers did not start"
        workers = [int(p.name[4:]) for p in marks.glob("pid-*")]
        os.kill(proc.pid, signal.SIGKILL)
        assert _wait_for(lambda: process_state(proc.pid) == "Z", 10)  # killed, not reaped
        start = time.time()
        assert _wait_for(lambda: not any(pid_alive(w) for w in workers), 15), \
            "workers kept training under a zombie parent"
        stopped = time.time() - start
        assert process_state(proc.pid) == "Z"  # still unreaped while they stopped
        assert stopped < 15
        assert not list(out.glob("*.json"))  # nothing written after the kill
        assert len(list(marks.glob("pid-*"))) == 2  # no pending run started
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


# ------------------------------------------------------------------ detached children of user code
DETACHING_CONJECTURES = """
import os, subprocess, sys, time
from entangled.theory import conjecture

MARKS = os.environ["ENTANGLED_TEST_MARKS"]


def _start_detached(tag):
    # a new session (out of the checking process's group) and a double-forked daemon
    p = subprocess.Popen(["sleep", "300"], start_new_session=True)
    open(os.path.join(MARKS, f"{tag}-{p.pid}.pid"), "w").write(str(p.pid))
    code = ("import os, subprocess, sys\\n"
            "if os.fork() == 0:\\n"
            "    os.setsid()\\n"
            "    p = subprocess.Popen(['sleep', '300'])\\n"
            "    open(sys.argv[1], 'w').write(str(p.pid))\\n"
            "    os._exit(0)\\n")
    subprocess.run([sys.executable, "-c", code, os.path.join(MARKS, f"{tag}-daemon.pid")])


@conjecture(families=["identity"], tol=1.0)
def detaches_then_holds(m):
    \"\"\"Starts processes that leave the checker's session, then returns.\"\"\"
    _start_detached("returns")
    return 0.0


@conjecture(families=["identity"], tol=1.0)
def detaches_then_hangs(m):
    \"\"\"Starts processes that leave the checker's session, then hangs past the timeout.\"\"\"
    _start_detached("hangs")
    time.sleep(600)
"""


@pytest.mark.slow
def test_processes_detached_by_conjectures_are_ended_when_verify_exits(tmp_path):
    """One conjecture starts a process in a new session and a double-forked daemon and
    returns; another does the same and hangs until its check times out. After the command
    exits, none of the four processes runs."""
    marks = tmp_path / "marks"
    marks.mkdir()
    source = tmp_path / "detaching.py"
    source.write_text(DETACHING_CONJECTURES)
    done = subprocess.run([sys.executable, "-m", "entangled", "verify", str(source),
                           "--no-builtin", "--examples", "2", "--timeout", "6", "-q"],
                          env=_env(ENTANGLED_TEST_MARKS=str(marks)), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "timed out" in done.stdout + done.stderr
    started = {p.name.split("-")[0] for p in marks.glob("*.pid")}
    assert started == {"returns", "hangs"}
    pids = _pids(marks)
    assert len(pids) >= 4, "the conjectures did not start their processes"
    assert _wait_for(lambda: not any(pid_alive(p) for p in pids), 10), \
        [p for p in pids if pid_alive(p)]


PROBE_FACTORY = """
import os, subprocess, sys
import torch


def make():
    marks = os.environ["ENTANGLED_TEST_MARKS"]
    p = subprocess.Popen(["sleep", "300"], start_new_session=True)
    open(os.path.join(marks, f"f-{p.pid}.pid"), "w").write(str(p.pid))
    return torch.nn.Identity(), torch.randn(2, 4)
"""


@pytest.mark.slow
def test_processes_detached_by_a_probe_factory_are_ended_when_probe_exits(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "detaching_factory.py").write_text(PROBE_FACTORY)
    done = subprocess.run([sys.executable, "-m", "entangled", "probe",
                           "detaching_factory:make", "--no-branch",
                           "--timeout", "60"],
                          cwd=tmp_path, env=_env(ENTANGLED_TEST_MARKS=str(marks)),
                          capture_output=True, text=True, timeout=300)
    started = _pids(marks)
    assert len(started) >= 1, done.stderr[-2000:]
    assert _wait_for(lambda: not any(pid_alive(p) for p in started), 10), \
        [p for p in started if pid_alive(p)]


def test_an_isolated_child_ends_when_its_parent_is_killed_and_left_unreaped(tmp_path):
    """A parent running a check in an isolated child is killed with SIGKILL and left a zombie:
    the child (and the detached process its user code started) end within seconds."""
    marks = tmp_path / "marks"
    marks.mkdir()
    module = tmp_path / "hanging_user.py"
    module.write_text(textwrap.dedent(f"""
        import os, subprocess, time
        def hang():
            p = subprocess.Popen(["sleep", "300"], start_new_session=True)
            open({str(marks / 'd.pid')!r}, "w").write(str(p.pid))
            open({str(marks / 'child.pid')!r}, "w").write(str(os.getpid()))
            time.sleep(600)
    """))
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from entangled.theory.isolation import call_isolated
        call_isolated("hanging_user:hang")
    """)], env=_env(), stdout=subprocess.PIPE)
    try:
        assert _wait_for(lambda: len(_pids(marks)) == 2, 120), "the check did not start"
        started = _pids(marks)
        os.kill(parent.pid, signal.SIGKILL)
        assert _wait_for(lambda: process_state(parent.pid) == "Z", 10)
        assert _wait_for(lambda: not any(pid_alive(p) for p in started), 10), \
            [p for p in started if pid_alive(p)]
        assert process_state(parent.pid) == "Z"
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
