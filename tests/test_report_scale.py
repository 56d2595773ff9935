"""Issue 12's report sections on synthetic outcome rows: unlearnt tasks, the MNIST-1D
calibration table, and their place on the page and in summary.json."""

from __future__ import annotations

import pytest

from entangled.errors import InvalidParameterError
from entangled.runs import TaskSpec
from entangled.tasks.sequences import majority_memoryless
from entangled.train import RunConfig
from entangled.reports import analysis, calibration, learnability, scale
from entangled.reports.evidence import Labels
from run_fakes import fake_result


def results_for(table, chance=0.1, **config):
    """Fake results: ``table`` maps (arch, task, family) to accuracies per seed."""
    out = []
    for (arch, task, family), accuracies in table.items():
        for seed, accuracy in enumerate(accuracies):
            options = config.get("model", {}).get(arch, {})
            out.append(fake_result(RunConfig(arch=arch, task=task, family=family, model=options,
                                             seed=seed, skip_seed=seed, steps=1),
                                   test_accuracy=accuracy, chance=chance))
    return out


# ------------------------------------------------------------------------- learnability
def test_a_task_is_unlearnt_when_no_mapping_beats_the_level():
    # chance 0.1, memoryless 0.1 (the fakes' level): the level to beat is 0.2
    results = results_for({("cnn", "digits", "identity"): [0.15, 0.25],        # mean 0.20: not above
                           ("cnn", "digits", "orthogonal"): [0.19, 0.19],
                           ("vit", "digits", "identity"): [0.19, 0.23],        # mean 0.21: learnt
                           ("vit", "digits", "orthogonal"): [0.1, 0.1]})
    rows = analysis.outcomes(results)
    levels = learnability.memoryless_levels(results)
    flagged = learnability.unlearnt_pairs(rows, levels)
    assert [u.arch.name for u in flagged] == ["cnn"]
    (u,) = flagged
    assert u.level == pytest.approx(0.2) and u.best_accuracy == pytest.approx(0.2)
    assert u.best_variant == "identity"
    assert u.to_dict()["task"] == "digits" and u.to_dict()["level"] == pytest.approx(0.2)
    kept = learnability.exclude_unlearnt(rows, levels)
    assert {o.arch.name for o in kept} == {"vit"} and len(kept) == 2
    # a smaller margin: both learnt
    assert learnability.unlearnt_pairs(rows, levels, margin=0.05) == []


def test_the_memoryless_level_counts_when_it_is_above_chance():
    results = results_for({("cnn", "digits", "identity"): [0.5, 0.5]}, chance=0.1)
    rows = analysis.outcomes(results)
    task = rows[0].task
    assert learnability.unlearnt_pairs(rows, {task: 0.45}) != []    # 0.5 <= 0.45 + 0.1
    assert learnability.unlearnt_pairs(rows, {task: 0.35}) == []    # 0.5 > 0.35 + 0.1


def test_a_pair_without_finished_runs_is_unlearnt():
    config = RunConfig(arch="cnn", task="digits", seed=0, steps=1)
    rows = analysis.outcomes([fake_result(config, status="diverged")])
    (u,) = learnability.unlearnt_pairs(rows, {rows[0].task: 0.1})
    assert u.best_accuracy is None and u.best_variant is None


def test_memoryless_level_from_the_task_registry():
    task = TaskSpec("majority", {"length": 20}).resolve()
    assert learnability.task_memoryless(task) == pytest.approx(majority_memoryless(20))
    assert majority_memoryless(20) == pytest.approx(0.6069, abs=1e-4)


@pytest.mark.parametrize("margin", [-0.1, 1.0, float("nan"), "0.1"])
def test_bad_margin_is_refused(margin):
    with pytest.raises(InvalidParameterError, match="margin"):
        learnability.unlearnt_pairs([], {}, margin=margin)


# ------------------------------------------------------------------------- calibration
MNIST1D = {("cnn", "mnist1d", "identity"): [0.92, 0.96],
           ("cnn", "mnist1d", "orthogonal"): [0.99, 0.99],
           ("cnn", "mnist1d_shuffled", "identity"): [0.50, 0.52],
           ("rnn", "mnist1d_sequence", "identity"): [0.85, 0.86]}


