"""The cost gate (issue 26): integer budgets refuse floats and absurd values; the commands
estimate what is left to train and, above the limit, ask on a terminal and refuse without one
unless ``--yes``; the built-in presets stay below the limit."""

from __future__ import annotations

import json

import pytest

from entangled import cost
from entangled.cli import main
from entangled.cost import CostEstimate, CostRefused, check_cost, estimate, run_seconds
from entangled.errors import InvalidParameterError
from entangled.commands import confirm_cost
from entangled.reports.headroom import calibration_run_configs
from entangled.reports.presets import get_preset, preset_names, run_configs
from entangled.reports.staged import later_stage_configs
from entangled.runs import as_spec
from entangled.sweep import plan, run_sweep
from run_fakes import fake_result


def spec(**fields):
    return as_spec({"arch": "rnn", "task": "parity", **fields}).resolve()


# ------------------------------------------------------------------ budgets
@pytest.mark.parametrize("name, value", [
    ("steps", 1e12), ("steps", 400.5), ("steps", "400"), ("steps", 10**12), ("steps", 0),
    ("batch_size", 64.5), ("batch_size", 2**30), ("eval_every", 1e8), ("patience", 2.5),
    ("epochs", 1e9), ("steps", float("nan")), ("steps", True),
])
def test_integer_budgets_refuse_fractions_and_absurd_values(name, value):
    with pytest.raises(InvalidParameterError, match=f"invalid {name}="):
        spec(**{name: value})


def test_a_float_with_an_integer_value_is_that_integer():
    assert spec(steps=400.0).budget.steps == 400 and spec(steps=400.0) == spec(steps=400)


