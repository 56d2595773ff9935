"""Composite skip gain (reports/depth.py): known answers from the mappings' structure."""

from __future__ import annotations

import math

import pytest
import torch

import entangled as E
from entangled.runs import ArchSpec, SkipVariant, TaskSpec
from entangled.train import RunConfig
from entangled.reports import analysis, depth
from run_fakes import fake_result

# Seed 881 at n = 8 (default density): the sparse family's S is the 8-cycle
# 0 -> 1 -> 5 -> 7 -> 3 -> 2 -> 6 -> 4 -> 0 (checked below).
CYCLE_SEED = 881


def resolved(arch, task, variant):
    return arch.resolve(), task.resolve(), variant.resolve()


def sparse_closed_form(strength: float, cycle_lengths: list[int], power: int) -> tuple[float, float]:
    """Singular values of ``((1 - s) I + s P)^L`` for a permutation ``P``: ``M`` is normal
    (``P`` is orthogonal and commutes with ``I``), so they are ``|1 - s + s w|^L`` over the
    eigenvalues ``w`` of ``P``: the ``c``-th roots of unity of every cycle of length ``c``."""
    moduli = [abs(1 - strength + strength * complex(math.cos(2 * math.pi * k / c),
                                                     math.sin(2 * math.pi * k / c)))
              for c in cycle_lengths for k in range(c)]
    return max(moduli) ** power, min(moduli) ** power


def cycle_lengths(permutation: list[int]) -> list[int]:
    seen, lengths = set(), []
    for start in range(len(permutation)):
        length, i = 0, start
        while i not in seen:
            seen.add(i)
            i = permutation[i]
            length += 1
        if length:
            lengths.append(length)
    return lengths


def cycle_permutation(strength: float) -> list[int]:
    m = E.make_mapping("sparse", 8, seed=CYCLE_SEED, strength=strength)
    s = (m.dense() - (1 - strength) * torch.eye(8, dtype=torch.float64)) / strength
    assert torch.allclose(s, (s > 0.5).to(s.dtype), atol=1e-12)  # a 0/1 matrix ...
    assert torch.equal(s.sum(0), torch.ones(8, dtype=s.dtype))   # ... with one 1 per row
    return s.argmax(1).tolist()                                   # and column: a permutation


def test_identity_gain_is_one_at_every_depth():
    for arch in (ArchSpec("cnn", {"depth": 16}), ArchSpec("vit", {"depth": 3})):
        mappings = depth.skip_mappings(*resolved(arch, TaskSpec("digits"), SkipVariant()), 5)
        assert depth.composite_spectrum(mappings) == (1.0, 1.0)


@pytest.mark.parametrize("layers", [1, 4, 16])
def test_orthogonal_gain_is_one_at_any_depth(layers):
    mappings = depth.skip_mappings(*resolved(ArchSpec("cnn", {"depth": layers}), TaskSpec("digits"),
                                             SkipVariant("orthogonal")), 3)
    assert len(mappings) == layers
    assert len({float(m.dense()[0, 0]) for m in mappings}) == layers  # independent blocks
    high, low = depth.composite_spectrum(mappings)
    assert high == pytest.approx(1.0, abs=1e-12) and low == pytest.approx(1.0, abs=1e-12)


def test_cycle_seed_is_an_eight_cycle():
    assert cycle_lengths(cycle_permutation(0.25)) == [8]


@pytest.mark.parametrize("strength, power", [(0.25, 1), (0.25, 7), (0.1, 20), (0.75, 3)])
def test_sparse_with_a_permutation_matches_the_closed_form(strength, power):
    m = E.make_mapping("sparse", 8, seed=CYCLE_SEED, strength=strength)
    high, low = depth.composite_spectrum([m] * power)
    expected_high, expected_low = sparse_closed_form(strength, [8], power)
    # an 8-cycle has w = 1 and w = -1: sigma_max = 1 and sigma_min = |1 - 2 s|^L
    assert expected_high == pytest.approx(1.0) and expected_low == pytest.approx(abs(1 - 2 * strength) ** power)
    assert high == pytest.approx(expected_high, rel=1e-10)
    assert low == pytest.approx(expected_low, rel=1e-8)


def test_half_strength_sparse_over_an_even_cycle_is_singular():
    m = E.make_mapping("sparse", 8, seed=CYCLE_SEED, strength=0.5)
    high, low = depth.composite_spectrum([m, m])
    assert high == pytest.approx(1.0, rel=1e-12) and low < 1e-12


