"""Training: validation, determinism, JSON round-trip, divergence, arch x task coverage."""

from __future__ import annotations

import json
import math

import pytest
import torch

from entangled.nn.models import architectures
from entangled.train import RunConfig, RunResult, compatible_tasks, fit, planned_steps

TINY_SEQ = {"n_train": 64, "n_test": 32}
TINY_MODEL = {"rnn": {"hidden": 8}, "transformer": {"dim": 8, "depth": 1, "heads": 2},
              "vit": {"dim": 8, "depth": 1, "heads": 2}, "cnn": {"width": 4, "depth": 1},
              "stream_lm": {"dim": 8, "streams": 2, "depth": 1, "heads": 2}}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (and the CI cores are shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(arch="rnn", task="delayed_recall", **kw) -> RunConfig:
    from entangled.tasks.sequences import SEQUENCE_TASKS

    opts = TINY_SEQ if task in SEQUENCE_TASKS else {}  # data tasks take no size options
    base = dict(arch=arch, task=task, model=TINY_MODEL[arch], task_options=opts, steps=4,
                batch_size=16, eval_every=2, metrics=False, device="cpu")
    base.update(kw)
    return RunConfig(**base)


def test_compatibility_table():
    assert compatible_tasks("cnn") == ["digits", "mnist1d", "mnist1d_shuffled"]
    assert compatible_tasks("vit") == ["digits", "digits_patches", "mnist1d_patches"]
    assert compatible_tasks("rnn") == ["digits_sequence", "digits_permuted", "delayed_recall",
                                       "copy_memory", "counting", "majority", "parity",
                                       "adding", "char_lm", "mnist1d_sequence",
                                       "mnist1d_shuffled_sequence"]
    assert compatible_tasks("transformer") == (["digits_patches"] + compatible_tasks("rnn")
                                               + ["mnist1d_patches"])
    assert compatible_tasks("stream_lm") == compatible_tasks("rnn")  # (steps, features) input


@pytest.mark.parametrize("kw,match", [
    ({"arch": "mlp"}, "arch='mlp'; allowed: one of cnn, vit, transformer, rnn"),
    ({"task": "mnist"}, "task='mnist'; allowed: one of digits, digits_patches"),
    ({"arch": "cnn", "task": "parity"}, r"a task for arch 'cnn' \(input kinds image, signal\): "
     r"digits, mnist1d, mnist1d_shuffled; task 'parity' \(sequence\) runs on: transformer, rnn"),
    ({"arch": "rnn", "task": "digits"}, r"a task for arch 'rnn' \(input kinds sequence\): digits_sequence"),
    ({"family": "magic"}, "family='magic'; allowed: one of birkhoff, block_orthogonal, circulant"),
    ({"family": "rotation", "params": {"angle": 1}}, "parameters of family 'rotation': theta"),
    ({"family": "sparse", "params": {"density": 2.0}}, "density=2.0"),
    ({"family": "identity", "params": {"theta": 1}}, "none"),
    ({"optimizer": "rmsprop"}, "one of adam, adamw, sgd"),
    ({"lr": -1.0}, "lr=-1.0"),
    ({"steps": 0}, "steps=0"),
    ({"batch_size": 1.5}, "batch_size"),
    ({"device": "tpu"}, "one of auto, cpu, cuda"),
    ({"arch": "rnn", "task": "parity", "spatial": True}, "spatial=True; allowed: false unless arch is 'cnn'"),
    ({"arch": "rnn", "task": "delayed_recall", "task_options": {"colour": 1}},
     "options of task 'delayed_recall'"),
    ({"grad_clip": -1.0}, "grad_clip"),
])
def test_invalid_configs_raise_value_errors_naming_what_is_allowed(kw, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**kw).validate()


def test_unknown_config_field_and_bad_model_override():
    with pytest.raises(ValueError, match="config field"):
        RunConfig.from_dict({"arch": "rnn", "width": 3})
    with pytest.raises(ValueError, match="hidden"):
        fit(tiny(model={"widht": 3}))


def test_config_round_trip_and_normalisation():
    c = RunConfig(arch="rnn", task="parity", lr=1, params={"theta": 0.5})
    assert c.lr == 1.0 and isinstance(c.lr, float)
    assert RunConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert c.label() == "rnn/parity/identity(theta=0.5) s0"


def test_fit_is_deterministic_and_round_trips_through_json():
    config = tiny(metrics=True, family="orthogonal", steps=6)
    threads = torch.get_num_threads()
    a, b = fit(config), fit(config)
    assert torch.get_num_threads() == threads  # fit does not touch the thread count
    assert a.status == "ok" and a.steps_done == 6
    assert a.reproducible_dict() == b.reproducible_dict()
    assert a.curves.step == [0, 2, 4, 6] and a.curves.train_loss[0] is None
    assert set(a.metrics) == {"init", "final"} and a.metrics["final"].cka
    text = json.dumps(a.to_dict(), allow_nan=False)  # strict JSON
    assert RunResult.from_dict(json.loads(text)) == a
    c = fit(tiny(metrics=True, family="orthogonal", steps=6, seed=1))
    assert c.curves.train_loss != a.curves.train_loss
    assert c.config_hash != a.config_hash


def test_result_fields_are_consistent():
    r = fit(tiny(task="counting"))
    assert r.chance_accuracy == pytest.approx(1 / 6)
    assert r.memoryless_accuracy == pytest.approx((1 + 5 / 20) / 6)
    assert r.time_structure == "time-invariant"
    # the curves are on the validation split; the selected checkpoint is the best one on it
    assert len(r.curves.val_accuracy) == len(r.curves.step) == len(r.curves.val_loss)
    best = max(r.curves.val_accuracy)
    assert r.validation_accuracy == best
    assert r.selected_step == r.curves.step[r.curves.val_accuracy.index(best)]
    assert 0 <= r.test_accuracy <= 1
    assert 0 <= r.train_accuracy <= 1 and r.train_loss > 0
    assert r.n_parameters > 0
    assert r.metrics == {} and r.device == "cpu" and r.wall_time_s > 0
    assert r.environment["torch"] == r.torch_version == torch.__version__
    assert r.skip_width == 8 and r.input_kind == "sequence" and r.threads == 1  # hidden=8
    from entangled.sweep import config_hash

    assert r.config_hash == config_hash(r.config) == config_hash(tiny(task="counting"))


def test_test_set_is_read_once_at_the_best_validation_checkpoint(monkeypatch):
    """Known answer: the reported test accuracy is that of the state saved at the evaluation
    with the best validation accuracy (recomputed here from a copy of that state), and the
    test inputs are evaluated exactly once."""
    import copy

    import entangled.train as train_module
    from entangled.tasks import load_task
    from entangled.tasks.validation import with_validation

    config = tiny(task="counting", steps=60, eval_every=5, lr=3e-2)
    task = with_validation(load_task("counting", seed=config.seed, **config.task_options),
                           config.seed)
    states = {}

    class Keep:
        def on_evaluation(self, step, scores, model):
            states[step] = (scores["val_accuracy"], copy.deepcopy(model.state_dict()))

    reads = []
    real_evaluate = train_module.evaluate

    def counting_evaluate(model, task_, x, y, *args, **kwargs):
        reads.append(x.shape[0] == task.x_test.shape[0] and torch.equal(x, task.x_test))
        return real_evaluate(model, task_, x, y, *args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", counting_evaluate)
    r = fit(config, callbacks=[Keep()])
    assert sum(reads) == 1  # the test set, once
    best_step = max(states, key=lambda s: (states[s][0], -s))  # earliest best
    assert r.selected_step == best_step and r.validation_accuracy == states[best_step][0]
    model = train_module.build_for(config, task)
    model.load_state_dict(states[best_step][1])
    _, test_accuracy = real_evaluate(model, task, task.x_test, task.y_test)
    assert r.test_accuracy == test_accuracy
    assert r.steps_to_threshold is not None and 0 <= r.steps_to_threshold <= r.selected_step


def test_early_stopping_stops_after_patience_evaluations_without_improvement():
    r = fit(tiny(task="counting", steps=400, eval_every=2, patience=2, lr=1e-6))
    val = r.curves.val_accuracy
    # stopped as soon as the last two evaluations were not a new best
    assert r.steps_done < 400 and len(val) >= 3
    assert max(val[-2:]) <= max(val[:-2])
    assert max(val[:-2]) == max(val) and r.selected_step == r.curves.step[val.index(max(val))]
    assert fit(tiny(task="counting", steps=400, eval_every=2, lr=1e-6)).steps_done == 400
    with pytest.raises(ValueError, match="patience"):
        fit(tiny(task="counting", patience=0))


def test_huge_learning_rate_diverges_as_a_result_not_a_crash():
    r = fit(tiny(arch="rnn", task="adding", lr=1e12, optimizer="sgd", grad_clip=None,
                 steps=50, metrics=True))
    assert r.status == "diverged"
    assert isinstance(r.diverged_at, int) and 1 <= r.diverged_at <= 50
    assert r.steps_done == r.diverged_at - 1
    assert r.test_accuracy is None and r.metrics["final"] is None
    assert r.validation_accuracy is None and r.selected_step is None
    assert r.metrics["init"] is not None
    assert RunResult.from_dict(json.loads(json.dumps(r.to_dict(), allow_nan=False))) == r


def test_epochs_set_the_number_of_steps():
    assert planned_steps(tiny(epochs=2.0, batch_size=16), 64) == 8
    r = fit(tiny(epochs=0.5, batch_size=16))
    assert r.steps_planned == 2 and r.steps_done == 2


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_other_optimizers_run(optimizer):
    r = fit(tiny(optimizer=optimizer, weight_decay=0.01))
    assert r.status == "ok" and r.config["optimizer"] == optimizer


ALL_PAIRS = [(arch, task) for arch in architectures() for task in compatible_tasks(arch)]


@pytest.mark.parametrize("arch,task", ALL_PAIRS)
def test_every_compatible_arch_task_pair_trains(arch, task):
    from entangled.tasks.mnist1d import MNIST1D_TASKS, mnist1d_available

    if task in MNIST1D_TASKS and not mnist1d_available():
        pytest.skip("mnist1d not installed: pip install -e .")
    r = fit(tiny(arch=arch, task=task, steps=2, family="permutation"))
    assert r.status == "ok" and r.steps_done == 2
    assert math.isfinite(r.test_loss)


def test_spatial_cnn_runs():
    r = fit(tiny(arch="cnn", task="digits", family="circulant", spatial=True, steps=2))
    assert r.status == "ok" and r.config["spatial"] is True


def test_training_learns_a_time_variant_task():
    # known outcome: the sequence Transformer solves delayed recall quickly
    r = fit(RunConfig(arch="transformer", task="delayed_recall", steps=80, metrics=False,
                      eval_every=80, device="cpu", model={"dim": 16},
                      task_options={"n_train": 500, "n_test": 200}))
    assert r.test_accuracy > 0.6 > 3 * r.chance_accuracy


def test_importing_train_loads_neither_theory_nor_reports_nor_sweep():
    import subprocess
    import sys

    code = ("import sys, entangled.train, entangled.runs; "
            "print(sorted(m for m in sys.modules if m.startswith(('entangled.theory', 'entangled.reports', 'theory', 'reports')) "
            "or m == 'entangled.sweep'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_train_and_sweep_have_no_import_cycle():
    import ast
    from pathlib import Path

    import entangled

    def imports(module: str) -> set[str]:
        path = Path(entangled.__file__).parent / f"{module}.py"
        names = set()
        for node in ast.parse(path.read_text()).body:  # module-level imports
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        return names

    assert "entangled.sweep" not in imports("train")  # sweep -> train only, never back
    assert not {"entangled.train", "entangled.sweep"} & imports("runs")


def test_run_config_budget_fields_are_budgets_fields_with_its_defaults():
    """RunConfig's flat budget fields are exactly Budget's, with the same defaults (one place
    states them), so the flat and the typed forms cannot drift."""
    import dataclasses

    from entangled.runs import Budget

    flat = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    for f in dataclasses.fields(Budget):
        assert flat[f.name] == f.default, f.name
