"""``fit`` callbacks: hook order and values, observing without changing the run, TensorBoard
scalars equal to the curves, checkpoints that rebuild the trained model, the README example."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
import torch

from entangled.callbacks import (
    Callback,
    SaveModel,
    TensorBoardLogger,
    check_callbacks,
    load_checkpoint,
)
from entangled.cli import main
from entangled.errors import InvalidParameterError, MissingExtraError
from entangled.train import RunConfig, evaluate, fit

CONFIG = dict(arch="rnn", task="parity", steps=6, eval_every=2, batch_size=16, metrics=False)
TRAINING_PAGE = Path(__file__).resolve().parents[1] / "docs" / "training.md"


def curves(result) -> dict:
    return result.to_dict()["curves"]


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_step(self, step, loss, model):
        self.events.append(("step", step, loss))

    def on_evaluation(self, step, scores, model):
        self.events.append(("evaluation", step, dict(scores)))

    def on_end(self, result, model):
        self.events.append(("end", result))
        self.model = model


@pytest.fixture(scope="module")
def observed_run(tmp_path_factory):
    """One run with a recorder, a TensorBoard logger (when installed) and a checkpoint."""
    root = tmp_path_factory.mktemp("callbacks")
    recorder, saver = Recorder(), SaveModel(root / "model.pt")
    callbacks = [recorder, saver]
    try:
        callbacks.append(TensorBoardLogger(root / "tb"))
    except MissingExtraError:
        pass
    result = fit(RunConfig(**CONFIG), callbacks=callbacks)
    return result, recorder, saver, root


def test_hooks_are_called_in_order_with_the_curve_values(observed_run):
    result, recorder, _, _ = observed_run
    assert result.status == "ok"
    kinds = [e[0] for e in recorder.events]
    assert kinds[-1] == "end" and kinds.count("end") == 1 and recorder.events[-1][1] is result
    steps = [e[1] for e in recorder.events if e[0] == "step"]
    assert steps == list(range(1, result.steps_done + 1))
    assert all(math.isfinite(e[2]) for e in recorder.events if e[0] == "step")
    evaluations = [e for e in recorder.events if e[0] == "evaluation"]
    assert [e[1] for e in evaluations] == curves(result)["step"] == [0, 2, 4, 6]
    for name in ("train_loss", "val_loss", "val_accuracy"):
        assert [e[2][name] for e in evaluations] == curves(result)[name]
    # each evaluation comes right after the step it reports
    assert kinds[:4] == ["evaluation", "step", "step", "evaluation"]
    # the mean batch loss since the previous point is the mean of the on_step losses
    losses = [e[2] for e in recorder.events if e[0] == "step"]
    assert curves(result)["train_loss"][1] == pytest.approx(sum(losses[:2]) / 2)


def test_callbacks_observe_without_changing_the_run(observed_run):
    result, _, _, _ = observed_run
    plain = fit(RunConfig(**CONFIG))
    assert plain.reproducible_dict() == result.reproducible_dict()


def test_checkpoint_rebuilds_the_trained_model(observed_run):
    result, recorder, saver, root = observed_run
    assert saver.saved == root / "model.pt"
    model, config = load_checkpoint(saver.saved)
    assert config.to_dict() == result.config
    trained = recorder.model.state_dict()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, trained[key].cpu(), rtol=0, atol=0)
    from entangled.tasks import load_task

    task = load_task(config.task, seed=config.seed, **config.task_options)
    test_loss, test_accuracy = evaluate(model, task, task.x_test, task.y_test)
    assert test_accuracy == result.test_accuracy
    assert test_loss == pytest.approx(result.test_loss, rel=1e-6)


def test_tensorboard_scalars_equal_the_curves(observed_run):
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator", reason="the 'tensorboard' extra")
    result, recorder, _, root = observed_run
    events = accumulator.EventAccumulator(str(root / "tb"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/batch_loss", "eval/val_accuracy", "eval/val_loss", "eval/train_loss",
            "final/test_accuracy", "final/validation_accuracy"} <= set(scalars)
    accuracy = events.Scalars("eval/val_accuracy")
    assert [e.step for e in accuracy] == curves(result)["step"]
    assert [e.value for e in accuracy] == pytest.approx(curves(result)["val_accuracy"], rel=1e-6)
    assert events.Scalars("final/test_accuracy")[0].value == pytest.approx(result.test_accuracy)
    batch = events.Scalars("train/batch_loss")
    assert [e.value for e in batch] == pytest.approx(
        [e[2] for e in recorder.events if e[0] == "step"], rel=1e-6)
    assert [e.step for e in events.Scalars("eval/train_loss")] == [2, 4, 6]  # None at step 0


def test_bad_callbacks_are_rejected_with_the_index():
    with pytest.raises(InvalidParameterError, match=r"callbacks\[1\]"):
        check_callbacks([Recorder(), print])
    with pytest.raises(InvalidParameterError, match=r"callbacks\[0\].*on_step"):
        fit(RunConfig(**CONFIG), callbacks=[Recorder])  # the class, not an instance
    assert check_callbacks(None) == []


def test_tensorboard_logger_bad_input_and_missing_extra(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard", reason="the 'tensorboard' extra")
    with pytest.raises(InvalidParameterError, match="step_every=0"):
        TensorBoardLogger(tmp_path, step_every=0)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(MissingExtraError, match=r"entangled\[tensorboard\]"):
        TensorBoardLogger(tmp_path)


def test_load_checkpoint_rejects_other_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(InvalidParameterError, match="path="):
        load_checkpoint(path)


def test_cli_train_saves_the_model(tmp_path, capsys):
    path = tmp_path / "cli.pt"
    code = main(["train", "--arch", "rnn", "--task", "parity", "--steps", "2", "--eval-every", "1",
                 "--batch-size", "16", "--no-metrics", "--save-model", str(path)])
    assert code == 0
    assert f"model saved to {path}" in capsys.readouterr().out
    model, config = load_checkpoint(path)
    assert (config.arch, config.task, config.steps) == ("rnn", "parity", 2)
    assert not model.training


def test_readme_callback_example_runs_as_written(tmp_path, monkeypatch, capsys):
    text = TRAINING_PAGE.read_text(encoding="utf-8")
    section = text.split("## Callbacks, TensorBoard and checkpoints", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    if "TensorBoardLogger" in code:
        pytest.importorskip("tensorboard", reason="the docs example logs to TensorBoard")
    exec(compile(code, "docs/training.md", "exec"), {})
    out = capsys.readouterr().out
    assert re.search(r"step 10: validation accuracy [01]\.\d{3}", out)
    assert (tmp_path / "model.pt").is_file()
