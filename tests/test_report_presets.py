"""Every preset expands to valid, distinct run configurations covering what F1-F3 need."""

import pytest

from entangled.sweep import config_hash
from reports import presets
from reports.analysis import arch_label, outcomes, variant
from reports.findings import paper_findings
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
    assert deep and {arch_label(c.to_dict()) for c in deep} == {"cnn[depth=8]", "cnn[width=32]"}
    results = [fake_result(c, test_accuracy=0.5)
               for c in full if c.arch == "cnn" and c.family == "identity"]
    archs = {arch_label(o.arch) for o in outcomes(results)}
    assert archs == {"cnn", "cnn[depth=8]", "cnn[width=32]"}


def test_skip_width_follows_model_overrides():
    from entangled.runs import RunSpec, skip_width

    def width(**flat):
        return skip_width(RunSpec.from_flat(flat).resolve())

    assert width(arch="cnn", task="digits", model={"width": 32}) == 32
    assert width(arch="cnn", task="digits") == 16
    assert width(arch="rnn", task="counting") == 64
