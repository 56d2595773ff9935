"""The claim-47 suite's pieces: the multi-stream Transformer (``stream_lm``), the character LM
task (``char_lm``), the suite file and its paired loss comparison.

Known answers: with every stream a copy of the embedding and the branch writing to every
stream, a row-stochastic stream mixing maps the state ``1 v^T`` to itself, so the forward pass
with the identity, a Birkhoff or a circulant mixing is the same function (claim 40's copies
stay copies), while an unconstrained mixing is not; the corpus is deterministic and its
baselines are the frequency and bigram predictors computed by hand.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from entangled.nn.blocks import SkipSpec
from entangled.nn.models import build_model
from entangled.tasks import load_task
from entangled.tasks.char_lm import ALPHABET, encode, generate_corpus

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "reports" / "suites" / "literature" / "lit47_stream_lm.toml"


def small_model(family: str, **params):
    return build_model("stream_lm", input_shape=(8, len(ALPHABET)), output_dim=len(ALPHABET),
                       skip=SkipSpec(family, params, seed=3),
                       config={"dim": 8, "streams": 4, "depth": 2, "heads": 2}, seed=0)


@torch.no_grad()
def test_row_stochastic_stream_mixing_is_the_plain_residual_function():
    x = torch.randn(3, 8, len(ALPHABET), generator=torch.Generator().manual_seed(0))
    baseline = small_model("identity").eval()(x)
    for family, params in (("birkhoff", {}), ("circulant", {}), ("permutation", {})):
        out = small_model(family, **params).eval()(x)
        torch.testing.assert_close(out, baseline, atol=1e-5, rtol=0)
    dense = small_model("dense").eval()(x)
    assert float((dense - baseline).abs().max()) > 1e-2


def test_stream_model_state_and_skip_axis():
    model = small_model("circulant")
    x = torch.randn(2, 8, len(ALPHABET))
    h0 = model.embed(x)
    assert tuple(h0.shape) == (2, 8, 4, 8)                          # (B, T, n streams, d)
    torch.testing.assert_close(h0[:, :, 0], h0[:, :, 3])            # copies of the embedding
    assert model.skip_axes() == (-2,) and model.num_applications == 4
    assert all(m.n == 4 for m in model.application_mappings())
    with pytest.raises(ValueError, match="invalid heads=3"):
        build_model("stream_lm", input_shape=(8, 28), output_dim=28,
                    config={"dim": 8, "heads": 3})


def test_char_lm_corpus_baselines_and_windows():
    text = generate_corpus(5000, seed=0)
    assert text == generate_corpus(5000, seed=0) and text != generate_corpus(5000, seed=1)
    assert set(text) <= set(ALPHABET) and text.count(". ") > 50
    task = load_task("char_lm", seed=0, corpus_chars=20000, n_train=300, n_test=200, context=16)
    assert task.input_shape == (16, 28) and task.output_dim == 28 and task.heads == 1
    assert torch.equal(task.x_train.sum(-1), torch.ones(300, 16))   # one-hot characters
    codes = encode(generate_corpus(20000, seed=0))
    split = int(0.8 * len(codes))
    most = Counter(codes[:split].tolist()).most_common(1)[0][0]
    assert ALPHABET[most] == " "
    assert task.chance_accuracy == pytest.approx(float((task.y_test.numpy() == most).mean()))
    last = task.x_test[:, -1].argmax(-1).numpy()
    pairs = Counter(zip(codes[:split - 1].tolist(), codes[1:split].tolist()))
    successor = {a: max(range(28), key=lambda b: pairs.get((a, b), 0)) for a in range(28)}
    expected = np.mean([successor[a] == y for a, y in zip(last, task.y_test.numpy())])
    assert task.memoryless_accuracy == pytest.approx(expected)
    assert 0.1 < task.chance_accuracy < task.memoryless_accuracy < 0.6
    with pytest.raises(ValueError, match="invalid corpus_chars=1000"):
        load_task("char_lm", corpus_chars=1000, context=200)


def test_suite_parses_plans_a_paired_design_and_is_in_no_preset():
    from entangled.reports.presets import load_suite

    suite = load_suite(SUITE)
    configs = suite.configs()
    assert len(configs) == 20 and {c.arch for c in configs} == {"stream_lm"}
    assert {c.family for c in configs} == {"identity", "dense", "sinkhorn", "circulant"}
    by_seed = Counter(c.seed for c in configs)
    assert set(by_seed.values()) == {4}                  # every mapping on every seed
    from entangled.reports.presets import preset_names

    assert "lit47_stream_lm" not in preset_names()       # its own folder: not a --preset
    for preset in ("smoke", "quick", "full"):
        text = (ROOT / "reports" / "suites" / f"{preset}.toml").read_text()
        assert "stream_lm" not in text


def test_loss_equivalence_script_on_stored_like_results():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import lit47_loss_equivalence as script

    table = {"identity": {s: 1.20 + 0.01 * s for s in range(5)},
             "sinkhorn": {s: 1.20 + 0.01 * s + 0.001 for s in range(5)},
             "dense": {s: 1.33 + 0.01 * s + 0.002 * (s % 2) for s in range(5)}}
    rows = {r["family"]: r for r in script.comparison_rows(table)}
    assert rows["sinkhorn"]["equivalent"] and rows["sinkhorn"]["mean"] == pytest.approx(0.001)
    assert not rows["dense"]["equivalent"] and rows["dense"]["mean"] > 0.13
    assert rows["dense"]["seeds"] == 5
    diverged = dict(table, circulant={0: None, 1: 1.2, 2: 1.22, 3: 1.23, 4: 1.24})
    row = {r["family"]: r for r in script.comparison_rows(diverged)}["circulant"]
    # seed 0 diverged: counted at log 28 against 1.20; seed 1: 1.20 against 1.21
    assert row["mean"] == pytest.approx((math.log(28) - 1.20 - 0.01) / 5, abs=1e-9)


def test_claims_that_need_training_name_an_existing_suite():
    from entangled.reports.presets import load_suite
    from entangled.theory.literature import CLAIMS

    suites = {c.number: c.suite for c in CLAIMS if c.suite}
    assert suites == {47: "reports/suites/literature/lit47_stream_lm.toml"}
    assert load_suite(ROOT / suites[47]).name == "lit47_stream_lm"
