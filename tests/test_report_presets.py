"""Every preset expands to valid, distinct run configurations covering what F1-F3 need."""

import pytest

from entangled.sweep import config_hash
from entangled.reports import presets
from entangled.reports.analysis import arch_label, outcomes, variant
from entangled.reports.findings import paper_findings
from run_fakes import fake_result


@pytest.mark.parametrize("name", presets.preset_names())
def test_preset_configs_are_valid_and_distinct(name):
    preset = presets.get_preset(name)
    configs = presets.run_configs(preset)
    for config in configs:
        config.validate()
    assert len({config_hash(c) for c in configs}) == len(configs)
    assert {c.seed for c in configs} == set(preset.seeds)


@pytest.mark.parametrize("name", presets.preset_names())
def test_preset_has_every_comparison_of_the_findings(name):
    configs = presets.run_configs(presets.get_preset(name))
    present = {(c.arch, c.task, c.to_spec().skip.resolve()) for c in configs if not c.model}
    findings = paper_findings(presets.IMAGE_TASK, variant("sparse", presets.F1_SPARSE),
                              presets.TIME_VARIANT_TASK, presets.TIME_INVARIANT_TASK)
    for finding in findings:
        for comp in finding.comparisons + finding.extensions:
            assert (comp.arch, comp.task, comp.variant) in present
            assert (comp.arch, comp.task, variant("identity")) in present


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
    """Issue 11: each mapping a finding is judged on, and its identity baseline, is trained at
    >= 3 learning rates spanning >= 10x; F1 is judged on every sparse reading."""
    from entangled.reports.findings import SPARSE_FAMILIES

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
    for rates in tuned.values():
        assert max(rates) / min(rates) >= 10 - 1e-9
    readings = {key[2] for key in tuned if key[2].family in SPARSE_FAMILIES and key[0] == "cnn"}
    assert {r.family for r in readings} == set(SPARSE_FAMILIES)
    findings = paper_findings(presets.IMAGE_TASK, sorted(readings, key=lambda r: r.sort_key()),
                              presets.TIME_VARIANT_TASK, presets.TIME_INVARIANT_TASK)
    for finding in findings:
        for comp in finding.comparisons + finding.extensions:
            assert (comp.arch, comp.task, comp.variant) in tuned, comp
            assert (comp.arch, comp.task, variant("identity")) in tuned


def test_full_sample_is_a_subset_of_the_full_preset():
    """benchmarks/full_sample.toml (the README's sample of `full`) trains the same run specs,
    so a later full report on the same directory reuses its results."""
    from pathlib import Path

    sample = presets.load_suite(Path(__file__).parents[1] / "benchmarks" / "full_sample.toml")
    full = {c.hash() for c in presets.get_preset("full").configs()}
    hashes = {c.hash() for c in sample.configs()}
    assert hashes and hashes <= full
