"""Every preset expands to valid, distinct run configurations covering what F1-F3 need."""

import pytest

from entangled.sweep import config_hash
from entangled.reports import presets
from entangled.reports.analysis import arch_label, outcomes, variant
from entangled.reports.findings import CLAIMS, findings_from_primaries
from run_fakes import fake_result


@pytest.mark.parametrize("name", presets.preset_names())
def test_preset_configs_are_valid_and_distinct(name):
    preset = presets.get_preset(name)
    configs = presets.run_configs(preset)
    for config in configs:
        config.validate()
    assert len({config_hash(c) for c in configs}) == len(configs)
    assert set(preset.seeds) <= {c.seed for c in configs}
    assert {c.seed for c in configs} <= set(preset.seeds) | {s for g in preset.runs for s in g.seeds}


@pytest.mark.parametrize("name", presets.preset_names())
def test_every_finding_has_primary_comparisons_the_preset_trains(name):
    """Each of F1, F2, F3a, F3b names at least one primary comparison, and the suite trains
    both arms of every one (same architecture spec, task spec, at every seed of the suite)."""
    preset = presets.get_preset(name)
    specs = {(s.arch, s.task, s.skip, s.seed) for s in preset.specs()}
    findings = findings_from_primaries(preset.primary, [])
    assert {f.key for f in findings if f.primary} == set(CLAIMS)
    for finding in findings:
        for comp in finding.primary:
            assert comp.predicted == CLAIMS[finding.key].predicted
            for seed in preset.seeds:
                for v in (comp.variant, variant("identity")):
                    assert (comp.arch, comp.task, v, seed) in specs, (finding.key, comp, v, seed)


def test_quick_preset_meets_the_issue_minimum():
    quick = presets.get_preset("quick")
    configs = presets.run_configs(quick)
    assert len(quick.seeds) >= 3
    families = {c.family for c in configs}
    assert families >= {"identity", "orthogonal", "rotation", "permutation", "sparse",
                        "circulant", "sinkhorn", "birkhoff"}
    for family, param in (("rotation", "theta"), ("sparse", "strength"), ("circulant", "bandwidth")):
        values = {c.params[param] for c in configs if c.family == family and c.arch == "cnn"}
        assert len(values) >= 3, (family, values)


def test_model_overrides_are_grouped_as_their_own_architecture():
    full = presets.run_configs(presets.get_preset("full"))
    deep = [c for c in full if c.model]
    assert deep and {arch_label(c.to_dict()) for c in deep} == {
        "cnn[depth=8]", "cnn[depth=16]", "cnn[width=32]", "cnn[width=64]", "vit[depth=8]",
        "vit[depth=16]", "vit[dim=64]", "rnn[hidden=128]"}
    results = [fake_result(c, test_accuracy=0.5)
               for c in full if c.arch == "cnn" and c.family == "identity" and c.task == "digits"]
    archs = {arch_label(o.arch) for o in outcomes(results)}
    assert archs == {"cnn", "cnn[depth=8]", "cnn[depth=16]", "cnn[width=32]", "cnn[width=64]"}


def test_skip_width_follows_model_overrides():
    from entangled.runs import RunSpec, skip_width

    def width(**flat):
        return skip_width(RunSpec.from_flat(flat).resolve())

    assert width(arch="cnn", task="digits", model={"width": 32}) == 32
    assert width(arch="cnn", task="digits") == 16
    assert width(arch="rnn", task="counting") == 64


def _suite(**group) -> dict:
    return {"name": "t", "seeds": [0, 1],
            "runs": [{"arch": "cnn", "task": "digits", "steps": 5,
                      "variants": [{"family": "identity"}, {"family": "orthogonal"}], **group}]}


