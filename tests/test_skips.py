"""One skip type (entangled.skips.SkipSpec) for models, run specs and the report's variants;
a run spec validated once and carried typed (resolve returns a resolved spec itself); run
hashes unchanged by the refactor."""

from __future__ import annotations

import dataclasses

import pytest

import entangled.nn as nn_package
from entangled.errors import InvalidParameterError
from entangled.nn.models import build_model
from entangled.runs import RunSpec, SkipVariant, config_hash
from entangled.skips import SkipSpec


def test_models_run_specs_and_reports_share_one_skip_type():
    assert nn_package.SkipSpec is SkipSpec and SkipVariant is SkipSpec
    spec = RunSpec.from_flat({"arch": "rnn", "task": "parity", "family": "rotation",
                              "params": {"theta": 0.5}, "skip_seed": 7}).resolve()
    assert spec.skip == SkipSpec("rotation", {"theta": 0.5}) and spec.skip.seed == 0
    assert spec.skip_spec == SkipSpec("rotation", {"theta": 0.5}, seed=7)
    model = build_model("rnn", input_shape=(12, 2), output_dim=2, skip=spec.skip_spec)
    block = model.residual_blocks[0].skip.mapping
    assert (block.family, block.seed, block.params) == ("rotation", 7, {"theta": 0.5})


def test_a_skip_is_frozen_typed_and_compares_by_value():
    a = SkipSpec("sparse", {"strength": 0.5, "density": 0.1})
    b = SkipSpec("sparse", (("density", 0.1), ("strength", 0.5)))
    assert a == b and hash(a) == hash(b) and a.param_dict == {"density": 0.1, "strength": 0.5}
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.seed = 3
    assert a.with_seed(4).variant == a and a.with_seed(4) != a
    assert SkipSpec.from_dict(a.with_seed(4).to_dict()) == a.with_seed(4)
    assert SkipSpec.from_dict(a.variant_dict()) == a and "seed" not in a.variant_dict()
    assert SkipSpec("rotation", {"theta": 1}).resolve().param_dict == {"theta": 1.0}
    with pytest.raises(InvalidParameterError, match="invalid skip key='width'"):
        SkipSpec.from_dict({"family": "identity", "width": 3})


def test_a_run_spec_names_its_skip_seed_once():
    spec = RunSpec.from_flat({"arch": "rnn", "task": "parity"})
    bad = dataclasses.replace(spec, skip=SkipSpec("orthogonal", seed=5))
    with pytest.raises(InvalidParameterError, match=r"invalid skip.seed=5; allowed: 0 \(a run's "
                                                    r"skip seed is its skip_seed\)"):
        bad.resolve()


def test_a_resolved_spec_is_not_validated_again_and_a_changed_copy_is():
    raw = RunSpec.from_flat({"arch": "rnn", "task": "parity", "lr": 1})
    spec = raw.resolve()
    assert spec.resolved and not raw.resolved and spec.resolve() is spec
    assert spec.budget.lr == 1.0 and isinstance(spec.budget.lr, float)
    changed = dataclasses.replace(spec, budget=dataclasses.replace(spec.budget, steps=0))
    assert not changed.resolved  # a copy with a new raw value is checked where it enters
    with pytest.raises(InvalidParameterError, match="invalid steps=0"):
        changed.resolve()


def test_run_hashes_are_those_of_the_files_written_before():
    """Known answers: hashes computed by the code before the one-skip-type refactor."""
    assert config_hash({"arch": "rnn", "task": "parity", "family": "rotation",
                        "params": {"theta": 1}, "skip_seed": 3}) == "ddc4ab26e162efa6"
    assert config_hash({"arch": "cnn", "task": "digits", "family": "sparse", "spatial": True,
                        "seed": 2}) == "5837dc688f2a3105"
    assert config_hash({"arch": "transformer", "task": "counting", "family": "sinkhorn",
                        "params": {"iters": 5}, "lr": 1}) == "05356bf33f718787"
