"""``entangled train`` and ``entangled sweep`` from the command line."""

from __future__ import annotations

import json

import pytest
import torch

from entangled.cli import main
from entangled.commands.train import parse_pairs, parse_value
from entangled.train import RunResult

TINY = ["--arch", "rnn", "--task", "parity", "--config", "hidden=8", "--task-option", "n_train=32",
        "--task-option", "n_test=16", "--steps", "3", "--batch-size", "8", "--device", "cpu"]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_parse_value_uses_json_where_possible():
    assert parse_value("0.3") == 0.3 and parse_value("3") == 3
    assert parse_value("true") is True and parse_value("null") is None
    assert parse_value("cyclic") == "cyclic" and parse_value("[1, 2]") == [1, 2]
    assert parse_pairs(["kind=cyclic", "shift=2"], "--param") == {"kind": "cyclic", "shift": 2}
    with pytest.raises(ValueError, match="key=value"):
        parse_pairs(["theta"], "--param")


def test_train_prints_a_summary_and_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    rc = main(["train", *TINY, "--family", "rotation", "--param", "theta=0.3", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "test accuracy" in text and "chance 0.5000" in text and "status          ok" in text
    assert "refinement_ratio" in text and "wall time" in text
    result = RunResult.from_dict(json.loads(out.read_text()))
    assert result.config["params"] == {"theta": 0.3} and result.config["family"] == "rotation"
    assert result.config["model"]["hidden"] == 8 and result.steps_done == 3


def test_train_json_to_stdout_without_metrics(capsys):
    assert main(["train", *TINY, "--no-metrics", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"] == {} and data["spec"]["budget"]["metrics"] is False
    assert data["schema_version"] == 3 and data["threads"] == 1


def test_train_patience_stops_early_and_reports_the_selected_checkpoint(capsys):
    args = [a if a != "3" else "60" for a in TINY] + ["--eval-every", "2", "--patience", "1",
                                                      "--lr", "1e-7", "--no-metrics", "--json", "-"]
    assert main(["train", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spec"]["budget"]["patience"] == 1
    assert data["steps_done"] < 60  # the validation accuracy cannot improve at lr 1e-7 for long
    assert data["selected_step"] == data["curves"]["step"][
        data["curves"]["val_accuracy"].index(max(data["curves"]["val_accuracy"]))]
    assert main(["train", *TINY]) == 0
    text = capsys.readouterr().out
    assert "read once at the selected checkpoint" in text and "validation      " in text


@pytest.mark.parametrize("args,message", [
    (["--arch", "mlp", "--task", "parity"], "arch='mlp'; allowed: one of cnn, vit, transformer, rnn"),
    (["--arch", "rnn", "--task", "imagenet"], "task='imagenet'; allowed: one of digits,"),
    (["--arch", "cnn", "--task", "parity"], "a task for arch 'cnn' (input kinds image, signal): digits"),
    (["--arch", "rnn", "--task", "parity", "--family", "magic"],
     "family='magic'; allowed: one of birkhoff, block_orthogonal, circulant, dense"),
    (["--arch", "rnn", "--task", "parity", "--family", "rotation", "--param", "angle=1"],
     "param='angle'; allowed: parameters of family 'rotation': theta"),
    (["--arch", "rnn", "--task", "parity", "--family", "sparse", "--param", "density=7"],
     "density=7"),
    (["--arch", "rnn", "--task", "parity", "--family", "permutation", "--param", "kind=weird"],
     "kind='weird'; allowed: one of"),
    (["--arch", "rnn", "--task", "parity", "--param", "theta"], "key=value"),
    (["--arch", "rnn", "--task", "parity", "--optimizer", "lbfgs"], "one of adam, adamw, sgd"),
    (["--arch", "rnn", "--task", "parity", "--config", "widht=3"], "widht"),
])
def test_bad_values_exit_2_with_what_is_allowed(args, message, capsys):
    assert main(["train", *args, "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "entangled train: error:" in err and message in err


def test_sweep_command_runs_and_resumes(tmp_path, capsys):
    base = {"arch": "rnn", "task": "parity", "model": {"hidden": 4}, "steps": 2, "batch_size": 8,
            "metrics": False, "device": "cpu", "task_options": {"n_train": 16, "n_test": 8}}
    configs = [dict(base, seed=s) for s in range(2)]
    path = tmp_path / "configs.json"
    path.write_text(json.dumps(configs))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 0
    assert "2 runs" in capsys.readouterr().out
    assert len(list(out.glob("*.json"))) == 2
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "2 already done, 0 run now" in captured.out
    assert "\r" not in captured.err and "run/s" not in captured.err  # no bar off a terminal
    assert "sweep: 2/2 runs done (2 found finished, 0 trained now)" in captured.err  # a log line


def test_sweep_command_rejects_bad_configs_before_running(tmp_path, capsys):
    path = tmp_path / "configs.json"
    path.write_text(json.dumps([{"arch": "rnn", "task": "parity"}, {"arch": "cnn", "task": "parity"}]))
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "a task for arch 'cnn'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing created before the input is validated
