"""The literature ledger (entangled.theory.literature): 48 claims, their conjectures, and what they find.

Known answers: the claims falsified as literally stated are falsified with the minimal
counterexample worked out by hand in their docstrings; the rows for the report carry claim,
source, kind, verdict and evidence.
"""

from __future__ import annotations

import math

import pytest
import torch

import entangled as E
from entangled.theory.engine import check, run_conjectures
from entangled.theory.literature import (
    CLAIMS,
    LITERALLY_FALSIFIED,
    aggregate_verdict,
    claim_conjecture_names,
    literature_rows,
)
from entangled.theory.loader import load_builtin
from entangled.theory.registry import KINDS


@pytest.fixture(scope="module")
def catalog():
    return {c.name: c for c in load_builtin()}


def test_every_claim_encoded_with_source_and_kind(catalog):
    assert [c.number for c in CLAIMS] == list(range(1, 49))         # 1-30 and the 2026 31-48
    for claim in CLAIMS:
        assert claim.kind in KINDS and claim.source and claim.text and claim.conjectures
        for name in claim.conjectures:
            conj = catalog[name]
            assert conj.reference, name
            assert conj.kind in KINDS, name
            assert conj.doc.count("\n") >= 1 or len(conj.statement) > 40, name
    searched = [n for n in claim_conjecture_names() if "probed" not in catalog[n].families]
    assert len(searched) >= 45                       # runs in entangled verify and the report
    assert {catalog[n].kind for n in claim_conjecture_names()} == set(KINDS)


@pytest.mark.parametrize("number, family, minimal_n, value", [
    (19, "birkhoff", 3, None),
    (20, "dense", 1, None),
    (5, "sinkhorn", None, None),
    (17, "sinkhorn", 4, False),
    (31, "sinkhorn", 2, False),
    (33, "circulant", 3, None),
    (39, "identity", 2, 1.0),               # ||I - J||_2 = 1: the identity never mixes
    (41, "dense", 1, 1 / math.sqrt(10)),    # the best fixed weights leave 1/sqrt(10)
    (46, "circulant", 18, None),
])
def test_claims_falsified_as_literally_stated(catalog, number, family, minimal_n, value):
    conj = catalog[LITERALLY_FALSIFIED[number]]
    assert conj.expected == "falsified"
    entry = check(conj, family, examples=20)
    assert entry.verdict == "falsified", entry
    cx = entry.counterexample
    assert cx["snippet"]
    if minimal_n is not None:
        assert cx["n"] == minimal_n
    if isinstance(value, bool):
        assert cx["value"] is value
    elif value is not None:
        assert cx["value"] == pytest.approx(value, abs=1e-9)


def test_sharpened_readings_have_the_hand_computed_counterexamples(catalog):
    mhc_init = check(catalog["entangled.theory.conjectures.lit_hyper_connections."
                             "mhc_initialisation_is_identity_skip"], "identity", examples=10)
    assert mhc_init.verdict == "falsified" and mhc_init.counterexample["n"] == 2
    assert mhc_init.counterexample["value"] == pytest.approx(1 / (math.e + 1), abs=1e-9)
    non_expansive = check(catalog["entangled.theory.conjectures.lit_mhc.mhc_h_res_is_non_expansive"],
                          "sinkhorn", examples=15)
    assert non_expansive.verdict == "falsified" and non_expansive.counterexample["n"] == 2


