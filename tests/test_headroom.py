"""Headroom by design (entangled.reports.headroom): the calibration reads validation only."""

import dataclasses

import pytest
import torch

from entangled.errors import InvalidParameterError
from entangled.reports import presets
from entangled.reports.headroom import (CALIBRATION_SEEDS, band_check, calibrate, choose,
                                        distance_to_band)


@pytest.mark.parametrize("scores, chosen", [
    ([0.99, 0.95, 0.85, 0.7, 0.5], 0.4),      # inside the band, closest to its centre 0.75
    ([0.99, 0.89, 0.7], 0.3),                 # 0.7 is nearer 0.75 than 0.89
    ([0.99, 0.78, 0.60], 0.2),                # 0.78 is nearer than the band's edge
    ([0.99, 0.97, 0.55], 0.3),                # jumps over the band: the nearer (0.05 away)
    ([0.99, 0.93, 0.4], 0.2),                 # ... 0.93 is 0.03 away, 0.4 is 0.2
    ([0.5, 0.4, 0.3], 0.1),                   # all too hard: the easiest
    ([0.95, 0.95, 0.95], 0.1),                # ties: the easier
    ([0.75, 0.75], 0.1),                      # ties inside: the easier
])
def test_choose_known_answers(scores, chosen):
    tried = [0.1, 0.2, 0.3, 0.4, 0.5][:len(scores)]
    assert choose(tried, scores, (0.6, 0.9)) == chosen


def test_choose_rejects_scores_of_another_length():
    with pytest.raises(InvalidParameterError, match="scores"):
        choose([1, 2], [0.5], (0.6, 0.9))
    assert distance_to_band(0.5, (0.6, 0.9)) == pytest.approx(0.1)
    assert distance_to_band(0.7, (0.6, 0.9)) == 0.0


CALIBRATED = {
    "name": "cal", "seeds": [0, 1],
    "runs": [{"arch": "rnn", "task": "counting", "steps": 40, "batch_size": 32,
              "eval_every": 20, "task_options": {"n_train": 200, "n_test": 100},
              "variants": [{"family": "identity"}, {"family": "orthogonal"}]}],
    "calibration": [{"arch": "rnn", "task": "counting", "knob": "length", "tried": [6, 12]}],
}


def _permuted_test_labels(monkeypatch):
    """Make every task load with its test labels permuted (a fixed permutation)."""
    import entangled.tasks as tasks

    original = tasks.load_task

    def load(name, **kwargs):
        data = original(name, **kwargs)
        order = torch.randperm(len(data.y_test), generator=torch.Generator().manual_seed(7))
        return dataclasses.replace(data, y_test=data.y_test[order])

    monkeypatch.setattr(tasks, "load_task", load)


def test_calibration_reads_validation_only_permuting_test_labels_changes_nothing(tmp_path, monkeypatch):
    suite = presets.parse_suite(CALIBRATED)
    plain = calibrate(suite, out_dir=tmp_path / "plain", seeds=(10_000, 10_001), today="2026-12-06")
    _permuted_test_labels(monkeypatch)
    permuted = calibrate(suite, out_dir=tmp_path / "permuted", seeds=(10_000, 10_001),
                         today="2026-12-06")
    assert plain == permuted
    [result] = plain
    assert result.tried == (6, 12) and len(result.identity_validation) == 2
    assert result.chosen == choose(result.tried, result.identity_validation, suite.band)
    # the test accuracies did change, so the labels were really permuted
    from entangled.sweep import load_results

    tests = {r.spec.seed: r.test_accuracy for r in load_results(tmp_path / "plain")}
    tests_permuted = {r.spec.seed: r.test_accuracy for r in load_results(tmp_path / "permuted")}
    assert tests != tests_permuted
    text = result.toml()
    assert presets.parse_suite({**CALIBRATED, "calibration": [_toml_table(text)]}).calibration


def _toml_table(text):
    import sys

    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    return tomllib.loads(text)["calibration"][0]


def test_calibration_seeds_are_disjoint_from_every_preset_seed():
    for name in presets.preset_names():
        suite = presets.get_preset(name)
        used = set(suite.seeds) | {s for g in suite.runs for s in g.seeds}
        assert not used & set(CALIBRATION_SEEDS), name


def test_a_suite_without_calibration_entries_is_refused(tmp_path):
    suite = presets.parse_suite({k: v for k, v in CALIBRATED.items() if k != "calibration"})
    with pytest.raises(InvalidParameterError, match="calibration"):
        calibrate(suite, out_dir=tmp_path)


def test_band_check_reads_validation_of_the_primary_identity_arms():
    from entangled.reports.analysis import outcomes
    from run_fakes import fake_result

    suite = presets.parse_suite({**CALIBRATED, "primary": [
        {"finding": "F3b", "arch": "rnn", "task": "counting", "variant": {"family": "orthogonal"}}]})
    results = []
    for family, val in (("identity", 0.95), ("orthogonal", 0.7)):
        for seed in (0, 1):
            r = fake_result({"arch": "rnn", "task": "counting", "family": family, "seed": seed,
                             "task_options": {"n_train": 200, "n_test": 100}}, test_accuracy=0.5)
            results.append(dataclasses.replace(r, validation_accuracy=val))
    [check] = band_check(suite, outcomes(results))
    assert check["identity_validation"] == pytest.approx(0.95)
    assert check["variant_validation"] == pytest.approx(0.7) and check["inside_band"] is False


@pytest.mark.parametrize("name", ["quick", "full"])
def test_shipped_primary_groups_use_the_calibrated_values(name):
    """Every [[calibration]] record of the presets was run (one validation score per value
    tried), chose by the rule, and its value is the one the primary group trains."""
    suite = presets.get_preset(name)
    assert suite.calibration
    for record in suite.calibration:
        assert len(record.identity_validation) == len(record.tried)
        assert record.chosen == choose(record.tried, record.identity_validation, suite.band)
        primary = next(p for p in suite.primary if p.arch == record.arch and p.task == record.task)
        assert dict(primary.task_options)[record.knob] == record.chosen
