"""Tasks: shapes, determinism, chance and memoryless levels, time structure, digits split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from entangled.errors import EntangledError
from entangled.tasks import (F3_LENGTHS, F3_TIME_INVARIANT, F3_TIME_VARIANT, TIME_INVARIANT,
                             TIME_VARIANT, f3_task_grid, load_task, target_function, task_kind,
                             task_names)
from entangled.tasks.digits import pixel_permutation
from entangled.tasks.mnist1d import MNIST1D_TASKS, mnist1d_available
from entangled.tasks.sequences import SEQUENCE_TASKS, majority_memoryless


def skip_without_mnist1d(name):
    """Environments installed before mnist1d became a dependency skip its tasks."""
    if name in MNIST1D_TASKS and not mnist1d_available():
        pytest.skip("mnist1d not installed: pip install -e .")

SMALL = {"n_train": 3000, "n_test": 200}

EXPECTED_SHAPES = {
    "digits": (1, 8, 8), "digits_patches": (16, 4), "digits_sequence": (64, 1),
    "digits_permuted": (64, 1), "delayed_recall": (20, 8), "copy_memory": (17, 10),
    "counting": (20, 4), "majority": (20, 2), "parity": (12, 2), "adding": (20, 2),
    "char_lm": (32, 28), "mnist1d": (1, 40), "mnist1d_shuffled": (1, 40),
    "mnist1d_sequence": (40, 1), "mnist1d_shuffled_sequence": (40, 1), "mnist1d_patches": (10, 4),
}


def test_task_names_and_unknown_task():
    assert task_names() == list(EXPECTED_SHAPES)
    with pytest.raises(EntangledError, match="digits_patches.*delayed_recall"):
        load_task("mnist")


def test_unknown_and_bad_options_are_rejected():
    with pytest.raises(ValueError, match="options of task 'parity': n_train, n_test, length"):
        load_task("parity", delay=3)
    with pytest.raises(ValueError, match="delay"):
        load_task("delayed_recall", length=5, delay=5)
    with pytest.raises(ValueError, match="length"):
        load_task("parity", length=0)
    with pytest.raises(ValueError, match="no options"):
        load_task("digits", length=3)


@pytest.mark.parametrize("name", list(EXPECTED_SHAPES))
def test_shapes_dtypes_and_fields(name):
    skip_without_mnist1d(name)
    task = load_task(name)
    assert task.input_shape == EXPECTED_SHAPES[name]
    assert tuple(task.x_train.shape[1:]) == task.input_shape
    assert task.x_train.dtype == torch.float32 and task.x_test.dtype == torch.float32
    assert task.x_train.shape[0] == task.y_train.shape[0]
    assert task.time_structure in ("time-variant", "time-invariant", "static")
    assert "Chance" in task.description or "chance" in task.description
    if task.target_type == "classification":
        assert task.y_train.dtype == torch.int64
        assert task.output_dim == task.num_classes * task.heads
        assert int(task.y_train.min()) >= 0 and int(task.y_train.max()) < task.num_classes
    # loss and accuracy work on model-shaped outputs
    out = torch.zeros(5, task.output_dim)
    assert torch.isfinite(task.loss(out, task.y_test[:5]))
    assert 0.0 <= task.accuracy(out, task.y_test[:5]) <= 1.0


def test_time_structure_labels():
    assert set(TIME_VARIANT) == {"delayed_recall", "copy_memory"}
    assert set(TIME_INVARIANT) == {"counting", "majority", "parity", "adding"}
    for name in TIME_VARIANT:
        assert load_task(name, n_train=2, n_test=2).time_structure == "time-variant"
    for name in TIME_INVARIANT:
        assert load_task(name, n_train=2, n_test=2).time_structure == "time-invariant"


@pytest.mark.parametrize("name", list(TIME_VARIANT + TIME_INVARIANT))
def test_generated_tasks_are_deterministic_by_seed(name):
    a, b = load_task(name, seed=3, **SMALL), load_task(name, seed=3, **SMALL)
    c = load_task(name, seed=4, **SMALL)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    assert not torch.equal(a.x_train[:200], a.x_test)  # train and test are different draws


@pytest.mark.parametrize("name", list(TIME_VARIANT + TIME_INVARIANT))
def test_targets_are_the_documented_function_of_the_inputs(name):
    task = load_task(name, seed=1, **SMALL)
    fn = target_function(name, task.options)
    want = fn(task.x_train.numpy())
    np.testing.assert_allclose(np.asarray(want, dtype=np.float64).reshape(len(want), -1),
                               task.y_train.numpy().astype(np.float64).reshape(len(want), -1),
                               rtol=0, atol=1e-6)


def _empirical_chance(task) -> float:
    """Accuracy of the best constant prediction, estimated on the training targets."""
    y = task.y_train.numpy()
    if task.target_type == "regression":
        grid = np.linspace(0, 2, 401)
        return max(float(np.mean(np.abs(y - g) < task.tolerance)) for g in grid)
    y = y.reshape(len(y), -1)
    return float(np.mean([np.bincount(y[:, h], minlength=task.num_classes).max() / len(y)
                          for h in range(y.shape[1])]))


@pytest.mark.parametrize("name,chance", [("delayed_recall", 1 / 8), ("copy_memory", 1 / 8),
                                         ("counting", 1 / 6), ("parity", 1 / 2),
                                         ("majority", 1 / 2),
                                         ("adding", 1 - 0.96 ** 2)])
def test_documented_chance_matches_the_empirical_one(name, chance):
    task = load_task(name, seed=0, n_train=20000, n_test=10)
    assert task.chance_accuracy == pytest.approx(chance, abs=1e-12)
    assert _empirical_chance(task) == pytest.approx(chance, abs=0.015)
    if task.target_type == "classification":  # balanced: every class near 1 / num_classes
        counts = np.bincount(task.y_train.numpy().reshape(-1), minlength=task.num_classes)
        assert counts.min() / counts.sum() > 0.9 / task.num_classes


def _last_step_table_accuracy(task) -> float:
    """Bayes predictor from the last time step only, fitted on train, scored on test."""
    from collections import Counter, defaultdict

    if task.target_type == "regression":  # guess v + 0.5 if the last step is marked, else 1
        last = task.x_test[:, -1].numpy()
        guess = np.where(last[:, 1] > 0.5, last[:, 0] + 0.5, 1.0)
        return float(np.mean(np.abs(guess - task.y_test.numpy()) < task.tolerance))
    key_tr = task.x_train[:, -1].argmax(-1).numpy()
    key_te = task.x_test[:, -1].argmax(-1).numpy()
    y_tr = task.y_train.numpy().reshape(len(key_tr), -1)
    y_te = task.y_test.numpy().reshape(len(key_te), -1)
    scores = []
    for h in range(y_tr.shape[1]):
        table = defaultdict(Counter)
        for k, y in zip(key_tr, y_tr[:, h]):
            table[k][y] += 1
        scores.append(np.mean([table[k].most_common(1)[0][0] == y
                               for k, y in zip(key_te, y_te[:, h])]))
    return float(np.mean(scores))


@pytest.mark.parametrize("name", list(TIME_VARIANT + TIME_INVARIANT))
def test_memoryless_baseline_is_what_is_documented(name):
    task = load_task(name, seed=0, n_train=20000, n_test=20000)
    assert _last_step_table_accuracy(task) == pytest.approx(task.memoryless_accuracy, abs=0.015)


def test_counting_memoryless_level_differs_from_chance():
    task = load_task("counting")
    assert task.memoryless_accuracy == pytest.approx((1 + 5 / 20) / 6)


def test_logistic_regression_on_last_step_stays_at_memoryless_level():
    LogisticRegression = pytest.importorskip(
        "sklearn.linear_model", reason="scikit-learn (dev extra) cross-checks this level").LogisticRegression

    task = load_task("delayed_recall", seed=0, n_train=4000, n_test=2000)
    clf = LogisticRegression(max_iter=500).fit(task.x_train[:, -1].numpy(), task.y_train.numpy())
    acc = clf.score(task.x_test[:, -1].numpy(), task.y_test.numpy())
    assert acc == pytest.approx(task.memoryless_accuracy, abs=0.03)
    # while the step `delay` before the end determines the answer exactly
    d = task.options["delay"]
    clf = LogisticRegression(max_iter=500).fit(task.x_train[:, -1 - d].numpy(), task.y_train.numpy())
    assert clf.score(task.x_test[:, -1 - d].numpy(), task.y_test.numpy()) == 1.0


@pytest.mark.parametrize("name", [n for n in task_names() if task_kind(n) == "sequence"])
def test_time_structure_label_matches_what_a_time_permutation_does(name):
    """Generic over every sequence task: permuting the time steps of an input leaves the target
    of a time-invariant task unchanged (for every input and permutation tried) and changes
    the target of a time-variant task for some inputs."""
    skip_without_mnist1d(name)
    if name not in SEQUENCE_TASKS:  # data tasks (digits, MNIST-1D): no target function to
        assert load_task(name).time_structure == "time-variant"  # permute; never invariant
        return
    task = load_task(name, seed=0, n_train=500, n_test=10)
    fn, x = target_function(name, task.options), task.x_train.numpy()
    y = np.asarray(fn(x), dtype=np.float64).reshape(len(x), -1)
    rng = np.random.default_rng(0)
    changed = []
    for _ in range(10):
        perm = rng.permutation(x.shape[1])
        y_perm = np.asarray(fn(x[:, perm]), dtype=np.float64).reshape(len(x), -1)
        changed.append(np.mean(np.any(np.abs(y_perm - y) > 1e-6, axis=1)))
    if task.time_structure == "time-invariant":
        assert max(changed) == 0.0
        assert name in TIME_INVARIANT
    else:
        assert task.time_structure == "time-variant" and name in TIME_VARIANT
        assert np.mean(changed) > 0.3


def test_adding_is_permutation_invariant_but_not_an_f3_task():
    """"adding" sums a per-step quantity (its label follows the permutation test above) but is
    the classic long-lag memory benchmark: it is kept out of the F3 families, as is parity."""
    assert "adding" in TIME_INVARIANT and "adding" not in F3_TIME_INVARIANT
    assert "parity" not in F3_TIME_INVARIANT
    assert len(F3_TIME_VARIANT) >= 2 and len(F3_TIME_INVARIANT) >= 2
    assert set(F3_TIME_VARIANT) <= set(TIME_VARIANT) and set(F3_TIME_INVARIANT) <= set(TIME_INVARIANT)


def test_f3_grid_sweeps_lengths_with_matched_pairs():
    grid = f3_task_grid()
    assert sorted({o["length"] for _, o in grid}) == list(F3_LENGTHS) == [20, 50, 100]
    assert {name for name, _ in grid} == set(F3_TIME_VARIANT) | set(F3_TIME_INVARIANT)
    for t in F3_LENGTHS:
        tasks = {name: load_task(name, n_train=50, n_test=10, **o) for name, o in grid
                 if o["length"] == t}
        for task in tasks.values():
            assert task.input_shape[0] == t
        for variant, invariant in (("delayed_recall", "counting"), ("copy_memory", "majority")):
            a, b = tasks[variant], tasks[invariant]
            assert a.num_classes == b.num_classes
            assert a.chance_accuracy == pytest.approx(b.chance_accuracy)


@pytest.mark.parametrize("name", list(SEQUENCE_TASKS))
def test_every_sequence_task_takes_its_length_as_an_option(name):
    task = load_task(name, length=30, n_train=8, n_test=4)
    assert task.input_shape[0] == 30 and task.options["length"] == 30


def test_majority_has_no_ties_and_balanced_classes():
    for t in (19, 20):
        task = load_task("majority", length=t, n_train=4000, n_test=10)
        ones = task.x_train[:, :, 1].sum(dim=1)
        assert torch.all(2 * ones != t)
        assert torch.equal(task.y_train, (2 * ones > t).long())
        assert abs(float(task.y_train.float().mean()) - 0.5) < 0.03


def test_majority_memoryless_level_known_answers():
    # T = 3: max(n1, n0) = 3 w.p. 2/8, 2 w.p. 6/8 -> (2 * 3/3 + 6 * 2/3) / 8 = 3/4
    assert majority_memoryless(3) == pytest.approx(0.75, abs=1e-12)
    # T = 2: the tie n1 = 1 is excluded; what is left is unanimous
    assert majority_memoryless(2) == pytest.approx(1.0, abs=1e-12)
    # T = 20 by brute force over all 2^20 sequences' counts
    from math import comb

    num = sum(comb(20, k) * max(k, 20 - k) / 20 for k in range(21) if k != 10)
    den = sum(comb(20, k) for k in range(21) if k != 10)
    assert majority_memoryless(20) == pytest.approx(num / den, abs=1e-12)


def test_copy_memory_length_option_sets_the_blanks():
    task = load_task("copy_memory", length=30, copy_length=3, symbols=5, n_train=4, n_test=4)
    assert task.input_shape == (30, 7) and task.output_dim == 15
    assert torch.all(task.x_train[:, 3:-1, 5] == 1) and torch.all(task.x_train[:, -1, 6] == 1)
    with pytest.raises(ValueError, match="length"):
        load_task("copy_memory", length=4, copy_length=4)


def test_copy_memory_layout_and_multi_head_accuracy():
    task = load_task("copy_memory", n_train=4, n_test=4)
    x = task.x_train
    assert task.y_train.shape == (4, 4) and task.output_dim == 32
    assert torch.all(x[:, -1, 9] == 1)           # go marker last
    assert torch.all(x[:, 4:-1, 8] == 1)         # blanks during the delay
    perfect = torch.nn.functional.one_hot(task.y_test, 8).float().reshape(4, 32) * 10
    assert task.accuracy(perfect, task.y_test) == 1.0
    half = perfect.clone().reshape(4, 4, 8)
    half[:, :2] = torch.roll(half[:, :2], 1, dims=-1)
    assert task.accuracy(half.reshape(4, 32), task.y_test) == 0.5


def test_adding_accuracy_uses_the_tolerance():
    task = load_task("adding", n_train=4, n_test=4)
    y = task.y_test
    assert task.accuracy((y + 0.039)[:, None], y) == 1.0
    assert task.accuracy((y + 0.041)[:, None], y) == 0.0
    assert float(task.loss((y + 0.1)[:, None], y)) == pytest.approx(0.01, rel=1e-4)


def test_digits_split_is_resampled_per_seed_and_stratified():
    a, again, b = load_task("digits", seed=0), load_task("digits", seed=0), load_task("digits", seed=7)
    assert torch.equal(a.x_train, again.x_train) and torch.equal(a.y_test, again.y_test)
    assert torch.equal(a.x_val, again.x_val)
    assert not torch.equal(a.y_test, b.y_test)  # another seed, another split
    assert (a.n_train, a.n_val, a.n_test) == (1077, 270, 450)
    assert float(a.x_train.min()) == 0.0 and float(a.x_train.max()) == 1.0
    tr = np.bincount(a.y_train.numpy(), minlength=10) / a.n_train
    va = np.bincount(a.y_val.numpy(), minlength=10) / a.n_val
    te = np.bincount(a.y_test.numpy(), minlength=10) / a.n_test
    assert np.abs(tr - te).max() < 0.005 and np.abs(tr - va).max() < 0.01
    assert a.chance_accuracy == pytest.approx(te.max(), abs=0.005)
    # the whole dataset, each image in exactly one part, for every seed
    from entangled.tasks.digits import load_digits, split_indices

    for seed in (0, 7):
        train, val, test = split_indices(seed)
        together = np.concatenate([train, val, test])
        assert len(together) == len(set(together.tolist())) == len(load_digits()[1])
    images = load_digits()[0] / 16.0
    assert np.allclose(a.x_test[:, 0].numpy(), images[split_indices(0)[2]])


@pytest.mark.parametrize("seed", [0, 3])
def test_digits_variants_are_views_of_the_same_images(seed):
    img = load_task("digits", seed=seed).x_test[:, 0]
    seq = load_task("digits_sequence", seed=seed).x_test[:, :, 0]
    perm = load_task("digits_permuted", seed=seed).x_test[:, :, 0]
    patches = load_task("digits_patches", seed=seed).x_test
    assert torch.equal(seq, img.reshape(-1, 64))
    assert torch.equal(perm, img.reshape(-1, 64)[:, torch.from_numpy(pixel_permutation())])
    assert torch.equal(patches[:, 0], img[:, :2, :2].reshape(-1, 4))
    assert torch.equal(patches[:, 5], img[:, 2:4, 2:4].reshape(-1, 4))
    assert sorted(pixel_permutation().tolist()) == list(range(64))
    assert not np.array_equal(pixel_permutation(), np.arange(64))


# ------------------------------------------------------------- digits without scikit-learn
def test_digits_file_known_answers():
    """The shipped file: 1797 images, the class counts of the UCI optdigits test set, pixel
    counts 0..16, and the first row of the file."""
    from entangled.tasks.digits import load_digits

    images, target = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float64
    assert np.bincount(target).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert images.min() == 0 and images.max() == 16 and np.all(images == np.round(images))
    assert target[:3].tolist() == [0, 1, 2]
    assert images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]


def test_approximate_mode_known_values():
    """The examples of scikit-learn's ``_approximate_mode`` docstring."""
    from entangled.tasks.digits import approximate_mode

    def mode(counts, draws, seed):
        return approximate_mode(np.array(counts), draws, np.random.RandomState(seed)).tolist()

    assert mode([4, 2], 3, 0) == [2, 1]
    assert mode([5, 2], 4, 0) == [3, 1]
    assert mode([2, 2, 2, 1], 2, 0) == [0, 1, 1, 0]
    assert mode([2, 2, 2, 1], 2, 42) == [1, 1, 0, 0]