@pytest.fixture(scope="module")
def mnist1d_rows():
    pytest.importorskip("mnist1d", reason="pip install -e .")
    return analysis.outcomes(results_for(MNIST1D, model={"rnn": {"hidden": 128}}))


REFERENCES = {"mnist1d": {"logistic": [0.31, 0.33, 0.32], "mlp": [0.60, 0.62, 0.61],
                          "cnn": [0.93, 0.95, 0.94], "gru": [0.80, 0.82, 0.81]},
              "mnist1d_shuffled": {"cnn": [0.55, 0.57]}}


def test_calibration_table_puts_the_references_and_ours_beside_the_published_figures(mnist1d_rows):
    table = calibration.calibration_table(mnist1d_rows, REFERENCES)
    refs = {(r["variant"], r["model"]): r for r in table if r["kind"] == "reference"}
    ours = {(r["variant"], r["model"]): r for r in table if r["kind"] == "ours"}
    logistic = refs[("mnist1d", "logistic")]
    assert logistic["ours"] == pytest.approx(0.32) and logistic["seeds"] == 3
    assert logistic["low"] < 0.32 < logistic["high"] and logistic["matches"] is True
    mlp = refs[("mnist1d", "mlp")]  # 7 pp below, interval far from 68%
    assert mlp["gap_pp"] == pytest.approx(-7.0) and mlp["matches"] is False
    gru = refs[("mnist1d", "gru")]  # 10 pp below
    assert gru["published"] == 0.91 and gru["matches"] is False
    assert refs[("mnist1d_shuffled", "cnn")]["gap_pp"] == pytest.approx(0.0)
    assert ("mnist1d_shuffled", "gru") not in refs  # not measured: no row
    # ours: as what they are, never a "match"; identity only (not the orthogonal arm)
    cnn = ours[("mnist1d", "cnn")]
    assert cnn["ours"] == pytest.approx(0.94) and cnn["matches"] is None and cnn["seeds"] == 2
    assert cnn["gap_pp"] == pytest.approx(0.0, abs=1e-9)  # the published task: gap given
    assert "rnn[hidden=128] identity on mnist1d_sequence" not in {r["source"] for r in ours.values()}
    assert ("mnist1d", "human") not in refs
    assert [r["model"] for r in table if r["variant"] == "mnist1d" and r["kind"] == "reference"] == [
        "logistic", "mlp", "cnn", "gru"]


def test_ours_on_a_harder_task_setting_gets_no_gap():
    pytest.importorskip("mnist1d", reason="pip install -e .")
    from entangled.train import RunConfig

    results = [fake_result(RunConfig(arch="cnn", task="mnist1d", seed=s,
                                     task_options={"iid_noise_scale": 0.06}), test_accuracy=0.8)
               for s in (0, 1)]
    table = calibration.calibration_table(analysis.outcomes(results), {})
    [row] = table
    assert row["kind"] == "ours" and row["published"] is None and row["gap_pp"] is None
    assert "iid_noise_scale=0.06" in row["source"] and "not the published task" in row["source"]


def test_no_mnist1d_runs_give_no_table():
    rows = analysis.outcomes(results_for({("cnn", "digits", "identity"): [0.9]}))
    assert calibration.calibration_table(rows, None) == []
    called = []
    table, measured = scale.calibration_rows(rows, references=lambda: called.append(1) or {})
    assert table == [] and measured is None and called == []  # references not measured


def test_only_the_default_model_size_is_shown_never_the_best(mnist1d_rows):
    pytest.importorskip("mnist1d", reason="pip install -e .")
    results = results_for({("cnn", "mnist1d", "identity"): [0.90, 0.90]})
    results += results_for({("cnn", "mnist1d", "identity"): [0.99, 0.99]}, model={"cnn": {"width": 32}})
    rows = analysis.outcomes(results)
    assert [o.summary.mean for o in calibration.identity_outcomes(rows, "cnn", "mnist1d")] == [
        pytest.approx(0.90)]


