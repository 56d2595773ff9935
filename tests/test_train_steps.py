"""fit's cheaper steps give the plain loop's numbers to the last bit.

The plain loop (:func:`plain_fit`, the training loop as it was before the flat buffer and
the deferred loss reads) is the reference: per step ``loss.item()``, ``zero_grad``,
``backward``, ``clip_grad_norm_`` and the optimizer over the separate parameter tensors.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch

from entangled.runs import as_spec
from entangled.train import (FlatStepper, RunConfig, RunState, _make_optimizer, clip_coefficient,
                             fit, intra_op_threads)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def plain_fit(config):
    """The reference loop: a host read of every step's loss and one optimizer over the
    model's separate parameter tensors."""
    spec = as_spec(config).resolve()
    with intra_op_threads(spec.budget.threads):
        run = RunState(spec)
        model = run.model
        optimizer = _make_optimizer(spec.budget, [p for p in model.parameters() if p.requires_grad])
        for step in range(1, run.steps + 1):
            idx = run.next_batch()
            loss = run.task.loss(model(run.x_train[idx]), run.y_train[idx])
            value = float(loss.item())
            if not run.check_loss(step, value):
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if spec.budget.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), spec.budget.grad_clip)
            optimizer.step()
            if not run.after_step(step, value):
                break
        return run.finish()


SMALL_SEQ = {"n_train": 96, "n_test": 32}
CASES = [
    dict(arch="cnn", task="digits", model={"width": 8, "depth": 2}, family="orthogonal"),
    dict(arch="cnn", task="digits", model={"width": 8, "depth": 1}, family="circulant",
         spatial=True, params={"bandwidth": 1.0}),
    dict(arch="vit", task="digits", model={"dim": 16, "depth": 1, "heads": 2}, family="sparse"),
    dict(arch="rnn", task="delayed_recall", task_options=SMALL_SEQ, family="rotation",
         params={"theta": 0.3}),
    dict(arch="transformer", task="counting", task_options=SMALL_SEQ,
         model={"dim": 16, "depth": 1, "heads": 2}, family="permutation"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['arch']}-{c['family']}")
@pytest.mark.parametrize("budget", [
    dict(optimizer="adam", grad_clip=0.5, weight_decay=0.0),
    dict(optimizer="adamw", grad_clip=None, weight_decay=0.01),
    dict(optimizer="sgd", grad_clip=1.0, weight_decay=1e-3, lr=0.05),
], ids=["adam-clip", "adamw-decay", "sgd-clip-decay"])
def test_fit_equals_the_plain_loop_bit_for_bit(case, budget):
    config = RunConfig(**case, steps=24, batch_size=16, eval_every=8, metrics=False,
                       device="cpu", **budget)
    fast, plain = fit(config), plain_fit(config)
    assert fast.status == "ok" and fast.steps_done == 24
    assert fast.reproducible_dict() == plain.reproducible_dict()


def test_metrics_and_early_stopping_equal_the_plain_loop():
    config = RunConfig(arch="rnn", task="counting", task_options=SMALL_SEQ, family="orthogonal",
                       steps=60, batch_size=16, eval_every=4, patience=1, metrics=True,
                       device="cpu")
    fast, plain = fit(config), plain_fit(config)
    assert fast.steps_done < 60  # stopped early
    assert fast.reproducible_dict() == plain.reproducible_dict()


DIVERGING = RunConfig(arch="rnn", task="adding", task_options=SMALL_SEQ, family="orthogonal",
                      steps=30, eval_every=10, metrics=True, optimizer="sgd", lr=1e10,
                      device="cpu")


class StepRecorder:
    """A callback that reads every step's loss (so fit reads the loss at every step)."""

    def __init__(self):
        self.steps: list[int] = []

    def on_step(self, step, loss, model):
        self.steps.append(step)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_divergence_found_at_the_next_evaluation_equals_one_found_at_once(seed):
    """With eval_every=10 the run diverges inside a window of unread losses: it is recorded
    at the step of its first non-finite loss, with the curves of a per-step check."""
    config = RunConfig(**{**DIVERGING.to_dict(), "seed": seed})
    deferred, plain = fit(config), plain_fit(config)
    recorder = StepRecorder()
    per_step = fit(config, callbacks=[recorder])
    assert plain.status == "diverged" and 1 <= plain.diverged_at <= 30
    assert plain.diverged_at % 10 != 1  # inside a window, not at its first step
    assert deferred.reproducible_dict() == plain.reproducible_dict()
    assert per_step.reproducible_dict() == plain.reproducible_dict()
    assert recorder.steps == list(range(1, plain.diverged_at))


def test_losses_are_read_once_per_evaluation_not_once_per_step(monkeypatch):
    """The number of host reads of tensors by entangled's code does not grow with the steps
    between evaluations (a per-step ``item()`` would add one per step). torch's own optimizer
    reads its step counter, a CPU tensor on every device, each step: not counted."""
    reads = {"n": 0}
    item, tolist = torch.Tensor.item, torch.Tensor.tolist

    def counted(method):
        def wrapper(self, *args, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if os.sep + "entangled" + os.sep in caller and "torch" not in caller:
                reads["n"] += 1
            return method(self, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(torch.Tensor, "item", counted(item))
    monkeypatch.setattr(torch.Tensor, "tolist", counted(tolist))

    def reads_for(steps):
        reads["n"] = 0
        fit(RunConfig(arch="rnn", task="delayed_recall", task_options=SMALL_SEQ, steps=steps,
                      eval_every=steps, batch_size=16, metrics=False, device="cpu"))
        return reads["n"]

    assert reads_for(40) == reads_for(10)


def test_clip_coefficient_is_clip_grad_norm_s_scale():
    grads = [torch.tensor([3.0]), torch.tensor([[4.0, 0.0]])]  # global norm 5
    assert clip_coefficient(grads, 1.0).item() == pytest.approx(1 / (5 + 1e-6), rel=1e-7)
    assert clip_coefficient(grads, 10.0).item() == 1.0  # never scales up
    generator = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, generator=generator)) for s in (3, (5, 7), 11)]
    for p in params:
        p.grad = torch.randn(p.shape, generator=generator) * 10
    expected = [p.grad.clone() for p in params]
    torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(e.clone()) for e in expected], 1.0)
    copies = [torch.nn.Parameter(torch.zeros_like(e)) for e in expected]
    for c, e in zip(copies, expected):
        c.grad = e.clone()
    torch.nn.utils.clip_grad_norm_(copies, 1.0)
    coefficient = clip_coefficient([p.grad for p in params], 1.0)
    for p, c in zip(params, copies):
        assert torch.equal(p.grad * coefficient, c.grad)