def test_digits_equal_scikit_learns_data_and_splits():
    """Same images and labels as ``sklearn.datasets.load_digits`` and, for many seeds, the same
    indices as ``train_test_split(..., stratify=y, random_state=seed)`` twice (the split every
    stored digits run was trained on)."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="cross-check only")
    from sklearn.model_selection import train_test_split

    from entangled.tasks.digits import TEST_SIZE, VALIDATION_SIZE, load_digits, split_indices

    reference = sklearn_datasets.load_digits()
    images, target = load_digits()
    assert np.array_equal(images, reference.images) and np.array_equal(target, reference.target)
    index = np.arange(len(target))
    for seed in [*range(25), 1234, 2**31 - 1]:
        rest, test = train_test_split(index, test_size=TEST_SIZE, stratify=target,
                                      random_state=seed)
        train, val = train_test_split(rest, test_size=VALIDATION_SIZE, stratify=target[rest],
                                      random_state=seed)
        ours = split_indices(seed)
        for a, b in zip(ours, (train, val, test)):
            assert np.array_equal(a, b), seed


def test_digits_tasks_load_without_scikit_learn():
    import subprocess
    import sys

    code = ("import sys; sys.modules['sklearn'] = None\n"   # any sklearn import now fails
            "from entangled.tasks import load_task\n"
            "t = load_task('digits_permuted', seed=3)\n"
            "print(t.n_train, t.n_val, t.n_test, 'sklearn' in sys.modules and "
            "sys.modules['sklearn'] is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1077", "270", "450", "False"]
