"""The staged report (entangled.reports.staged): seeds only where a verdict is still open."""


import pytest

from entangled.reports import presets
from entangled.reports.analysis import outcomes
from entangled.reports.sequential import CONTINUE
from entangled.reports.staged import design_for, later_stage_configs, run_staged, seed_order
from entangled.reports.verdicts import REPRODUCED
from entangled.sweep import local_worker_limit
from run_fakes import fake_result

SUITE = {
    "name": "staged", "seeds": [0, 1, 2],
    "sequential": {"stages": [3, 6, 12], "spending": "pocock"},
    "runs": [
        {"arch": "rnn", "task": "delayed_recall", "steps": 5, "lr_grid": [1e-3, 1e-2],
         "variants": [{"family": "identity"}, {"family": "orthogonal"}]},
        {"arch": "rnn", "task": "counting", "steps": 5, "lr_grid": [1e-3, 1e-2],
         "variants": [{"family": "identity"}, {"family": "orthogonal"}]},
        {"arch": "rnn", "task": "counting", "steps": 5, "seeds": [0, 1],
         "variants": [{"family": "permutation"}]},
    ],
}

#: per-seed noise, fixed (differences of counting have spread ~2 pp and mean 0)
NOISE = [0.011, -0.017, 0.006, 0.021, -0.009, -0.013, 0.015, -0.002, 0.008, -0.019, 0.004, 0.012]


def accuracy(config) -> float:
    """A known function of the run: the orthogonal RNN solves delayed recall; on counting the
    mappings tie with a spread of ~6 pp (undecided up to 12 seeds); the larger learning rate is
    better on validation by 1 pp."""
    bonus = 0.01 if config.lr == 1e-2 else 0.0
    if config.seed >= 3 and config.lr == 1e-2:  # later seeds (trained at 1e-2 only) are worse
        bonus -= 0.1
    if config.task == "delayed_recall":
        if config.family == "orthogonal":
            return 0.95 + bonus + NOISE[config.seed] / 10
        return 0.30 + bonus + NOISE[(config.seed + 5) % len(NOISE)] / 10
    sign = 1 if config.family == "orthogonal" else 0
    return 0.8 + bonus + sign * 4 * NOISE[config.seed]


class FakeStore:
    """``run(configs)``: stores a fake result per new config, returns every stored result."""

    def __init__(self, interrupt_after: int | None = None):
        self.results, self.calls, self.interrupt_after = {}, [], interrupt_after

    def __call__(self, configs):
        if self.interrupt_after is not None and len(self.calls) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls.append(list(configs))
        for c in configs:
            if c.hash() not in self.results:
                structure = "time-variant" if c.task == "delayed_recall" else "time-invariant"
                self.results[c.hash()] = fake_result(c, test_accuracy=accuracy(c), chance=0.125,
                                                     time_structure=structure)
        return list(self.results.values())


def _run(store, suite):
    return run_staged(suite, store, outcome_rows=outcomes)


def test_seed_order_takes_the_suite_seeds_first():
    suite = presets.parse_suite({**SUITE, "seeds": [3, 0, 1], "sequential": {"stages": [3, 6]}})
    assert seed_order(suite, 6) == (3, 0, 1, 2, 4, 5)
    assert design_for(presets.parse_suite(SUITE)).seeds_at(1) == (0, 1, 2, 3, 4, 5)
    assert design_for(presets.parse_suite({k: v for k, v in SUITE.items() if k != "sequential"})) is None


def test_a_declared_seed_order_gives_the_later_stages_fresh_seeds():
    sequential = {"stages": [3, 6], "seed_order": [100, 101, 102, 103, 104, 105, 106]}
    suite = presets.parse_suite({**SUITE, "seeds": [100, 101, 102], "sequential": sequential})
    assert seed_order(suite, 6) == (100, 101, 102, 103, 104, 105)
    assert design_for(suite).seeds_at(1) == (100, 101, 102, 103, 104, 105)
    assert {c.seed for c in later_stage_configs(suite)} == {103, 104, 105}


@pytest.mark.parametrize("order", [[100, 101, 102, 103, 104], [101, 100, 102, 103, 104, 105],
                                   [100, 101, 102, 103, 103, 105], [100, 101, 102, 103, 4.0, 5],
                                   "100-105", [100, 101, 102, 103, 104, -1]])
def test_a_bad_seed_order_is_refused_naming_it(order):
    sequential = {"stages": [3, 6], "seed_order": order}
    with pytest.raises(ValueError, match="sequential.seed_order"):
        presets.parse_suite({**SUITE, "seeds": [100, 101, 102], "sequential": sequential})