def _budget(**kw):
    return as_spec(RunConfig(**kw)).resolve().budget


def test_flat_stepper_shares_one_buffer_and_releases_it():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    params = list(model.parameters())
    stepper = FlatStepper(params, _budget(lr=0.1))
    model(torch.ones(2, 3)).sum().backward()
    stepper.step()
    assert stepper.flat is not None and stepper.flat.numel() == sum(p.numel() for p in params)
    base = stepper.flat.untyped_storage().data_ptr()
    assert all(p.untyped_storage().data_ptr() == base for p in params)
    values = [p.detach().clone() for p in params]
    stepper.release()
    assert len({p.untyped_storage().data_ptr() for p in params}) == len(params)
    assert all(torch.equal(p, v) for p, v in zip(params, values))


def test_flat_stepper_falls_back_to_separate_tensors_for_mixed_dtypes():
    """Tensors of two dtypes cannot share a buffer: the optimizer then acts on them as they
    are, with the plain loop's numbers."""
    def make():
        torch.manual_seed(0)
        return torch.nn.Linear(3, 2), torch.nn.Linear(2, 1).double()

    budget = _budget(lr=0.1, grad_clip=0.1)
    (a1, b1), (a2, b2) = make(), make()
    stepper = FlatStepper([*a1.parameters(), *b1.parameters()], budget)
    plain_params = [*a2.parameters(), *b2.parameters()]
    plain = _make_optimizer(budget, plain_params)
    x = torch.ones(4, 3)
    for _ in range(3):
        stepper.zero_grad()
        b1(a1(x).double()).sum().backward()
        stepper.step()
        plain.zero_grad()
        b2(a2(x).double()).sum().backward()
        torch.nn.utils.clip_grad_norm_(plain_params, 0.1)
        plain.step()
    assert stepper.flat is None
    for p, q in zip([*a1.parameters(), *b1.parameters()], plain_params):
        assert torch.equal(p, q)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['arch']}-{c['family']}")
def test_evaluation_in_chunks_gives_each_example_the_same_prediction(case):
    """:func:`evaluate` runs ``EVAL_BATCH`` examples at a time: the accuracy equals that of one
    pass over all examples (per-example outputs do not depend on the chunk), and the mean
    loss equals it up to the order of the chunk sums."""
    from entangled.train import EVAL_BATCH, evaluate

    run = RunState(as_spec(RunConfig(steps=1, seed=3, **case)).resolve())
    x, y = run.task.x_train, run.task.y_train  # more examples than one chunk
    assert x.shape[0] > 40
    chunked = evaluate(run.model, run.task, x, y, batch_size=40)
    whole = evaluate(run.model, run.task, x, y, batch_size=x.shape[0])
    assert chunked[1] == whole[1]
    assert chunked[0] == pytest.approx(whole[0], rel=1e-5)
    assert evaluate(run.model, run.task, x, y) == evaluate(run.model, run.task, x, y,
                                                            batch_size=EVAL_BATCH)