def test_orthostochastic_distance_known_answers():
    from entangled.theory.conjectures.lit_orthostochastic import orthostochastic_distance

    classic = torch.tensor([[1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=torch.float64) / 2
    assert orthostochastic_distance(classic) > 0.1                 # not orthostochastic
    q = E.make_mapping("orthogonal", 4, seed=3).dense()
    assert orthostochastic_distance(q ** 2) < 1e-12                 # squares of Q are
    t = 0.3
    d = torch.tensor([[math.cos(t) ** 2, math.sin(t) ** 2], [math.sin(t) ** 2, math.cos(t) ** 2]],
                     dtype=torch.float64)
    assert orthostochastic_distance(d) < 1e-12


def test_birkhoff_decomposition_meets_marcus_ree_and_rebuilds():
    import numpy as np

    from entangled.theory.conjectures.lit_mhc_lite import birkhoff_decomposition

    rng = np.random.default_rng(0)
    perms = [np.eye(5)[rng.permutation(5)] for _ in range(30)]
    weights = rng.dirichlet(np.ones(30))
    matrix = sum(w * p for w, p in zip(weights, perms))
    found_w, found_p = birkhoff_decomposition(matrix)
    assert len(found_p) <= (5 - 1) ** 2 + 1 < 30
    assert min(found_w) >= -1e-12
    np.testing.assert_allclose(sum(w * p for w, p in zip(found_w, found_p)), matrix, atol=1e-9)


def test_haar_test_rejects_plain_qr_and_accepts_the_family():
    from entangled.mappings.orthogonal import haar_orthogonal
    from entangled.theory.conjectures.lit_orthogonal import haar_first_entry_test

    generator = torch.Generator().manual_seed(0)

    def plain():
        return torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))[0]

    assert haar_first_entry_test(plain, 3) is False
    assert haar_first_entry_test(lambda: haar_orthogonal(3, generator), 3) is True


def test_copy_memory_simulation_matches_the_formula():
    from entangled.theory.conjectures.lit_refinement import copy_memory_memoryless_cross_entropy

    for blank in (1, 30):
        simulated = copy_memory_memoryless_cross_entropy(blank, 4000, seed=1)
        assert simulated == pytest.approx(10 * math.log(8) / (blank + 20), rel=0.02)


def test_entangled_skip_matrix_buffer_is_live():
    """Claim 29's sharp reading, shown directly: editing the exposed buffer changes forward."""
    from entangled.nn.skip import EntangledSkip

    skip = EntangledSkip(E.make_mapping("sparse", 6, seed=1))
    x = torch.randn(3, 6, dtype=torch.float64)
    before = skip(x)
    with torch.no_grad():
        skip.matrix.mul_(0.0)
    assert float((skip(x) - before).abs().max()) > 1e-3


def test_literature_rows_from_a_small_ledger(catalog):
    names = [LITERALLY_FALSIFIED[19], "entangled.theory.conjectures.lit_mhc."
                                      "doubly_stochastic_mixing_conserves_stream_mean"]
    ledger = run_conjectures([catalog[n] for n in names], examples=15, seed=0)
    rows = literature_rows(ledger, catalog.values())
    assert len(rows) == sum(len(c.conjectures) for c in CLAIMS)
    by_name = {r.conjecture: r for r in rows}
    ortho = by_name["lit_orthostochastic.orthostochastic_matrices_cover_doubly_stochastic"]
    assert (ortho.number, ortho.kind, ortho.verdict) == (19, "theorem", "falsified")
    assert ortho.matches_expected and ortho.evidence.startswith("counterexample [birkhoff] n=3")
    mean = by_name["lit_mhc.doubly_stochastic_mixing_conserves_stream_mean"]
    assert mean.verdict == "proved" and mean.evidence.startswith("proved: ")
    probed = by_name["probed.equals_exposed"]
    assert probed.verdict == "not run" and "entangled probe" in probed.evidence
    assert aggregate_verdict([]) == "not run"


def test_whole_literature_ledger_matches_expected(catalog):
    """Every literature conjecture, searched on every family it covers (few examples)."""
    conjectures = [catalog[n] for n in claim_conjecture_names()
                   if "probed" not in catalog[n].families]
    fixed = [c for c in conjectures if c.examples is not None]
    default = [c for c in conjectures if c.examples is None]
    entries = (run_conjectures(fixed, seed=0).entries
               + run_conjectures(default, examples=6, seed=0).entries)
    mismatches = [f"{e.short_name} [{e.family}]: {e.verdict} (expected {e.expected}) "
                  f"{(e.error or '')[-200:]}" for e in entries if not e.matches_expected]
    assert not mismatches, "\n".join(mismatches)
    assert len(entries) >= 30