def test_sweep_configs_with_a_float_step_count_are_refused_before_anything_runs(tmp_path, capsys):
    (tmp_path / "c.json").write_text('[{"arch": "rnn", "task": "parity", "steps": 1e12}]')
    code = main(["sweep", str(tmp_path / "c.json"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "invalid steps=1000000000000.0" in err and "<= 10000000" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ the estimate
def test_the_estimate_is_overhead_plus_rate_times_steps_scaled_by_batch_and_size():
    base = run_seconds(spec(steps=1000))
    assert base == pytest.approx(cost.RUN_OVERHEAD_S + 1000 * cost.STEP_SECONDS["rnn"])
    per_step = base - cost.RUN_OVERHEAD_S
    assert run_seconds(spec(steps=1000, batch_size=128)) - cost.RUN_OVERHEAD_S == \
        pytest.approx(2 * per_step)
    wide = as_spec({"arch": "rnn", "task": "parity", "steps": 1000,
                    "model": {"hidden": 128}}).resolve()  # default hidden 64: twice as wide
    assert run_seconds(wide) - cost.RUN_OVERHEAD_S == \
        pytest.approx(2 ** cost.WIDTH_EXPONENT * per_step)
    assert estimate([spec(seed=s, steps=1000) for s in range(3)]).cpu_seconds == \
        pytest.approx(3 * base)


def test_a_batch_costs_its_shared_part_once_and_each_runs_own_part():
    """batch_seconds: steps * (shared / n + own) per run for a measured (arch, task), scaled
    by batch size and size factor; half of run_seconds shared for one not measured."""
    shared, own = cost.BATCHED_STEP_SECONDS[("rnn", "counting")]

    def counting(seed, **fields):
        return as_spec({"arch": "rnn", "task": "counting", "steps": 300, "seed": seed,
                        "batch_size": 32, **fields}).resolve()

    batch = [counting(s) for s in range(8)]
    factor = cost.size_factor(batch[0])
    assert cost.batch_seconds(batch) == pytest.approx(8 * 300 * (shared / 8 + own) * factor)
    larger = [counting(s, batch_size=64) for s in range(8)]
    assert cost.batch_seconds(larger) == pytest.approx(2 * cost.batch_seconds(batch))
    longer = [counting(s, task_options={"length": 40}) for s in range(8)]  # twice the default
    assert cost.batch_seconds(longer) == pytest.approx(2 * cost.batch_seconds(batch))
    per_run = [cost.batch_seconds(batch[:n]) / n for n in (1, 2, 4, 8)]
    assert per_run == sorted(per_run, reverse=True) and per_run[0] > per_run[-1]
    unmeasured = [spec(seed=s, steps=1000) for s in range(4)]
    assert cost.batch_seconds(unmeasured) == pytest.approx(
        4 * run_seconds(unmeasured[0]) * (1 - cost.UNMEASURED_SHARED + cost.UNMEASURED_SHARED / 4))


def test_the_longest_batch_by_its_batched_cost_starts_first():
    """quick's 9 transformer runs train longer as a batch than 16 digit CNN runs (the
    transformer gains little from batching) though their one-at-a-time estimates are
    smaller: the transformer batch is started first."""
    from entangled.sweep.loop import longest_first

    def runs(arch, task, steps, count):
        return [(f"{arch}{s}", as_spec({"arch": arch, "task": task, "steps": steps, "seed": s,
                                         "batch_size": 32}).resolve()) for s in range(count)]

    cnn, transformer = runs("cnn", "digits", 150, 16), runs("transformer", "mnist1d_sequence", 300, 9)
    assert sum(run_seconds(s) for _, s in transformer) < sum(run_seconds(s) for _, s in cnn)
    assert longest_first([cnn, transformer]) == [transformer, cnn]
    assert longest_first([transformer[:1], cnn]) == [cnn, transformer[:1]]


def test_lpt_finish_times_start_each_batch_on_the_first_free_worker():
    from entangled.sweep.loop import lpt_finish_times

    assert lpt_finish_times([5, 4, 3, 2], 2) == [5, 4, 7, 7]
    assert lpt_finish_times([5, 4, 3, 2], 1) == [5, 9, 12, 14]
    assert lpt_finish_times([], 3) == []


def test_the_batch_that_would_end_last_alone_is_halved_when_that_ends_sooner():
    """quick's third stage: two CNN batches of 15, two RNN and three ViT batches of 10 on two
    workers leave one worker alone with the last ViT batch; halving it ends the stage ~10 s
    sooner by the estimate. Every run stays in exactly one batch, of one batch key."""
    from entangled.batched import batch_key
    from entangled.sweep.loop import balanced_batches, longest_first, lpt_finish_times

    def group(arch, task, count, lr, first_seed, **options):
        return [(f"{arch}{lr}s{s}", as_spec({
            "arch": arch, "task": task, "steps": 500, "seed": s, "lr": lr, "batch_size": 32,
            "task_options": options}).resolve()) for s in range(first_seed, first_seed + count)]

    groups = [group("cnn", "mnist1d", 15, 1e-3, 0), group("cnn", "mnist1d", 15, 1e-3, 15),
              group("rnn", "counting", 10, 1e-3, 0, length=40),
              group("rnn", "counting", 10, 1e-3, 10, length=40),
              group("vit", "mnist1d_patches", 10, 1e-3, 0),
              group("vit", "mnist1d_patches", 10, 3e-3, 0),
              group("vit", "mnist1d_patches", 10, 1e-2, 0)]

    def makespan(batches, workers=2):
        return max(lpt_finish_times([cost.batch_seconds([s for _, s in b]) for b in batches],
                                    workers))

    before, after = longest_first(groups), balanced_batches(groups, 2)
    assert len(after) == len(before) + 1 and sorted(len(b) for b in after)[:2] == [5, 5]
    assert makespan(after) < makespan(before) - 5
    members = [m for b in after for m in b]
    assert sorted(k for k, _ in members) == sorted(k for g in groups for k, _ in g)
    assert all(len({batch_key(s) for _, s in b}) == 1 for b in after)
    assert balanced_batches(groups, 1) == before  # one worker: nothing to balance
    even = groups[:2]  # two equal batches on two workers: already balanced
    assert balanced_batches(even, 2) == longest_first(even)


@pytest.mark.parametrize("name", preset_names())
def test_the_built_in_presets_run_without_yes(name):
    """smoke (CI), quick (the Quickstart's ``make report``) and full are below the limit with
    every later stage of their sequential design counted, so none of them needs ``--yes``."""
    suite = get_preset(name)
    configs = run_configs(suite) + later_stage_configs(suite)
    assert estimate(plan(configs).values()).cpu_hours < cost.DEFAULT_LIMIT_CPU_HOURS


def test_the_full_estimate_is_within_a_factor_of_two_of_the_timed_one():
    """``benchmarks/estimate_suite.py --preset full`` timed 17.4 CPU hours for the 4,160 runs of
    the earlier full preset (docs/report.md); stage 1 of today's (4,460 runs, the primary
    groups added) stays within a factor of two of it."""
    hours = estimate(plan(run_configs(get_preset("full"))).values()).cpu_hours
    assert 17.4 / 2 <= hours <= 17.4 * 2


@pytest.mark.parametrize("name, stage1, later", [("smoke", 44, 20), ("quick", 204, 150),
                                                  ("full", 4460, 300)])
def test_later_stages_add_both_arms_of_every_primary_comparison_up_to_the_cap(name, stage1,
                                                                               later):
    """quick: 309 runs at stage 1, at most 459 (docs/report.md): 10 primary arms (the mapping
    and the identity of 5 comparisons, identities shared) x 15 more seeds (5 -> 20)."""
    suite = get_preset(name)
    assert len(plan(run_configs(suite))) == stage1
    assert len(plan(later_stage_configs(suite))) == later
    assert not set(plan(run_configs(suite))) & set(plan(later_stage_configs(suite)))


# ------------------------------------------------------------------ the gate
def test_the_gate_asks_above_the_limit_and_refuses_without_an_answer():
    big = CostEstimate(runs=10, cpu_seconds=100 * 3600)
    check_cost(big, limit=200)  # below: nothing asked
    check_cost(big, limit=50, yes=True)
    check_cost(big, limit=50, ask=lambda question: "y")
    with pytest.raises(CostRefused, match="above the limit of 50.0 h.*--yes"):
        check_cost(big, limit=50, ask=lambda question: "n")
    with pytest.raises(CostRefused, match="100.0 h"):
        check_cost(big, limit=50)  # no terminal


HUGE = [{"arch": "rnn", "task": "parity", "seed": s, "steps": 10**6} for s in range(200)]


def test_a_huge_sweep_is_refused_without_a_terminal_and_nothing_trains(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps(HUGE))
    code = main(["sweep", str(tmp_path / "c.json"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "200 runs" in err and "pass --yes" in err
    assert not (tmp_path / "out").exists()


def test_a_huge_suite_is_refused_by_report_before_its_folder_exists(tmp_path, capsys):
    suite = tmp_path / "huge.toml"
    suite.write_text('name = "huge"\nseeds = [' + ", ".join(map(str, range(50))) + ']\n'
                     '[[runs]]\narch = "cnn"\ntask = "digits"\nsteps = 1000000\n'
                     'variants = [{family = "identity"}, {family = "orthogonal"}]\n')
    code = main(["report", "--suite", str(suite), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "100 runs" in err and "--yes" in err
    assert not (tmp_path / "out").exists()


TINY = [{"arch": "rnn", "task": "parity", "seed": s, "steps": 2, "eval_every": 1,
         "batch_size": 16, "metrics": False} for s in range(2)]


def test_yes_lets_a_job_above_the_limit_train(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(cost.LIMIT_ENV, "1e-9")
    (tmp_path / "c.json").write_text(json.dumps(TINY))
    assert main(["sweep", str(tmp_path / "c.json"), "--out", str(tmp_path / "out")]) == 2
    assert main(["sweep", str(tmp_path / "c.json"), "--out", str(tmp_path / "out"),
                 "--yes"]) == 0
    assert len(list((tmp_path / "out").glob("*.json"))) == 2


def test_finished_runs_do_not_count(tmp_path, monkeypatch):
    """Resuming a big job that is almost done does not ask again: only the runs without a
    result file count."""
    run_sweep(TINY, tmp_path / "out", run_fn=fake_result, progress=False)
    monkeypatch.setenv(cost.LIMIT_ENV, "1e-9")
    (tmp_path / "c.json").write_text(json.dumps(TINY))
    assert main(["sweep", str(tmp_path / "c.json"), "--out", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize("value", ["0", "-3", "nan", "lots"])
def test_a_bad_limit_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(cost.LIMIT_ENV, value)
    with pytest.raises(InvalidParameterError, match=cost.LIMIT_ENV):
        cost.limit_cpu_hours()


def _smoke_limit(monkeypatch):
    """A limit between smoke's stage 1 and its stage 1 plus every later stage."""
    suite = get_preset("smoke")
    first = estimate(plan(run_configs(suite)).values()).cpu_hours
    worst = estimate(plan(run_configs(suite) + later_stage_configs(suite)).values()).cpu_hours
    assert first < worst
    monkeypatch.setenv(cost.LIMIT_ENV, str((first + worst) / 2))


def test_the_report_gate_counts_the_later_stages_at_most(tmp_path, capsys, monkeypatch):
    _smoke_limit(monkeypatch)
    code = main(["report", "--preset", "smoke", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "64 runs (44 at stage 1 and at most 20 in later stages)" in err
    assert "--yes" in err and not (tmp_path / "out").exists()


def test_a_fixed_design_or_a_shard_counts_stage_1_only(tmp_path, monkeypatch):
    _smoke_limit(monkeypatch)
    suite = get_preset("smoke")
    confirm_cost(run_configs(suite), tmp_path, yes=False)  # below the limit: no question
    with pytest.raises(CostRefused, match="at most 20 in later stages"):
        confirm_cost(run_configs(suite), tmp_path, yes=False, later=later_stage_configs(suite))


def test_calibrate_is_gated_too(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(cost.LIMIT_ENV, "1e-9")
    code = main(["calibrate", "--preset", "quick", "--out", str(tmp_path / "cal")])
    err = capsys.readouterr().err
    runs = len(plan(calibration_run_configs(get_preset("quick"))))
    assert code == 2 and f"{runs} runs" in err and "--yes" in err
    assert not (tmp_path / "cal").exists()
