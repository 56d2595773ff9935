"""Tests of ``entangled verify``: table, JSON, exit status, load errors, real command."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from entangled.cli import main

GOOD = '''
from entangled.theory import conjecture


@conjecture(families=["rotation"], n=(1, 8))
def rotation_is_isometry(m):
    """Rotations keep every singular value at 1."""
    return float((m.singular_values() - 1).abs().max())


@conjecture(families=["identity"], expected="falsified", n=(1, 10))
def identity_is_small(m):
    """Believed false: every identity has n <= 3."""
    return m.n <= 3
'''

WRONG = '''
from entangled.theory import conjecture


@conjecture(families=["orthogonal"], n=(1, 10))
def orthogonal_is_small(m):
    """Wrong: every orthogonal mapping has n <= 3."""
    return m.n <= 3
'''


@pytest.fixture()
def files(tmp_path):
    good = tmp_path / "good_claims.py"
    good.write_text(textwrap.dedent(GOOD))
    wrong = tmp_path / "wrong_claims.py"
    wrong.write_text(textwrap.dedent(WRONG))
    broken = tmp_path / "broken_claims.py"
    broken.write_text("import this_module_does_not_exist_anywhere\n")
    return good, wrong, broken


def test_all_matching_exits_0_and_writes_json(files, tmp_path, capsys):
    good, _, _ = files
    out = tmp_path / "ledger.json"
    assert main(["verify", str(good), "--no-builtin", "--examples", "10",
                 "--json", str(out)]) == 0
    text = capsys.readouterr()
    assert "good_claims.rotation_is_isometry" in text.out and "holds" in text.out
    assert 'identity_is_small(E.make_mapping("identity", 4)))' in text.out  # snippet printed
    assert "2 checks: 0 proved, 1 hold, 1 falsified, 0 error; 2 match" in text.out
    assert "[1/2]" in text.err and "[2/2]" in text.err  # progress on stderr
    data = json.loads(out.read_text())
    assert data["summary"]["matching"] == 2
    verdicts = {e["conjecture"]: e["verdict"] for e in data["entries"]}
    assert verdicts == {"good_claims.rotation_is_isometry": "holds",
                        "good_claims.identity_is_small": "falsified"}


def test_mismatch_exits_1_with_counterexample(files, capsys):
    _, wrong, _ = files
    assert main(["verify", str(wrong), "--no-builtin", "-q"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "counterexample (n=4" in out
    assert capsys.readouterr().err == ""  # -q: no progress


def test_broken_file_is_reported_and_others_still_run(files, capsys):
    good, _, broken = files
    assert main(["verify", str(broken), str(good), "--no-builtin", "--examples", "5"]) == 2
    out = capsys.readouterr().out
    assert "LOAD ERROR" in out and "this_module_does_not_exist_anywhere" in out
    assert "good_claims.rotation_is_isometry" in out


def test_directory_and_family_filter(files, capsys):
    good, _, broken = files
    broken.unlink()
    assert main(["verify", str(good.parent), "--no-builtin", "--family", "orthogonal",
                 "--examples", "5"]) == 1
    out = capsys.readouterr().out
    assert "wrong_claims.orthogonal_is_small" in out and "rotation_is_isometry" not in out


@pytest.mark.parametrize("argv", [
    ["verify", "--examples", "0"],
    ["verify", "--examples", "many"],
    ["verify", "--seed", "-3"],
])
def test_bad_options_are_usage_errors(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_unknown_family_and_missing_path_exit_2(files, capsys):
    good, _, _ = files
    assert main(["verify", str(good), "--no-builtin", "--family", "nope"]) == 2
    assert "invalid family='nope'" in capsys.readouterr().err
    assert main(["verify", "--no-builtin"]) == 2
    assert main(["verify", "missing_dir/none.py", "--no-builtin"]) == 2


def test_real_command_and_snippet_in_fresh_processes(files, tmp_path):
    _, wrong, _ = files
    out = tmp_path / "l.json"
    env = dict(os.environ, PYTHONPATH="")
    cmd = [sys.executable, "-m", "entangled.cli", "verify", str(wrong), "--no-builtin",
           "--json", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    cx = json.loads(out.read_text())["entries"][0]["counterexample"]
    rerun = subprocess.run([sys.executable, "-c", cx["snippet"]], capture_output=True,
                           text=True, cwd=tmp_path, env=env)
    assert rerun.stdout.strip() == str(cx["value"]) == "False"
    assert not (tmp_path / ".hypothesis").exists()  # issue 16 item 8: no litter in the cwd


# ----------------------------------------------------------------- isolation of user code
HOSTILE = '''
import os
import sys

from entangled.theory import conjecture


@conjecture(families=["rotation"], n=(1, 4))
def calls_sys_exit(m):
    """Exits the interpreter with status 0."""
    sys.exit(0)


@conjecture(families=["rotation"], n=(1, 4))
def calls_os_exit(m):
    """Ends the process without cleanup."""
    os._exit(0)


@conjecture(families=["rotation"], n=(1, 4))
def never_returns(m):
    """Loops forever."""
    while True:
        pass


@conjecture(families=["rotation"], n=(1, 4))
def raises_keyboard_interrupt(m):
    """Pretends to be Ctrl-C."""
    raise KeyboardInterrupt


@conjecture(families=["rotation"], n=(1, 4))
def still_checked(m):
    """Runs after all of the above."""
    return True
'''


def test_exits_crashes_and_hangs_of_user_code_are_error_verdicts(tmp_path, capsys):
    """Issue 10 item 1: sys.exit / os._exit (in a conjecture or at import), KeyboardInterrupt
    and an endless loop are recorded errors; the rest runs, the ledger is written, exit 2."""
    (tmp_path / "hostile.py").write_text(textwrap.dedent(HOSTILE))
    (tmp_path / "exits_at_import.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "os_exit_at_import.py").write_text("import os\nos._exit(0)\n")
    out = tmp_path / "ledger.json"
    status = main(["verify", str(tmp_path), "--no-builtin", "--examples", "3", "--timeout", "3",
                   "--json", str(out)])
    text = capsys.readouterr()
    assert status == 2  # load errors; never 0
    data = json.loads(out.read_text())
    verdicts = {e["short_name"]: e["verdict"] for e in data["entries"]}
    assert verdicts == {"hostile.calls_sys_exit": "error", "hostile.calls_os_exit": "error",
                        "hostile.never_returns": "error",
                        "hostile.raises_keyboard_interrupt": "error",
                        "hostile.still_checked": "holds"}
    errors = {e["short_name"]: e["error"] for e in data["entries"]}
    assert "SystemExit: 0" in errors["hostile.calls_sys_exit"]
    assert "exit status 0" in errors["hostile.calls_os_exit"]
    assert "timed out after 3 s" in errors["hostile.never_returns"]
    assert "KeyboardInterrupt" in errors["hostile.raises_keyboard_interrupt"]
    failed = {Path(f["source"]).name: f["error"] for f in data["load_errors"]}
    assert set(failed) == {"exits_at_import.py", "os_exit_at_import.py"}
    assert "SystemExit: 0" in failed["exits_at_import.py"]
    assert "exit status 0" in failed["os_exit_at_import.py"]
    assert "5 checks: 0 proved, 1 hold, 0 falsified, 4 error" in text.out
    # load errors are reported before the first check's progress line
    assert text.err.index("could not load") < text.err.index("[1/5]")


def test_isolated_call_reports_return_raise_exit_and_timeout():
    """The shared helper (also for probe factories): every outcome is a CallResult."""
    from entangled.theory.isolation import call_isolated

    assert call_isolated("builtins:len", [1, 2, 3]).value == 3
    raised = call_isolated("sys:exit", 4)
    assert (raised.ok, raised.reason) == (False, "raised") and "SystemExit: 4" in raised.error
    exited = call_isolated("os:_exit", 3)
    assert (exited.ok, exited.reason) == (False, "exited") and "exit status 3" in exited.error
    slow = call_isolated("time:sleep", 30, timeout=1)
    assert (slow.ok, slow.reason) == (False, "timeout") and slow.seconds < 20


def test_missing_path_fails_before_anything_runs(files, capsys):
    """Issue 16 item 4: a wrong PATH is a usage error at once (the catalog is not run)."""
    good, _, _ = files
    assert main(["verify", str(good), "no_such_dir/claims.py"]) == 2
    text = capsys.readouterr()
    assert "invalid path='no_such_dir/claims.py'" in text.err
    assert text.out == "" and "[1/" not in text.err


def test_misspelled_family_in_a_file_is_a_load_error_naming_it(tmp_path, capsys):
    claims = tmp_path / "typo_claims.py"
    claims.write_text(textwrap.dedent('''
        from entangled.theory import conjecture


        @conjecture(families=["rotation", "orthogonl"])
        def isometry(m):
            """Singular values are 1."""
            return float((m.singular_values() - 1).abs().max())
    '''))
    assert main(["verify", str(claims), "--no-builtin", "-q"]) == 2
    text = capsys.readouterr()
    assert "could not load" in text.err and "invalid families='orthogonl'" in text.err
    assert "did you mean 'orthogonal'?" in text.out  # full message in the LOAD ERROR section


def _closed_stdout_run(args, cwd):
    """Run ``entangled ARGS`` with a stdout whose reader has already gone (``| head``)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "entangled.cli", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, cwd=cwd)
    finally:
        os.close(write_end)


def test_broken_pipe_ends_quietly_and_the_ledger_is_still_written(files, tmp_path):
    """Issue 16 item 8: `entangled families | head`, `entangled verify ... | head`."""
    good, _, _ = files
    families = _closed_stdout_run(["families"], tmp_path)
    assert families.returncode == 141 and families.stderr == ""
    out = tmp_path / "ledger.json"
    verify_run = _closed_stdout_run(["verify", str(good), "--no-builtin", "-q", "--examples",
                                     "3", "--json", str(out)], tmp_path)
    assert verify_run.returncode == 141 and verify_run.stderr == ""
    assert json.loads(out.read_text())["summary"]["total"] == 2