def test_report_literature_section_reads_the_cached_ledger_dict(catalog):
    from entangled.theory.literature import literature_section

    ledger = run_conjectures([catalog[LITERALLY_FALSIFIED[20]]], examples=20, seed=0)
    rows = literature_section(ledger.to_dict())
    assert len(rows) == sum(len(c.conjectures) for c in CLAIMS) >= 45
    row = next(r for r in rows if r["conjecture"].endswith("never_decreases_the_norm"))
    assert (row["number"], row["kind"], row["verdict"]) == (20, "theorem", "falsified")
    assert row["evidence"].startswith("counterexample [dense] n=1")
    assert {r["verdict"] for r in rows} >= {"falsified", "not run"}


def test_report_template_literature_section_renders_every_row():
    from types import SimpleNamespace

    from entangled.reports import builtin_sections as sections, page
    from entangled.theory.ledger import Ledger
    from entangled.theory.literature import literature_section

    rows = literature_section(Ledger(seed=0))
    fragment = sections.literature_section(SimpleNamespace(ledger=Ledger(seed=0)))
    assert fragment.collapsed and "48 published claims" in fragment.brief
    html = page.environment().get_template(fragment.template).render(data=fragment.data)
    assert html.count("<tr") == len(rows) + 1
    assert "48 published claims" in html and "Birkhoff" in html


def test_claims_31_and_37_show_a_verdict_per_dtype(catalog):
    """Known answers: the reported 4e-7 is float32 rounding (holds in float32, falsified in
    float64); the published Sinkhorn defaults underflow in float32 only."""
    from entangled.theory.literature import S

    reported = catalog[S + "reported_composite_gaps_at_logit_scales_1_3_6"]
    gradient = catalog[S + "published_sinkhorn_defaults_gradient_reaches_every_logit"]
    ledger = run_conjectures([reported, gradient], seed=0, examples=2)
    found = {(e.short_name.split(".")[-1], e.dtype): e for e in ledger.entries}
    assert found[("reported_composite_gaps_at_logit_scales_1_3_6", "float32")].verdict == "holds"
    assert found[("reported_composite_gaps_at_logit_scales_1_3_6", "float64")].verdict == \
        "falsified"
    f32 = found[("published_sinkhorn_defaults_gradient_reaches_every_logit", "float32")]
    assert f32.verdict == "falsified" and f32.counterexample["value"] == 1.0  # no logit reached
    assert found[("published_sinkhorn_defaults_gradient_reaches_every_logit",
                  "float64")].verdict == "holds"
    assert all(e.matches_expected for e in ledger.entries)
    rows = {r.conjecture: r for r in literature_rows(ledger, catalog.values())}
    row = rows["lit_truncated_sinkhorn.reported_composite_gaps_at_logit_scales_1_3_6"]
    assert row.number == 31 and row.verdict == "falsified" and row.matches_expected
    assert row.evidence.startswith("float64: falsified; float32: holds")


def test_truncated_sinkhorn_scale_one_gap_is_float32_rounding():
    """The composite gap at logit scale 1 (n = 4, L = 64): ~1e-10 from truncation in float64,
    ~1e-7 in float32 — float32 rounding, four orders of magnitude above the truncation."""
    from entangled.theory.conjectures.lit_truncated_sinkhorn import composite_gaps

    seeds = list(range(7))
    f64 = sorted(composite_gaps(seeds, 1.0, torch.float64))[3]
    f32 = sorted(composite_gaps(seeds, 1.0, torch.float32))[3]
    assert f64 < 1e-8 < 4e-8 <= f32 <= 4e-6


def test_postnorm_fixed_weight_residual_is_one_over_sqrt_10():
    from entangled.theory.conjectures.lit_stream_models import (
        postnorm_block_is_a_fixed_weight_hyper_connection,
    )

    for n, seed in ((1, 0), (5, 3), (12, 7)):
        m = E.make_mapping("dense", n, seed=seed)
        assert postnorm_block_is_a_fixed_weight_hyper_connection(m) == pytest.approx(
            1 / math.sqrt(10), abs=1e-12)