def test_only_open_comparisons_get_more_seeds_at_their_selected_rate():
    suite = presets.parse_suite(SUITE)
    store = FakeStore()
    outcome = _run(store, suite)
    by_task = {p.task: p for p in suite.primary}
    recall, counting = by_task["delayed_recall"], by_task["counting"]
    # delayed recall: +65 pp on every seed, decided at stage 1; counting: a tie, runs to the cap
    assert outcome.stage_of[recall] == 0 and outcome.decisions[recall].word == REPRODUCED
    assert outcome.stage_of[counting] == 2 and outcome.decisions[counting].word != CONTINUE
    assert outcome.runs_per_stage == [len(suite.configs()), 6, 12]
    later = [c for call in store.calls[1:] for c in call]
    assert {(c.task, c.lr) for c in later} == {("counting", 1e-2)}  # the selected rate only
    assert sorted({c.seed for c in store.calls[1]}) == [3, 4, 5]
    assert sorted({c.seed for c in store.calls[2]}) == list(range(6, 12))
    assert {c.family for c in later} == {"identity", "orthogonal"}
    summary = {row["task"]: row for row in outcome.summary(suite)}
    assert summary["counting"]["seeds"] == 12 and summary["delayed_recall"]["stage_reached"] == 1


def test_an_interrupted_staged_report_resumes_with_the_same_seeds_and_words():
    suite = presets.parse_suite(SUITE)
    whole = _run(FakeStore(), suite)
    store = FakeStore(interrupt_after=2)  # stage 1 and 2 trained, stage 3 interrupted
    with pytest.raises(KeyboardInterrupt):
        _run(store, suite)
    store.interrupt_after = None
    resumed = _run(store, suite)
    assert resumed.stage_of == whole.stage_of
    assert {k: d.word for k, d in resumed.decisions.items()} == {
        k: d.word for k, d in whole.decisions.items()}
    # the second invocation trained nothing twice: stage 3's runs once, the rest reused
    assert len(store.results) == sum(whole.runs_per_stage)


def test_later_stages_never_change_the_learning_rate_choice():
    """Stage 1 prefers 1e-2 by 1 pp on validation; the later seeds, trained at 1e-2 only, score
    10 pp lower (both arms, so the paired differences are unchanged). The report's choice reads
    stage 1 alone and stays 1e-2; read over every run it would flip to 1e-3."""
    from entangled.reports.evidence import tuned_selection as tuning_section

    suite = presets.parse_suite(SUITE)
    store = FakeStore()
    outcome = _run(store, suite)
    results = list(store.results.values())
    staged_choice, _, _ = tuning_section(suite, results, outcome.stage1_hashes)
    naive_choice, _, _ = tuning_section(suite, results)
    assert {(s.task.name, s.variant.family): s.lr for s in staged_choice} == {
        (t, f): 1e-2 for t in ("delayed_recall", "counting") for f in ("identity", "orthogonal")}
    assert {s.lr for s in naive_choice if s.task.name == "counting"} == {1e-3}


@pytest.mark.parametrize("name", presets.preset_names())
def test_a_preset_designed_on_a_pilot_never_reruns_the_pilots_seeds(name):
    """Issue 22: the learning rates (and the design) chosen on a pilot are confirmed on seeds
    the pilot never ran, so that the pilot's results cannot choose their own analysis."""
    suite = presets.get_preset(name)
    pilot = {s for record in suite.tuning for s in record.seeds}
    design = design_for(suite)
    report = set(suite.seeds) | {s for g in suite.runs for s in g.seeds}
    report |= set(design.seeds) if design else set()
    assert not pilot & report, sorted(pilot & report)


def test_the_stages_of_a_report_share_one_set_of_worker_processes(monkeypatch, tmp_path):
    """run_suite hands every stage's sweep the same local executor (its workers are not
    started again per stage) and stops it when the stages are done."""
    import entangled.sweep as sweep_module
    from entangled.executors import LocalExecutor
    from entangled.reports.build import run_suite
    from entangled.sweep import SweepSummary

    store, executors = FakeStore(), []

    def fake_sweep(configs, out_dir, *, executor, **options):
        executors.append((executor, executor._pool is None))
        store(configs)
        executor._pool = "started"  # what a sweep's first call leaves behind
        return SweepSummary(str(out_dir), hashes=[c.hash() for c in configs])

    monkeypatch.setattr(sweep_module, "run_sweep", fake_sweep)
    monkeypatch.setattr(sweep_module, "load_results", lambda out: list(store.results.values()))
    monkeypatch.setattr(LocalExecutor, "close", lambda self: setattr(self, "_pool", "closed"))
    suite = presets.parse_suite(SUITE)
    _, _, outcome = run_suite(suite, tmp_path, 2, False, until_decided=True)
    assert len(outcome.runs_per_stage) == len(executors) >= 2  # several stages ran
    first = executors[0][0]
    assert isinstance(first, LocalExecutor) and first.workers == min(2, local_worker_limit())
    assert all(executor is first for executor, _ in executors)
    assert [fresh for _, fresh in executors] == [True] + [False] * (len(executors) - 1)
    assert first._pool == "closed"