def test_rnn_applies_one_mapping_at_every_time_step():
    """Through the model: the RNN's T applications share block 0, so P = M^T, closed form."""
    arch, task, variant = resolved(ArchSpec("rnn", {"hidden": 8}), TaskSpec("counting", {"length": 20}),
                                   SkipVariant("sparse", {"strength": 0.25}))
    mappings = depth.skip_mappings(arch, task, variant, CYCLE_SEED)
    assert len(mappings) == 20 and all(m is mappings[0] for m in mappings)
    high, low = depth.composite_spectrum(mappings)
    assert high == pytest.approx(1.0, rel=1e-10)
    assert low == pytest.approx(0.5 ** 20, rel=1e-8)


@pytest.mark.parametrize("arch, task, variant", [
    (ArchSpec("cnn", {"depth": 3}), TaskSpec("digits"), SkipVariant("sparse", {"strength": 0.5})),
    (ArchSpec("vit", {"depth": 2}), TaskSpec("digits"), SkipVariant("block_orthogonal")),
    (ArchSpec("transformer"), TaskSpec("counting"), SkipVariant("sparse_unit_norm")),
    (ArchSpec("cnn"), TaskSpec("digits"), SkipVariant("circulant", {"bandwidth": 1.0}, True)),
])
def test_layout_shortcut_gives_the_models_own_mappings(arch, task, variant):
    arch, task, variant = resolved(arch, task, variant)
    fast = depth.skip_mappings(arch, task, variant, 7)
    built = depth.model_skip_mappings(arch, task, variant, 7)
    assert len(fast) == len(built)
    assert all(torch.equal(a.dense(), b.dense()) for a, b in zip(fast, built))


def test_transformer_has_two_applications_per_layer():
    layout = depth.application_layout(*resolved(ArchSpec("transformer", {"depth": 3}),
                                                TaskSpec("counting"), SkipVariant())[:2])
    assert [block for _, block in layout] == list(range(6))


def _results(accuracy):
    configs = [RunConfig(arch="cnn", task="digits", family=family, params=params,
                         model={"depth": d}, seed=seed, skip_seed=seed, steps=1)
               for d in (1, 3) for family, params in (("identity", {}), ("sparse", {"strength": 0.5}))
               for seed in (0, 1)]
    configs.append(RunConfig(arch="vit", task="digits", seed=0, steps=1))
    return [fake_result(c, test_accuracy=accuracy(c)) for c in configs]


def test_gains_join_outcomes_and_find_the_sweeps():
    results = _results(lambda c: 0.9 - 0.1 * c.model["depth"] if c.family == "sparse" else 0.8)
    rows = analysis.outcomes(results)
    section = depth.gain_section(results, rows)
    assert len(section.gains) == 5
    sparse3 = next(g for g in section.gains if g.variant.family == "sparse"
                   and g.arch.config["depth"] == 3)
    assert sparse3.skip_seeds == [0, 1] and sparse3.applications == 3 and sparse3.n == 16
    assert sparse3.accuracy == pytest.approx(0.6) and sparse3.accuracy_n == 2
    by_seed = [depth.composite_spectrum(depth.skip_mappings(sparse3.arch, sparse3.task,
                                                           sparse3.variant, s)) for s in (0, 1)]
    assert sparse3.spectral_norms == [b[0] for b in by_seed]
    assert sparse3.spectral_norm == pytest.approx((by_seed[0][0] + by_seed[1][0]) / 2)
    # the CNN is swept over depth, the lone ViT is not
    assert [key[0] for key in section.swept] == ["cnn"]
    assert len(section.table()) == 4
    assert {r["applications"] for r in section.table()} == {1, 3}
    figure = depth.gain_figure(section)
    assert figure is not None and figure.src.startswith("data:image/png;base64,")
    assert "log" in figure.svg


def test_no_sweep_gives_no_figure():
    results = [fake_result(RunConfig(arch="cnn", task="digits", seed=0, steps=1))]
    section = depth.gain_section(results, analysis.outcomes(results))
    assert section.swept == {} and depth.gain_figure(section) is None
    assert section.gains[0].to_dict()["spectral_norm"] == 1.0


def test_product_of_distinct_and_repeated_mappings_matches_the_dense_product():
    from entangled.properties import product_matrix

    a = E.make_mapping("sparse_unit_norm", 12, seed=1)
    b = E.make_mapping("circulant", 12, seed=2, bandwidth=1.0)
    sequence = [a, a, a, b, a, b, b]
    expected = torch.linalg.svdvals(product_matrix(sequence))
    high, low = depth.composite_spectrum(sequence)
    assert high == pytest.approx(float(expected[0]), rel=1e-10)
    assert low == pytest.approx(float(expected[-1]), rel=1e-8)


def test_bad_mapping_lists_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        depth.composite_spectrum([])
    with pytest.raises(ValueError, match="equal n"):
        depth.composite_spectrum([E.make_mapping("identity", 3), E.make_mapping("identity", 4)])
