"""Learning-rate selection on validation only, and steps to threshold."""

import pytest

from reports.tuning import (results_at_lr, select_learning_rates, steps_to_threshold,
                            tuned_results)


def _run(family, lr, seed, val, test, status="ok"):
    return {"config": {"arch": "cnn", "task": "digits", "family": family, "params": {},
                       "seed": seed, "lr": lr},
            "status": status, "validation_accuracy": val, "test_accuracy": test,
            "chance_accuracy": 0.1}


def test_selection_uses_mean_validation_never_test():
    runs = []
    # lr 1e-3: best validation, worst test; lr 1e-2: best test, worse validation
    for seed in range(3):
        runs.append(_run("identity", 1e-3, seed, 0.90, 0.50))
        runs.append(_run("identity", 1e-2, seed, 0.80, 0.99))
    selection = select_learning_rates(runs)[("cnn", "digits", "identity")]
    assert selection.lr == 1e-3
    assert selection.by_lr[1e-3] == {"mean_validation": pytest.approx(0.90), "seeds": 3}
    assert {r["test_accuracy"] for r in tuned_results(runs, select_learning_rates(runs))} == {0.50}
    assert len(results_at_lr(runs, 1e-2)) == 3
    assert selection.to_dict()["by_lr"]["0.001"]["seeds"] == 3


def test_diverged_runs_count_at_chance_and_ties_go_to_the_smaller_lr():
    runs = [_run("orthogonal", 1e-2, 0, 0.95, 0.9), _run("orthogonal", 1e-2, 1, None, None, "diverged"),
            _run("orthogonal", 3e-3, 0, 0.60, 0.6), _run("orthogonal", 3e-3, 1, 0.60, 0.6)]
    # 1e-2: (0.95 + 0.1) / 2 = 0.525 < 0.60
    assert select_learning_rates(runs)[("cnn", "digits", "orthogonal")].lr == 3e-3
    tie = [_run("identity", 1e-3, 0, 0.7, 0.7), _run("identity", 1e-2, 0, 0.7, 0.7)]
    assert select_learning_rates(tie)[("cnn", "digits", "identity")].lr == 1e-3


@pytest.mark.parametrize("steps, values, expected", [
    ([0, 10, 20, 30], [0.1, 0.5, 0.9, 0.92], 20),   # target 0.1 + 0.95 * 0.82 = 0.879
    ([0, 10, 20], [0.1, 0.1, 0.1], None),           # never improved
    ([0, 10, 20], [0.2, None, 0.6], 20),            # a missing point is skipped
    ([0], [0.3], None),
    ([0, 5, 10, 15], [0.1, 1.0, 0.5, 0.6], 5),      # best reached early, then forgotten
])
def test_steps_to_threshold(steps, values, expected):
    assert steps_to_threshold(steps, values) == expected