def test_exponential_form_threshold_and_reach_ranks():
    """log(1 - x) = -x - x^2 at x* = 0.6838 (the threshold of claim 33); the reach of the
    parametrisations of claim 34 at known ranks."""
    from scipy.optimize import brentq

    from entangled.theory.conjectures import lit_parametrisations as P

    threshold = brentq(lambda x: math.log(1 - x) + x + x * x, 0.5, 0.99)
    assert threshold == pytest.approx(0.6838, abs=1e-4)
    kron = E.make_mapping("birkhoff", 4, seed=2)
    assert P.kronecker_2x2_parametrisation_reaches_2_dimensions(kron) == 0.0
    assert P.mhc_lite_parametrisation_reaches_the_whole_polytope(
        E.make_mapping("birkhoff", 3, seed=1)) == 0.0
    reflection = torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))
    assert P.cayley_mixer_cannot_represent_a_reflection(E.from_matrix(reflection)) < 1e-12
    householder = torch.eye(3, dtype=torch.float64) - 2 * torch.full((3, 3), 1 / 3,
                                                                      dtype=torch.float64)
    assert P.cayley_mixer_cannot_represent_a_reflection(E.from_matrix(householder)) < 1e-12
    rotation = E.make_mapping("rotation", 4, theta=0.4)                # det +1: a Cayley image
    assert P.cayley_mixer_cannot_represent_a_reflection(rotation) < 1e-12


def test_prenorm_growth_is_xiong_lower_bound_for_identity_and_below_for_mixing():
    from entangled.theory.conjectures.lit_stream_models import LAYERS, prenorm_growth

    mean, error = prenorm_growth(E.make_mapping("identity", 8))
    assert abs(mean - (1 + LAYERS / 2)) < 4 * error           # exactly (1 + l/2) d at init
    uniform = E.from_matrix(torch.full((8, 8), 1 / 8, dtype=torch.float64))
    mixed, _ = prenorm_growth(uniform)
    assert mixed < 0.6 * (1 + LAYERS / 2)                     # J/n keeps only the mean


def test_verify_summary_lists_literal_falsifications_and_dtype_splits(catalog):
    from entangled.theory.literature import S, literature_summary

    names = [LITERALLY_FALSIFIED[41], S + "published_sinkhorn_defaults_are_not_an_exact_permutation"]
    ledger = run_conjectures([catalog[n] for n in names], seed=0)
    lines = literature_summary(ledger, catalog.values())
    text = "\n".join(lines)
    assert lines[0].startswith("literature ledger: 2 of 48 published claims checked")
    assert "claim 41 (Zhu et al., arXiv 2409.19606): Pre-Norm and Post-Norm" in text
    assert "counterexample [dense] n=1" in text and "value 0.316" in text
    assert ("claim 37 lit_truncated_sinkhorn.published_sinkhorn_defaults_are_not_an_exact_"
            "permutation: float64: holds; float32: falsified") in text
    assert "claim 5 " not in text                     # not in this ledger: not listed
    assert literature_summary(run_conjectures([], seed=0), catalog.values()) == []


def test_oversmoothing_claim_holds_up_to_17_streams_and_fails_at_18():
    """Claim 46's smallest counterexample among Gaussian circulants, by a direct scan."""
    from entangled.theory.conjectures.lit_stream_collapse import (
        oversmoothing_decays_like_one_minus_gamma_to_the_L_over_n as claim,
    )

    bandwidths = [0.05 + 0.025 * k for k in range(19)]
    assert all(claim(E.make_mapping("circulant", n, bandwidth=b)) <= 1e-12
               for n in range(2, 18) for b in bandwidths)
    assert claim(E.make_mapping("circulant", 18, bandwidth=0.47)) > 1e-5
    assert all(claim(E.make_mapping("circulant", 24, bandwidth=b)) > 0 for b in (0.3, 0.4, 0.5))
