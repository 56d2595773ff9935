"""Validation splits: carved from training data per seed, stratified, never from the test set."""

import numpy as np
import pytest
import torch

from entangled.errors import InvalidParameterError
from entangled.tasks import load_task
from entangled.tasks.validation import carve_validation, validation_indices, with_validation


@pytest.mark.parametrize("name", ["counting", "copy_memory", "adding"])
def test_generated_tasks_get_a_validation_split_from_training_data(name):
    task = load_task(name, seed=3, n_train=500, n_test=100)
    carved = with_validation(task, seed=3)
    assert (carved.n_train, carved.n_val, carved.n_test) == (400, 100, 100)
    assert torch.equal(carved.x_test, task.x_test) and torch.equal(carved.y_test, task.y_test)
    # train and validation are a partition of the original training examples
    rows = {tuple(r) for r in task.x_train.reshape(task.n_train, -1).tolist()}
    train_rows = [tuple(r) for r in carved.x_train.reshape(carved.n_train, -1).tolist()]
    val_rows = [tuple(r) for r in carved.x_val.reshape(carved.n_val, -1).tolist()]
    assert set(train_rows) | set(val_rows) <= rows
    joined = torch.cat([carved.x_train, carved.x_val]).reshape(500, -1)
    assert sorted(map(tuple, joined.tolist())) == sorted(map(tuple, task.x_train.reshape(500, -1).tolist()))
    again = with_validation(load_task(name, seed=3, n_train=500, n_test=100), seed=3)
    assert torch.equal(again.x_val, carved.x_val)
    other = carve_validation(task, seed=4)
    assert not torch.equal(other.x_val, carved.x_val)


def test_carve_is_stratified_for_classification():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, val = validation_indices(labels, len(labels), 0.2, seed=0)
    assert np.bincount(labels[val], minlength=4).tolist() == [10, 6, 3, 1]
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100


def test_digits_keep_their_own_validation_split():
    task = load_task("digits", seed=2)
    assert with_validation(task, seed=2) is task and task.n_val == 270
    assert task.summary()["n_val"] == 270


def test_bad_fraction_and_tiny_sets_are_rejected():
    with pytest.raises(InvalidParameterError, match="fraction"):
        validation_indices(None, 10, 1.0, seed=0)
    with pytest.raises(InvalidParameterError, match="n_train"):
        validation_indices(None, 1, 0.2, seed=0)
