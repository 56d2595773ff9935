"""The `full` preset is issue 12's: checked from the parsed suite, without running it."""

from __future__ import annotations

from collections import defaultdict

from entangled.tasks import f3_task_grid
from entangled.reports import presets


def full_configs(*, primary_groups: bool = False):
    """The full preset's runs; without ``primary_groups``, those of the groups its primary
    comparisons are judged on (quick's, at their calibrated settings) are left out."""
    suite = presets.get_preset("full")
    primary = {(p.arch, p.task, p.task_options) for p in suite.primary}

    def in_primary_group(c):
        return (c.arch, c.task, tuple(sorted(c.task_options.items()))) in primary

    return [c for c in suite.configs() if primary_groups or not in_primary_group(c)]


def test_full_has_ten_seeds_and_counts_its_runs():
    suite = presets.get_preset("full")
    assert len(suite.seeds) >= 10
    assert len(suite.configs(fixed_lr_only=True)) == sum(
        len(r.variants) for r in suite.runs) * len(suite.seeds) == 3580
    # the findings' mappings are also trained at the grid's two other learning rates
    assert len(suite.configs()) == sum(
        len(r.variants) * len(r.learning_rates) for r in suite.runs) * len(suite.seeds) == 4460
    assert len(full_configs(primary_groups=True)) - len(full_configs()) == 10 * 10 * 3


def test_mnist1d_blocks_use_the_calibrated_settings():
    """The MNIST-1D calibration blocks (published data; the primary groups apart)."""
    configs = [c for c in full_configs() if c.task.startswith("mnist1d")]
    by_task = defaultdict(set)
    for c in configs:
        by_task[c.task].add(c.arch)
        assert c.lr == 0.003 and c.batch_size == 100
        if c.arch == "cnn":
            assert c.model == {} and c.steps >= 2000
        else:
            assert c.steps >= 3000
        if c.arch == "rnn":
            assert c.model == {"hidden": 128}
    assert by_task == {"mnist1d": {"cnn"}, "mnist1d_shuffled": {"cnn"},
                       "mnist1d_sequence": {"rnn", "transformer"},
                       "mnist1d_shuffled_sequence": {"rnn", "transformer"}}
    assert all(any(c.task == t and c.family == "identity" for c in configs) for t in by_task)


def test_f3_families_are_swept_over_t():
    grid = f3_task_grid((20, 50, 100))
    for arch in ("rnn", "transformer"):
        trained = {(c.task, tuple(sorted(c.task_options.items()))) for c in full_configs()
                   if c.arch == arch and c.task_options}
        assert trained == {(t, tuple(sorted(o.items()))) for t, o in grid}
    assert {o["length"] for _, o in grid} == {20, 50, 100}


def test_depth_reaches_sixteen_blocks_and_width_is_swept():
    configs = full_configs()
    for arch, key in (("cnn", "depth"), ("vit", "depth")):
        assert max(c.model.get(key, 0) for c in configs if c.arch == arch) >= 16
    assert {c.model.get("width") for c in configs if c.arch == "cnn"} >= {None, 32, 64}
    assert {c.model.get("dim") for c in configs if c.arch == "vit"} >= {None, 64}


def test_every_sparse_reading_runs_on_cnn_and_vit():
    for arch in ("cnn", "vit"):
        families = {c.family for c in full_configs() if c.arch == arch and c.task == "digits"
                    and not c.model}
        assert {"sparse", "block_orthogonal", "sparse_unit_norm", "identity"} <= families
