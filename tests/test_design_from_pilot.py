"""benchmarks/design_from_pilot.py: the pilot's paired differences are read at each arm's
selected rate from the split asked for (a diverged run at chance), and the simulated designs
give the known answers of clear-cut pilots."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("design_from_pilot",
                                                  ROOT / "benchmarks" / "design_from_pilot.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run(path: Path, family: str, params: dict, seed: int, lr: float, validation, test,
         status: str = "ok", wall: float = 2.0) -> None:
    spec = {"arch": {"name": "cnn"}, "task": {"name": "mnist1d"}, "seed": seed,
            "skip": {"family": family, "params": params}, "budget": {"lr": lr}}
    record = {"spec": spec, "status": status, "validation_accuracy": validation,
              "test_accuracy": test, "chance_accuracy": 0.1, "wall_time_s": wall}
    path.joinpath(f"{family}-{seed}-{lr}.json").write_text(json.dumps(record))


@pytest.fixture
def pilot(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    sparse = {"density": 0.05, "strength": 0.5}
    for seed in range(4):
        _run(runs, "identity", {}, seed, 0.01, 0.80, 0.70 + 0.01 * seed)
        _run(runs, "sparse", sparse, seed, 0.001, 0.85, 0.75, wall=4.0)
        _run(runs, "sparse", sparse, seed, 0.01, 0.10, 0.10)  # a rate not selected: ignored
    _run(runs, "sparse", sparse, 4, 0.001, 0.9, 0.9, wall=4.0)  # no identity at seed 4: unpaired
    _run(runs, "sparse", sparse, 3, 0.001, None, None, status="diverged", wall=4.0)  # seed 3 again
    selection = [{"arch": "cnn", "task": "mnist1d", "tuned": True, "selected_lr": lr,
                  "variant": {"family": family}}
                 for family, lr in (("identity", 0.01), ("sparse", 0.001))]
    primary = {"comparisons": [{"finding": "F1", "arch": "cnn", "task": "mnist1d",
                                "predicted": "higher",
                                "variant": {"family": "sparse", "strength": 0.5}}]}
    tmp_path.joinpath("summary.json").write_text(json.dumps(
        {"learning_rate_selection": selection, "primary_comparisons": primary}))
    return tmp_path


@pytest.mark.parametrize("split, expected", [
    ("test", [0.05, 0.04, 0.03, 0.1 - 0.73]),
    ("validation", [0.05, 0.05, 0.05, 0.1 - 0.80]),
])
def test_pilot_differences_pair_seeds_at_the_selected_rates(pilot, split, expected):
    script = load_script()
    summary = json.loads((pilot / "summary.json").read_text())
    arms = script.pilot_arms(pilot / "runs", script.selected_lrs(summary), split)
    [comparison] = script.primary_differences(summary, arms)
    np.testing.assert_allclose(comparison["differences"], expected, atol=1e-12)
    assert comparison["predicted"] == 1 and comparison["finding"] == "F1"
    assert comparison["seconds"] == {"mapping": 4.0, "identity": 2.0}


def _comparison(finding: str, differences, predicted: int, key=("cnn", "t")) -> dict:
    return {"finding": finding, "predicted": predicted, "differences": np.asarray(differences),
            "seconds": {"mapping": 3.0, "identity": 1.0}, "identity_key": key}


def test_clear_pilots_are_decided_at_the_first_stage():
    from entangled.reports.sequential import SequentialDesign

    script = load_script()
    design = SequentialDesign(stages=(5, 10, 20), spending="obrien_fleming")
    large = _comparison("F3a", [0.40, 0.41, 0.39, 0.42, 0.38], 1)
    null = _comparison("F2", [0.001, -0.001, 0.0005, -0.0005, 0.0], -1, key=("vit", "t"))
    decided, seeds = script.simulate(design, [large, null], 500, np.random.default_rng(0))
    # +40 pp with an SD of 1.6 pp: t = 56 at 5 seeds, below the first stage's nominal level;
    # a spread of 0.1 pp around 0 lies inside ±2 pp at once (a resample of five equal values,
    # probability 5^-4 per dataset, has no spread: the exact sign-flip test, p >= 1/16, waits)
    assert decided.all() and np.mean(seeds == 5) > 0.99


def test_a_pilot_between_the_margins_is_never_decided_at_five_seeds_by_obrien_fleming():
    from entangled.reports.sequential import SequentialDesign

    script = load_script()
    design = SequentialDesign(stages=(5, 10, 20), spending="obrien_fleming")
    noisy = _comparison("F1", [-0.05, 0.05, -0.04, 0.04, 0.0], 1)
    decided, seeds = script.simulate(design, [noisy], 500, np.random.default_rng(0))
    # its first stage's nominal levels (1.5e-5, 8.9e-5) are out of reach of 5 noisy seeds
    # (a resample of five equal values, probability 5^-4 per dataset, aside)
    assert np.mean(decided & (seeds == 5)) < 0.01 and np.mean(seeds > 5) > 0.99
    # the known-answer check of the cost: 2 workers, mapping 3 s and identity 1 s per run
    # beyond the 5 seeds of stage 1, one identity arm shared by two comparisons
    a, b = _comparison("F1", [0.0], 1), _comparison("F2", [0.0], -1)
    used = np.array([[10, 20], [5, 5]])
    expected = ((5 * 3 + 15 * 3 + 15 * 1) + 0) / 2 / 2
    assert script.expected_seconds([a, b], used, 5, 2) == pytest.approx(expected)
