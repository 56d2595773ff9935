"""Seed-batched training (entangled.batched): each run of a batch equals the same run trained
on its own (entangled.train.fit) up to float rounding, keeps its own early stopping and
divergence, and does not depend on which other seeds share its batch; the sweep batches
seeds on request, resumably, and falls back to one run at a time when a batch fails."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from entangled import batched
from entangled.batched import (CURVE_RTOL, BatchingError, batch_groups, batch_key, fit_batch,
                               use_seed_batching)
from entangled.errors import InvalidParameterError
from entangled.runs import as_spec, config_hash
from entangled.sweep import load_results, result_path, run_sweep
from entangled.train import RunConfig, RunState, fit


def seeds_of(config: RunConfig, seeds=(0, 1, 2)) -> list[RunConfig]:
    return [dataclasses.replace(config, seed=s, skip_seed=s) for s in seeds]


def assert_curves_close(single, batch, rtol=CURVE_RTOL) -> None:
    assert single.config_hash == batch.config_hash
    assert single.status == batch.status
    assert single.curves.step == batch.curves.step
    for name in ("train_loss", "val_loss"):
        for a, b in zip(getattr(single.curves, name), getattr(batch.curves, name)):
            assert (a is None) == (b is None)
            if a is not None:
                assert b == pytest.approx(a, rel=rtol, abs=1e-6), name


SHORT = dict(eval_every=5, metrics=False, patience=None)
CASES = {
    # the CNN's grouped convolutions round differently from one convolution, and BatchNorm
    # training amplifies the difference step by step: compared over the first steps
    "cnn": RunConfig(arch="cnn", task="digits", family="orthogonal", steps=5, **SHORT),
    "vit": RunConfig(arch="vit", task="digits", family="permutation", steps=20, **SHORT),
    "rnn": RunConfig(arch="rnn", task="delayed_recall", family="orthogonal", steps=20, **SHORT),
    "transformer": RunConfig(arch="transformer", task="counting", family="sparse", steps=20,
                             **SHORT),
}


@pytest.mark.parametrize("arch", sorted(CASES))
def test_each_run_of_a_batch_equals_the_run_trained_alone(arch):
    configs = seeds_of(CASES[arch])
    results = fit_batch(configs)
    for config, result in zip(configs, results):
        single = fit(config)
        assert_curves_close(single, result)
        assert result.steps_done == single.steps_done
        assert result.selected_step == single.selected_step
        assert result.environment["seed_batch"] == len(configs)


def test_first_step_gradients_and_batchnorm_statistics_equal_the_unbatched_ones():
    """The batched forward/backward is the per-run computation: after one step of the CNN
    (BatchNorm in training mode), every gradient and running statistic matches."""
    from torch.func import functional_call, vmap


    specs = [as_spec(c).resolve() for c in seeds_of(CASES["cnn"], (0, 1))]
    runs = [RunState(spec) for spec in specs]
    skips = batched.dense_skips(runs[0].model)
    assert skips == [f"residual_blocks.{i}.skip" for i in range(len(runs[0].model.residual_blocks))]
    params, buffers = batched._stacked_state([batched._run_state(run.model, skips) for run in runs])
    template = batched._batch_template(runs[0].model, skips)
    xs = torch.stack([run.x_train[:32] for run in runs])
    ys = torch.stack([run.y_train[:32] for run in runs])
    out = vmap(lambda p, b, x: functional_call(template, (p, b), (x,)))(params, buffers, xs)
    losses = vmap(runs[0].task.loss)(out, ys)
    losses.sum().backward()
    for index, run in enumerate(runs):
        loss = run.task.loss(run.model(xs[index]), ys[index])
        loss.backward()
        assert losses[index].item() == pytest.approx(loss.item(), rel=1e-6)
        for name, parameter in run.model.named_parameters():
            torch.testing.assert_close(params[name].grad[index], parameter.grad,
                                       rtol=1e-5, atol=1e-6)
        for name, buffer in run.model.named_buffers():
            if ".skip." not in name:  # the skips' own tensors are not trained in a batch
                torch.testing.assert_close(buffers[name][index], buffer, rtol=1e-5, atol=1e-6)
        for skip in skips:
            torch.testing.assert_close(buffers[f"{skip}.matrix"][index].double(),
                                       run.model.get_submodule(skip).mapping.dense(), rtol=0,
                                       atol=1e-7)


def test_a_runs_numbers_do_not_depend_on_the_other_seeds_of_its_batch():
    """Resuming a sweep may batch a run with fewer seeds, or alone: its numbers are the same."""
    config = dataclasses.replace(CASES["rnn"], steps=30)
    full = fit_batch(seeds_of(config, (0, 1, 2)))
    alone = fit_batch(seeds_of(config, (1,)))
    reordered = fit_batch(seeds_of(config, (2, 1)))
    assert alone[0].curves == full[1].curves
    assert reordered[1].curves == full[1].curves
    assert reordered[0].test_accuracy == full[2].test_accuracy


def test_early_stopping_is_kept_per_run():
    config = RunConfig(arch="transformer", task="delayed_recall", family="permutation",
                       steps=60, eval_every=10, patience=2, metrics=False)
    configs = seeds_of(config)
    singles = [fit(c) for c in configs]
    stops = [r.steps_done for r in singles]
    assert len(set(stops)) > 1, "the case must have seeds stopping at different steps"
    handed_over = []
    results = fit_batch(configs, on_result=lambda i, r: handed_over.append((i, r.steps_done)))
    for single, result in zip(singles, results):
        assert result.steps_done == single.steps_done
        assert result.selected_step == single.selected_step
        assert result.test_accuracy == pytest.approx(single.test_accuracy, abs=1e-9)
    # each run is handed over when it stops: the early stoppers first
    assert sorted(i for i, _ in handed_over) == [0, 1, 2]
    assert [steps for _, steps in handed_over] == sorted(stops)
    first = min(range(3), key=lambda i: stops[i])
    assert results[first].wall_time_s < max(r.wall_time_s for r in results)


@pytest.mark.parametrize("eval_every", [1, 10])
def test_divergence_is_per_run_and_leaves_the_other_runs_untouched(eval_every):
    """A learning rate at which the seeds diverge at different steps (2 to 7): each run stops
    where it stops alone, and the runs that diverge late train on, unaffected by the NaNs of
    the runs that diverged early. With ``eval_every=10`` the losses are read every 10 steps:
    a divergence inside that window is recorded at its own step all the same."""
    config = RunConfig(arch="rnn", task="adding", family="orthogonal", steps=30,
                       eval_every=eval_every, metrics=False, optimizer="sgd", lr=1e10)
    configs = seeds_of(config, range(6))
    singles = [fit(c) for c in configs]
    assert len({r.diverged_at for r in singles}) >= 3, [r.diverged_at for r in singles]
    for single, result in zip(singles, fit_batch(configs)):
        assert result.status == single.status
        assert result.diverged_at == single.diverged_at
        assert result.steps_done == single.steps_done
        assert_curves_close(single, result, rtol=1e-3)


def test_per_run_gradient_clipping_equals_clip_grad_norm_on_each_run():
    torch.manual_seed(0)
    stacked = [torch.randn(3, 4, 5, requires_grad=True), torch.randn(3, 7, requires_grad=True)]
    for p in stacked:
        p.grad = torch.randn_like(p) * torch.tensor([0.01, 1.0, 10.0]).view(-1, *[1] * (p.ndim - 1))
    expected = []
    for s in range(3):
        alone = [p.detach()[s].clone().requires_grad_() for p in stacked]
        for a, p in zip(alone, stacked):
            a.grad = p.grad[s].clone()
        torch.nn.utils.clip_grad_norm_(alone, 0.5)
        expected.append([a.grad for a in alone])
    batched._clip_per_run(stacked, 0.5)
    for s in range(3):
        for p, e in zip(stacked, expected[s]):
            torch.testing.assert_close(p.grad[s], e)
    # the small run (norm < 0.5) is untouched; the big ones end at norm 0.5
    norms = torch.stack([p.grad.flatten(1).norm(dim=1) for p in stacked]).norm(dim=0)
    assert norms[1].item() == pytest.approx(0.5, rel=1e-4)
    assert norms[2].item() == pytest.approx(0.5, rel=1e-4)


def test_grad_clip_runs_batched_like_alone():
    config = dataclasses.replace(CASES["rnn"], grad_clip=0.05)
    configs = seeds_of(config, (0, 1))
    for single, result in zip([fit(c) for c in configs], fit_batch(configs)):
        assert_curves_close(single, result)


def test_batch_key_groups_by_everything_but_the_seeds_and_the_skip_mapping():
    a = RunConfig(arch="rnn", task="counting", family="orthogonal", seed=0, skip_seed=0)
    b = dataclasses.replace(a, seed=7, skip_seed=3)
    c = dataclasses.replace(a, lr=1e-2)
    d = dataclasses.replace(a, family="sparse", params={"strength": 0.5})
    assert batch_key(a) == batch_key(b) == batch_key(d)
    assert batch_key(a) != batch_key(c)
    assert batch_key(a) != batch_key(dataclasses.replace(a, task_options={"length": 30}))
    specs = [dataclasses.replace(a, seed=s) for s in range(5)] + [c]
    assert batch_groups(specs, max_size=2) == [[0, 1], [2, 3], [4], [5]]
    # a spatial skip's modules depend on its family: those keep it in the key
    spatial = RunConfig(arch="cnn", task="digits", family="circulant", spatial=True,
                        params={"bandwidth": 1.0})
    assert batch_key(spatial) != batch_key(dataclasses.replace(spatial, family="permutation",
                                                               params={}))
    assert batch_key(spatial) == batch_key(dataclasses.replace(spatial, seed=4, skip_seed=4))


@pytest.mark.parametrize("count, expected", [(16, [16]), (17, [9, 8]), (30, [15, 15]),
                                             (33, [11, 11, 11]), (3, [3])])
def test_a_large_group_is_cut_into_the_fewest_even_chunks(count, expected):
    a = RunConfig(arch="rnn", task="counting", family="orthogonal")
    groups = batch_groups([dataclasses.replace(a, seed=s) for s in range(count)], max_size=16)
    assert [len(g) for g in groups] == expected
    assert [i for g in groups for i in g] == list(range(count))


MIXED = ("identity", "orthogonal", "permutation", "sparse", "circulant")


def mixed_families(config: RunConfig, seeds=(0, 1)) -> list[RunConfig]:
    params = {"sparse": {"strength": 0.5}, "circulant": {"bandwidth": 1.0}}
    return [dataclasses.replace(config, family=f, params=params.get(f, {}), seed=s, skip_seed=s)
            for f in MIXED for s in seeds]


@pytest.mark.parametrize("arch", ["rnn", "vit"])
def test_runs_of_different_families_batch_together_and_equal_their_runs_alone(arch):
    """Every skip of a batch is its dense matrix: runs of different families share a batch,
    and each equals the run trained on its own up to float rounding."""
    configs = mixed_families(CASES[arch])
    results = fit_batch(configs)
    assert len({batch_key(c) for c in configs}) == 1
    for config, result in zip(configs, results):
        assert result.spec.skip.family == config.family
        assert_curves_close(fit(config), result)
        assert result.environment["seed_batch"] == len(configs)


@pytest.mark.parametrize("arch", ["rnn", "cnn"])
def test_a_runs_numbers_do_not_depend_on_the_families_batched_with_it(arch):
    """Resuming may batch a run with other families, or alone: the same numbers, bit for bit
    (a lone run trains beside a copy of itself: see fit_batch)."""
    config = dataclasses.replace(CASES[arch], steps=30 if arch == "rnn" else 12)
    configs = mixed_families(config, seeds=(0,))
    together = fit_batch(configs)
    for config, result in zip(configs, together):
        alone = fit_batch([config])[0]
        assert alone.curves == result.curves
        assert alone.test_accuracy == result.test_accuracy


def test_a_batched_model_keeps_its_own_skip_buffers(monkeypatch):
    """The model a batched run hands to its result keeps the skip's own (float64-built)
    structure tensors: only parameters and BatchNorm statistics come from the batch."""
    kept = {}
    finish = RunState.finish

    def spy(self):
        kept[self.spec.skip.family] = {n: b.clone() for n, b in self.model.named_buffers()
                                       if ".skip." in n}
        return finish(self)

    monkeypatch.setattr(RunState, "finish", spy)
    configs = mixed_families(dataclasses.replace(CASES["cnn"], steps=3), seeds=(0,))
    fit_batch(configs)
    for config in configs:
        fresh = RunState(as_spec(config).resolve()).model
        own = {n: b for n, b in fresh.named_buffers() if ".skip." in n}
        assert kept[config.family].keys() == own.keys()
        for name, buffer in own.items():
            assert torch.equal(kept[config.family][name], buffer), name


def test_trained_buffers_are_the_batchnorm_statistics_and_no_skip_buffer():
    from entangled.batched import trained_buffers

    for spatial in (False, True):
        config = dataclasses.replace(CASES["cnn"], family="permutation", spatial=spatial)
        model = RunState(as_spec(config).resolve()).model
        names = trained_buffers(model)
        batchnorm = [f"{name}.{b}" for name, module in model.named_modules()
                     if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
                     for b in ("running_mean", "running_var", "num_batches_tracked")]
        assert sorted(names) == sorted(batchnorm)
        assert any(".skip." in n for n, _ in model.named_buffers())  # there are skip buffers


def test_runs_of_different_variants_are_refused_with_a_clear_error():
    a = CASES["rnn"]
    with pytest.raises(BatchingError, match="configs") as info:
        fit_batch([a, dataclasses.replace(a, lr=a.lr * 2, seed=1)])
    assert isinstance(info.value, ValueError)
    with pytest.raises(BatchingError, match="repeated"):
        fit_batch([a, a])
    assert fit_batch([]) == []


def test_auto_batches_only_on_cuda():
    cpu = RunConfig(device="cpu").to_spec().resolve()
    cuda = dataclasses.replace(cpu, budget=dataclasses.replace(cpu.budget, device="cuda"))
    assert use_seed_batching("auto", [cpu]) is False
    assert use_seed_batching("auto", [cuda]) is True
    assert use_seed_batching("on", [cpu]) is True
    assert use_seed_batching("off", [cuda]) is False
    with pytest.raises(InvalidParameterError, match="seed_batching"):
        use_seed_batching("yes", [cpu])


# ---------------------------------------------------------------------------- the sweep
def sweep_configs():
    base = dataclasses.replace(CASES["rnn"], steps=10)
    return (seeds_of(base, (0, 1)) + seeds_of(dataclasses.replace(base, family="identity"),
                                               (0, 1)))


def test_sweep_batches_seeds_and_resumes_per_run(tmp_path):
    configs = sweep_configs()
    summary = run_sweep(configs, tmp_path, progress=False, seed_batching="on")
    assert summary.complete and summary.ran == 4
    first = {r.config_hash: r for r in load_results(tmp_path)}
    assert {r.environment["seed_batch"] for r in first.values()} == {4}  # both families
    expected = fit_batch(configs[:2])
    assert first[expected[0].config_hash].curves == expected[0].curves
    # one result lost: only that run trains again, alone, to the same numbers
    lost = expected[1].config_hash
    result_path(tmp_path, lost).unlink()
    again = run_sweep(configs, tmp_path, progress=False, seed_batching="on")
    assert again.ran == 1 and again.skipped == 3 and again.ran_hashes == [lost]
    redone = {r.config_hash: r for r in load_results(tmp_path)}[lost]
    assert redone.curves == first[lost].curves
    assert redone.environment["seed_batch"] == 1


def test_sweep_trains_a_failing_batch_one_run_at_a_time(tmp_path, monkeypatch, caplog):
    def broken(configs, on_result=None):
        raise RuntimeError("no batching rule")

    monkeypatch.setattr(batched, "fit_batch", broken)
    summary = run_sweep(sweep_configs(), tmp_path, progress=False, seed_batching="on")
    assert summary.complete and summary.ran == 4 and not summary.failed
    assert "no batching rule" in caplog.text
    assert all("seed_batch" not in r.environment for r in load_results(tmp_path))


def test_sweep_seed_batching_is_validated(tmp_path):
    with pytest.raises(InvalidParameterError, match="seed_batching"):
        run_sweep(sweep_configs(), tmp_path, progress=False, seed_batching="always")
    with pytest.raises(InvalidParameterError, match="custom run_fn"):
        run_sweep(sweep_configs(), tmp_path, progress=False, seed_batching="on",
                  run_fn=lambda spec: None)


def test_batched_results_are_finite_and_valid_schema(tmp_path):
    results = fit_batch(seeds_of(dataclasses.replace(CASES["vit"], metrics=True), (0, 1)))
    for result in results:
        assert result.status == "ok"
        assert math.isfinite(result.test_accuracy)
        assert result.metrics["final"] is not None
        data = result.to_dict()
        assert type(result).from_dict(data) == result


def test_a_batch_failing_midway_keeps_the_runs_it_finished(tmp_path, monkeypatch):
    """Runs handed over before the batch failed are written once, from the batch; only the
    others are trained again one at a time."""
    real = batched.fit_batch

    def fails_after_first(configs, on_result=None):
        def first_then_fail(index, result):
            on_result(index, result)
            raise RuntimeError("device lost")

        return real(configs, on_result=first_then_fail)

    monkeypatch.setattr(batched, "fit_batch", fails_after_first)
    summary = run_sweep(sweep_configs(), tmp_path, progress=False, seed_batching="on")
    assert summary.complete and summary.ran == 4 and not summary.failed
    kinds = sorted(r.environment.get("seed_batch", 0) for r in load_results(tmp_path))
    assert kinds == [0, 0, 0, 4]  # the first run from the batch (both families), the others alone


def test_the_report_counts_the_seed_batched_runs():
    from entangled.sweep import SweepSummary
    from entangled.reports.evidence import run_counts
    from run_fakes import fake_result

    alone, batch = (fake_result(RunConfig(seed=s)) for s in (0, 1))
    batch.environment["seed_batch"] = 2
    counts = run_counts([alone, batch], SweepSummary(out_dir="runs", total=2))
    assert counts["seed_batched"] == 1 and counts["loaded"] == 2


def test_with_seed_batching_shards_take_whole_batches(tmp_path):
    """--shard with seed batching deals whole variants (batch keys) to shards, so a shard's
    batches are as large as unsharded; the shards still cover every run exactly once."""
    configs = [dataclasses.replace(c, steps=2, eval_every=1)
               for lr in (1e-3, 3e-3, 1e-2)  # three batch keys (families would share one)
               for c in seeds_of(dataclasses.replace(CASES["rnn"], lr=lr), (0, 1, 2))]
    hashes = {}
    for index in (1, 2):
        summary = run_sweep(configs, tmp_path, progress=False, seed_batching="on",
                            shard=f"{index}/2")
        hashes[index] = set(summary.hashes)
        sizes = {r.environment["seed_batch"] for r in load_results(tmp_path)
                 if r.config_hash in hashes[index]}
        assert sizes == {3}, sizes
    assert not hashes[1] & hashes[2]
    assert len(hashes[1] | hashes[2]) == len(configs)
    keys = {index: {batch_key(c) for c in configs if config_hash(c) in hashes[index]}
            for index in (1, 2)}
    assert sorted(map(len, keys.values())) == [1, 2]  # 3 variants: 2 + 1
