"""Learning-rate selection on validation only, and steps to threshold."""

import dataclasses

import pytest

from entangled.metrics import steps_to_threshold
from entangled.reports.tuning import select_learning_rates, selection_key, tuned_results
from tests.run_fakes import fake_result


def _run(family, lr, seed, val, test, status="ok"):
    result = fake_result({"arch": "cnn", "task": "digits", "family": family, "seed": seed,
                          "lr": lr, "steps": 10}, status=status, test_accuracy=test)
    return dataclasses.replace(result, validation_accuracy=val if status == "ok" else None)


def _only(selections):
    [selection] = selections.values()
    return selection


def test_selection_uses_mean_validation_never_test():
    runs = []
    # lr 1e-3: best validation, worst test; lr 1e-2: best test, worse validation
    for seed in range(3):
        runs.append(_run("identity", 1e-3, seed, 0.90, 0.50))
        runs.append(_run("identity", 1e-2, seed, 0.80, 0.99))
    selections = select_learning_rates(runs)
    selection = _only(selections)
    assert selection.lr == 1e-3 and selection.tuned
    assert selection.by_lr[1e-3] == {"mean_validation": pytest.approx(0.90), "seeds": 3,
                                     "diverged": 0}
    assert {r.test_accuracy for r in tuned_results(runs, selections)} == {0.50}
    assert selection.to_dict()["by_lr"][0] == {"lr": 1e-3, "mean_validation": pytest.approx(0.9),
                                               "seeds": 3, "diverged": 0}
    assert selection.to_dict()["selected_lr"] == 1e-3


def test_selection_ignores_test_accuracy_entirely():
    """Permuting the test accuracies leaves the selection unchanged."""
    base = [_run("identity", lr, s, 0.5 + 0.1 * i + 0.01 * s, 0.3)
            for i, lr in enumerate((1e-3, 3e-3, 1e-2)) for s in range(3)]
    shuffled = [dataclasses.replace(r, test_accuracy=0.9 - 0.01 * k) for k, r in enumerate(base)]
    assert _only(select_learning_rates(base)).lr == _only(select_learning_rates(shuffled)).lr == 1e-2


def test_diverged_runs_count_at_chance_and_ties_go_to_the_smaller_lr():
    runs = [_run("orthogonal", 1e-2, 0, 0.95, 0.9), _run("orthogonal", 1e-2, 1, None, None, "diverged"),
            _run("orthogonal", 3e-3, 0, 0.60, 0.6), _run("orthogonal", 3e-3, 1, 0.60, 0.6)]
    # 1e-2: (0.95 + chance 0.1) / 2 = 0.525 < 0.60
    selection = _only(select_learning_rates(runs))
    assert selection.lr == 3e-3 and selection.by_lr[1e-2]["diverged"] == 1
    assert selection.by_lr[1e-2]["mean_validation"] == pytest.approx(0.525)
    tie = [_run("identity", 1e-3, 0, 0.7, 0.7), _run("identity", 1e-2, 0, 0.7, 0.7)]
    assert _only(select_learning_rates(tie)).lr == 1e-3


def test_selection_is_per_architecture_task_and_variant():
    runs = [_run("identity", 1e-3, 0, 0.9, 0.5), _run("identity", 1e-2, 0, 0.8, 0.5),
            _run("orthogonal", 1e-3, 0, 0.7, 0.5), _run("orthogonal", 1e-2, 0, 0.8, 0.5)]
    chosen = {key[2].family: s.lr for key, s in select_learning_rates(runs).items()}
    assert chosen == {"identity": 1e-3, "orthogonal": 1e-2}
    single = select_learning_rates([_run("identity", 3e-3, 0, 0.9, 0.5)])
    assert not _only(single).tuned
    assert selection_key(runs[0]) == selection_key(runs[1])  # the learning rate is left out


@pytest.mark.parametrize("steps, values, expected", [
    ([0, 10, 20, 30], [0.1, 0.5, 0.9, 0.92], 20),   # target 0.1 + 0.95 * 0.82 = 0.879
    ([0, 10, 20], [0.1, 0.1, 0.1], None),           # never improved
    ([0, 10, 20], [0.2, None, 0.6], 20),            # a missing point is skipped
    ([0], [0.3], None),
    ([0, 5, 10, 15], [0.1, 1.0, 0.5, 0.6], 5),      # best reached early, then forgotten
])
def test_steps_to_threshold(steps, values, expected):
    assert steps_to_threshold(steps, values) == expected