def test_lr_grid_trains_every_variant_and_seed_at_every_rate_plus_the_fixed_one():
    suite = presets.parse_suite(_suite(lr=2e-3, lr_grid=[1e-2, 1e-3]))
    [group] = suite.runs
    assert group.lr_grid == (1e-3, 1e-2) and group.fixed_lr == 2e-3
    assert group.learning_rates == (1e-3, 2e-3, 1e-2)
    configs = suite.configs()
    assert len(configs) == 2 * 3 * 2  # variants x rates x seeds
    assert sorted({c.lr for c in configs}) == [1e-3, 2e-3, 1e-2]
    # only the fixed-rate runs take the metric snapshots (the plots read those)
    assert {c.metrics for c in configs if c.lr != 2e-3} == {False}
    assert {c.metrics for c in configs if c.lr == 2e-3} == {True}
    from entangled.reports.tuning import select_learning_rates

    selections = select_learning_rates([fake_result(c) for c in configs])
    assert len(selections) == 2  # one per variant: the metrics flag does not split a group
    assert all(len(s.by_lr) == 3 for s in selections.values())
    fixed = suite.configs(fixed_lr_only=True)
    assert {c.lr for c in fixed} == {2e-3} and len(fixed) == 4
    assert suite.fixed_lr_hashes() == {c.hash() for c in fixed} and suite.tuned
    assert not presets.parse_suite(_suite()).tuned
    assert suite.training["cnn"]["lr_grid"] == [1e-3, 1e-2]


@pytest.mark.parametrize("grid", [[1e-3], [1e-3, 1e-3], [1e-3, -1.0], [1e-3, "x"], 0.1,
                                  [1e-3, float("inf")], [True, 1e-3]])
def test_bad_lr_grid_is_rejected_with_the_key_and_value(grid):
    with pytest.raises(presets.SuiteError, match="lr_grid") as info:
        presets.parse_suite(_suite(lr_grid=grid))
    assert "at least two distinct numbers > 0" in str(info.value)


@pytest.mark.parametrize("name", ["quick", "full"])
def test_shipped_presets_tune_every_findings_comparison_over_a_10x_grid(name):
    """Issue 11: each primary comparison's mapping and its identity baseline are tuned over
    >= 3 learning rates spanning >= 10x — in the report (an ``lr_grid``) or, issue 22, on a
    pilot before it (a ``[[tuning]]`` record whose chosen rate the group trains)."""
    suite = presets.get_preset(name)
    tuned = {}
    for group in suite.runs:
        if group.model:
            continue
        for v in group.variants:
            if len(group.learning_rates) >= 3:
                key = (group.arch, group.task, variant(v["family"], {
                    k: x for k, x in v.items() if k not in ("family", "spatial")}))
                tuned[key] = group.learning_rates
    for record in suite.tuning:
        v = dict(record.variant)
        key = (record.arch, record.task, variant(v["family"], {
            k: x for k, x in v.items() if k not in ("family", "spatial")}))
        tuned.setdefault(key, record.tried)
    for rates in tuned.values():
        assert len(rates) >= 3 and max(rates) / min(rates) >= 10 - 1e-9
    for primary in suite.primary:
        v = dict(primary.variant)
        key = (primary.arch, primary.task, variant(v["family"], {
            k: x for k, x in v.items() if k not in ("family", "spatial")}))
        assert key in tuned, key
        assert (primary.arch, primary.task, variant("identity")) in tuned


def _tuning_suite(**record):
    data = _suite(lr_grid=[1e-3, 1e-2])
    entry = {"arch": data["runs"][0]["arch"], "task": data["runs"][0]["task"],
             "variant": dict(data["runs"][0]["variants"][0]), "tried": [1e-3, 3e-3, 1e-2],
             "mean_validation": [0.5, 0.6, 0.6], "chosen": 1e-3, **record}
    return {**data, "tuning": [entry]}


def test_a_pilot_tuning_record_is_kept_when_its_choice_is_the_best_and_trained():
    suite = presets.parse_suite(_tuning_suite(mean_validation=[0.7, 0.6, 0.6]))
    [record] = suite.tuning
    assert record.chosen == 1e-3 and record.tried == (1e-3, 3e-3, 1e-2)