# ------------------------------------------------------------------------- page + summary
def render_scale(results, rows, references):
    """The calibration, learnability and depth sections as the page renders them."""
    from types import SimpleNamespace

    from entangled.reports import builtin_sections as sections, depth, page

    table, measured = scale.calibration_rows(rows, references=references)
    ev = SimpleNamespace(
        calibration=table, references_measured=measured,
        unlearnt=learnability.unlearnt_pairs(rows, learnability.memoryless_levels(results)),
        gains=depth.gain_section(results, rows), labels=Labels(()))
    env = page.environment()
    env.filters.update(variant=ev.labels.variant, arch=ev.labels.arch, task=ev.labels.task)
    html = ""
    for key, build in (("calibration", sections.calibration_section),
                       ("learnability", sections.learnability_section),
                       ("depth", sections.depth_section)):
        fragment = build(ev)
        if fragment is not None:
            html += (f'<section id="{key}">' + env.get_template(fragment.template).render(
                data=fragment.data) + "</section>")
    return ev, html


def test_page_and_summary_show_calibration_unlearnt_and_gains(mnist1d_rows):
    results = results_for(MNIST1D, model={"rnn": {"hidden": 128}})
    results += results_for({("cnn", "mnist1d", "identity"): [0.5]}, model={"cnn": {"depth": 8}})
    rows = analysis.outcomes(results)
    ev, html = render_scale(results, rows, lambda: REFERENCES)
    assert '<section id="calibration">' in html and "GRU (bidirectional, hidden 6)" in html
    assert "residual CNN (ours)" in html and "cnn identity on mnist1d" in html
    assert "(does not match)" in html and "(matches)" in html
    assert "Every architecture and task of this suite was learnt" in html
    assert '<figure id="fig-composite-gain">' in html  # the CNN is swept over depth on mnist1d
    summary = scale.summary_entry(ev.gains, ev.unlearnt, ev.calibration)
    assert {g["arch_label"] for g in summary["composite_gain"]} == {"cnn", "cnn[depth=8]",
                                                                    "rnn[hidden=128]"}
    rnn = next(g for g in summary["composite_gain"] if g["arch"] == "rnn")
    assert rnn["applications"] == 40 and rnn["spectral_norm"] == 1.0
    assert summary["unlearnt"] == [] and summary["unlearnt_margin"] == 0.1
    assert summary["mnist1d_calibration"] == ev.calibration


def test_page_lists_unlearnt_pairs():
    results = results_for({("cnn", "digits", "identity"): [0.12, 0.13]})
    _, html = render_scale(results, analysis.outcomes(results), None)
    assert '<section id="calibration">' not in html
    assert "<td>cnn · digits</td>" in html and "<td>identity</td>" in html
    assert "This suite sweeps no depth or width" in html


def test_references_train_on_one_thread_once_per_seed_and_are_cached(tmp_path, monkeypatch):
    import torch

    import entangled.tasks.mnist1d as m

    calls = []

    def fake(shuffled=False, steps=8000, seed=0, models=()):
        calls.append((shuffled, steps, seed, tuple(models), torch.get_num_threads()))
        return {model: 0.3 + shuffled / 100 + seed / 1000 for model in models}

    monkeypatch.setattr(m, "mnist1d_reference_accuracies", fake)
    threads = torch.get_num_threads()
    cache = tmp_path / "refs.json"
    first = calibration.reference_accuracies(steps=50, seeds=(0, 1), cache=cache)
    expected = [(variant == "mnist1d_shuffled", 50, seed, (model,), 1)
                for variant, models in calibration.REFERENCE_MODELS.items()
                for model in models for seed in (0, 1)]
    assert calls == expected and len(calls) == 12
    assert torch.get_num_threads() == threads
    assert first["mnist1d"]["cnn"] == [0.3, 0.301] and first["mnist1d_shuffled"]["gru"] == [0.31, 0.311]
    assert calibration.reference_accuracies(steps=50, seeds=(0, 1), cache=cache) == first
    assert len(calls) == 12  # read from the cache
    assert calibration.cached_references(cache, steps=50, seeds=(0, 1))["accuracies"] == first
    assert calibration.cached_references(cache, steps=60, seeds=(0, 1)) is None
    calibration.reference_accuracies(steps=60, seeds=(0, 1), cache=cache)  # another key
    assert len(calls) == 24
