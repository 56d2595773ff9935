"""Tests of ``entangled verify``: table, JSON, exit status, load errors, real command."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from entangled.cli import main

GOOD = '''
from theory import conjecture


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
from theory import conjecture


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