@pytest.mark.parametrize("record, message", [
    ({"chosen": 1e-3}, "the best rate tried (0.003"),  # 0.6 at 3e-3 and 1e-2: ties to the smaller
    ({"mean_validation": [0.5, 0.6, 0.7], "chosen": 1e-2, "tried": [1e-3, 3e-3, 2e-2]},
     "the best rate tried (0.02"),
    ({"mean_validation": [0.5, 0.6, 0.7], "tried": [1e-3, 3e-3, 3e-2], "chosen": 3e-2},
     "trains"),  # the group trains 1e-3 and 1e-2 only
    ({"mean_validation": [0.5, 1.5, 0.7]}, "mean_validation"),
    ({"tried": [1e-3]}, "tried"),
    ({"color": "red"}, "key"),
])
def test_a_bad_pilot_tuning_record_is_refused_naming_it(record, message):
    with pytest.raises(presets.SuiteError, match="tuning") as info:
        presets.parse_suite(_tuning_suite(**record))
    assert message in str(info.value)


def test_full_sample_is_a_subset_of_the_full_preset():
    """benchmarks/full_sample.toml (the README's sample of `full`) trains the same run specs,
    so a later full report on the same directory reuses its results."""
    from pathlib import Path

    sample = presets.load_suite(Path(__file__).parents[1] / "benchmarks" / "full_sample.toml")
    full = {c.hash() for c in presets.get_preset("full").configs()}
    hashes = {c.hash() for c in sample.configs()}
    assert hashes and hashes <= full


# ---------------------------------------------------------------- primary comparisons
def _with_primary(*entries, runs=None):
    data = _suite()
    if runs is not None:
        data["runs"] = runs
    data["primary"] = list(entries)
    return data


def _group(arch="rnn", task="counting", options=None, variants=("identity", "orthogonal")):
    group = {"arch": arch, "task": task, "steps": 5,
             "variants": [{"family": f} for f in variants]}
    if options:
        group["task_options"] = options
    return group


def test_declared_primaries_are_matched_to_their_group_with_its_options():
    runs = [_group(options={"length": 10}), _group(options={"length": 30}),
            _group("cnn", "digits", variants=("identity", "sparse"))]
    suite = presets.parse_suite(_with_primary(
        {"finding": "F3b", "arch": "rnn", "task": "counting", "task_options": {"length": 30},
         "variant": {"family": "orthogonal"}, "predicted": "lower"},
        {"finding": "F1", "arch": "cnn", "task": "digits", "variant": {"family": "sparse"}},
        runs=runs))
    assert suite.primary_declared
    f3b, f1 = suite.primary
    assert (f3b.finding, dict(f3b.task_options), f3b.predicted) == ("F3b", {"length": 30}, -1)
    assert f1.predicted == +1 and f1.to_dict()["predicted"] == "higher"


@pytest.mark.parametrize("entry, message", [
    ({"finding": "F4", "arch": "rnn", "task": "counting", "variant": {"family": "orthogonal"}},
     "finding"),
    ({"finding": "F3b", "arch": "rnn", "task": "counting", "variant": {"family": "orthogonal"},
      "predicted": "higher"}, "predicted"),
    ({"finding": "F3b", "arch": "rnn", "task": "counting", "variant": {"family": "identity"}},
     "other than the identity"),
    ({"finding": "F3b", "arch": "rnn", "task": "counting", "variant": {"family": "sparse"}},
     "trains both the identity skip and this variant"),
    ({"finding": "F3b", "arch": "rnn", "task": "counting", "variant": {"family": "orthogonal"},
      "when": "now"}, "key"),
])
def test_bad_primaries_are_rejected_naming_the_key(entry, message):
    runs = [_group(options={"length": 10})]
    with pytest.raises(presets.SuiteError, match=message):
        presets.parse_suite(_with_primary(entry, runs=runs))


def test_an_ambiguous_primary_asks_for_task_options():
    runs = [_group(options={"length": 10}), _group(options={"length": 30})]
    entry = {"finding": "F3b", "arch": "rnn", "task": "counting", "variant": {"family": "orthogonal"}}
    with pytest.raises(presets.SuiteError, match="add task_options"):
        presets.parse_suite(_with_primary(entry, runs=runs))


def test_default_primaries_come_from_the_file_in_suite_order():
    """Without [[primary]]: per finding and architecture, the first group (default model) that
    trains the identity and a variant of the finding's families; F3a/F3b by time structure;
    nothing for an architecture the suite does not train (those findings: not tested)."""
    runs = [_group("rnn", "counting"), _group("rnn", "delayed_recall"),
            _group("cnn", "digits", variants=("identity", "orthogonal", "block_orthogonal", "sparse"))]
    suite = presets.parse_suite({**_suite(), "runs": runs})
    assert not suite.primary_declared
    got = [(p.finding, p.arch, p.task, dict(p.variant)["family"]) for p in suite.primary]
    assert got == [("F1", "cnn", "digits", "block_orthogonal"), ("F2", "cnn", "digits", "orthogonal"),
                   ("F3a", "rnn", "delayed_recall", "orthogonal"),
                   ("F3b", "rnn", "counting", "orthogonal")]


def test_group_seeds_and_headroom_band():
    data = _suite()
    data["runs"][0]["seeds"] = [0, 7]
    data["headroom"] = {"band": [0.5, 0.8]}
    suite = presets.parse_suite(data)
    assert {c.seed for c in suite.configs()} == {0, 7} and suite.band == (0.5, 0.8)
    for band in ([0.9, 0.5], [0.5], [-0.1, 0.5], "wide"):
        with pytest.raises(presets.SuiteError, match="band"):
            presets.parse_suite({**_suite(), "headroom": {"band": band}})
    bad = _suite()
    bad["runs"][0]["seeds"] = [1, 1]
    with pytest.raises(presets.SuiteError, match="seeds"):
        presets.parse_suite(bad)


def test_a_suite_may_ask_for_batched_training_and_bad_values_are_refused():
    from entangled.batched import SEED_BATCHING

    assert presets.SEED_BATCHING_MODES == SEED_BATCHING
    assert presets.parse_suite(_suite()).seed_batching == "auto"
    assert presets.parse_suite({**_suite(), "seed_batching": "on"}).seed_batching == "on"
    assert presets.get_preset("quick").seed_batching == "on"
    for bad in ("yes", True, 1):
        with pytest.raises(presets.SuiteError, match="seed_batching") as info:
            presets.parse_suite({**_suite(), "seed_batching": bad})
        assert "'auto', 'on', 'off'" in str(info.value)


def test_the_report_trains_as_the_suite_says_unless_told_otherwise(tmp_path, monkeypatch):
    """``make_report`` passes the suite's ``seed_batching`` to the sweep; an explicit value
    (``--seed-batching``) wins."""
    from entangled.reports import build

    seen = []

    def fake_build(preset, out, paths, jobs, progress, executor, scheduler, batching, decided):
        seen.append(batching)

    monkeypatch.setattr(build, "_build", fake_build)
    suite = presets.parse_suite({**_suite(), "seed_batching": "on"})
    build.make_report(suite, tmp_path / "a")
    build.make_report(suite, tmp_path / "b", seed_batching="off")
    build.make_report(presets.parse_suite(_suite()), tmp_path / "c")
    assert seen == ["on", "off", "auto"]


def test_quick_takes_metric_snapshots_only_where_the_dynamics_plots_read_them():
    """The training-dynamics plots show each architecture on its first task by name among the
    runs with snapshots (entangled.reports.evidence.dynamics): quick takes snapshots on that
    one task per architecture, and every architecture still has one."""
    from collections import defaultdict

    tasks = defaultdict(set)
    every_task = defaultdict(set)
    for config in presets.run_configs(presets.get_preset("quick")):
        every_task[config.arch].add(config.task)
        if config.metrics:
            tasks[config.arch].add(config.task)
    assert set(tasks) == set(every_task) == {"cnn", "vit", "rnn", "transformer"}
    assert all(len(found) == 1 for found in tasks.values()), dict(tasks)
    assert {arch: min(found) for arch, found in every_task.items()} == {
        arch: found.pop() for arch, found in tasks.items()}
