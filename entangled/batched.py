"""Batched training: runs that differ only in their seeds and fixed skip mappings, trained as
one batched model (:func:`fit_batch`).

Runs whose specs are equal once ``seed``, ``skip_seed`` and (for skips that are not
``spatial``) the skip family and its parameters are set aside (same :func:`batch_key`) build
models of one structure once every skip ``M h`` is computed as the product with its dense
matrix (:class:`DenseSkip`, a buffer ``M``). Each run's model is built exactly as
:func:`entangled.train.fit` builds it (from its own seed, with its own skip mapping); their
parameters and buffers (each skip contributing its dense ``M``) are then stacked along a new
leading axis ``s = 0..S-1`` and one step computes

    loss_s = L_s( f(theta_s, buffers_s; x_s) ),    s = 0..S-1,

with :func:`torch.func.vmap` over :func:`torch.func.functional_call`, where ``x_s`` is run
``s``'s own mini-batch (its own permutation of its own training set). The gradient of
``sum_s loss_s`` with respect to the stacked ``theta`` is, slice by slice, each run's own
gradient, because no operation mixes slices; Adam, AdamW and SGD act elementwise, so one
optimizer over the stacked tensors applies each run's own update. Gradient clipping uses
each run's own global norm. BatchNorm's running statistics are stacked buffers, updated
in place per slice; the skips' own tensors are never written back (they are fixed).

Per run, exactly as in :func:`~entangled.train.fit` (the same :class:`~entangled.train.RunState`
does the bookkeeping): initialisation, validation split, batch order, evaluation every
``eval_every`` steps (on the run's own module, into which its slice is copied), the
best-validation checkpoint, early stopping and divergence. A run that stops (patience, last
step, non-finite loss) has its result taken at that step; its slice is carried along until
the batch ends, and nothing it computes later is read. The losses stay on the device until
an evaluation is due (one transfer per evaluation, not one per step); a non-finite loss
found then is recorded at its own step, as if it had been read at once.

The optimizer acts on one flat buffer of all stacked parameters
(:class:`~entangled.train.FlatStepper`; elementwise, so the same numbers as over the
separate tensors).

Equality with :func:`~entangled.train.fit`: the configuration hash exactly; the numbers up to
the float rounding of batched kernels (a grouped convolution or a batched matrix product adds
in another order; a structured skip kernel, e.g. a sparse product, becomes a dense one),
which training can amplify over many steps. ``tests/test_batched.py`` checks the loss curves
within :data:`CURVE_RTOL` over short runs of every architecture, for batches of seeds and of
families. A run's numbers do not depend on which other runs share its batch (a lone run
trains beside a copy of itself, because a batched product of one slice takes another kernel):
a resumed sweep or ``entangled audit`` reproduces them.

Speed: a batched step does the arithmetic of ``S`` steps and pays the per-step overhead
(Python, dispatch, kernel launches) once. On a GPU, where these small models are launch-bound,
that is the whole cost; on one CPU thread the per-run time of the ``quick`` models falls
1.3-2x from 5 to 16 runs per batch (``benchmarks/bench_seed_batch.py``). ``auto`` batches on
CUDA only (:func:`use_seed_batching`), since batching changes the rounding; a suite that wants
it on a CPU says so (``seed_batching = "on"``, as ``quick`` does).
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable, Sequence, cast

import torch

from entangled.errors import InvalidParameterError
from entangled.mappings.base import dense_product
from entangled.runs import RunResult, RunSpec, as_spec, config_hash

#: Relative tolerance within which a batched run's loss curve equals the unbatched run's
#: (float32; checked over short runs in the tests).
CURVE_RTOL = 1e-4

#: At most this many runs share one batch (bounds memory; larger groups are split).
MAX_SEED_BATCH = 16

SEED_BATCHING = ("auto", "on", "off")

__all__ = ["fit_batch", "batch_key", "batch_groups", "use_seed_batching", "CURVE_RTOL",
           "MAX_SEED_BATCH", "SEED_BATCHING", "BatchingError"]


class BatchingError(InvalidParameterError):
    """The runs cannot share a batch (different variants, or models of different shapes)."""


def batch_key(config: Any) -> str:
    """The configuration hash with ``seed`` and ``skip_seed`` set to 0 and, for skips along the
    channel/feature/state axis (not ``spatial``), the skip family and its parameters set
    aside: runs with equal keys differ only in their seeds and fixed skip mappings, build
    models of one structure once every skip is its dense matrix (:class:`DenseSkip`), and may
    train as one batch. Spatial skips keep their family in the key (their modules differ)."""
    spec = as_spec(config)
    flat = spec.to_flat()
    flat["seed"], flat["skip_seed"] = 0, 0
    if not flat["spatial"]:
        flat["family"], flat["params"] = "identity", {}
    return config_hash(RunSpec.from_flat(flat))


def batch_groups(specs: Sequence[Any], max_size: int = MAX_SEED_BATCH) -> list[list[int]]:
    """Indices of ``specs`` grouped by :func:`batch_key`, in first-seen order; a group of more
    than ``max_size`` runs is cut into the fewest chunks of at most ``max_size``, of sizes
    differing by at most one (30 runs, at most 16: 15 and 15), in order."""
    groups: dict[str, list[int]] = {}
    for index, spec in enumerate(specs):
        groups.setdefault(batch_key(spec), []).append(index)
    chunks = []
    for members in groups.values():
        count = -(-len(members) // max_size)
        size, extra = divmod(len(members), count)
        start = 0
        for chunk in range(count):
            end = start + size + (chunk < extra)
            chunks.append(members[start:end])
            start = end
    return chunks


def use_seed_batching(mode: str, specs: Sequence[RunSpec]) -> bool:
    """Whether a sweep batches seeds: ``"on"``, ``"off"``, or ``"auto"`` = when the runs
    resolve to a CUDA device here (where these models are bound by per-step overhead)."""
    if mode not in SEED_BATCHING:
        raise InvalidParameterError("seed_batching", mode,
                                    "one of " + ", ".join(map(repr, SEED_BATCHING)))
    if mode != "auto":
        return mode == "on"
    from entangled.train import resolve_device

    return any(resolve_device(spec.budget.device).type == "cuda" for spec in specs)


def fit_batch(configs: Sequence[Any], *,
              on_result: Callable[[int, RunResult], None] | None = None) -> list[RunResult]:
    """Train runs that differ only in their seeds as one batched model; return their results
    in the order given (each as :func:`entangled.train.fit` would return it, up to float
    rounding; see the module docstring).

    ``on_result(index, result)`` is called as each run finishes (a run that stops early is
    handed over before the batch ends, so a sweep writes it at once; a diverged run at the
    next evaluation step). A run's
    ``wall_time_s`` is the batch's time until that run finished, divided by the runs.

    A batch of one also runs batched, so that a run's numbers do not depend on which other
    seeds it was batched with (checked in the tests): resuming a sweep reproduces them.

    Raises :class:`BatchingError` (a ValueError) when the runs have different
    :func:`batch_key` or their models or batches differ in shape.
    """
    from entangled.train import intra_op_threads

    specs = [as_spec(config).resolve() for config in configs]
    if not specs:
        return []
    keys = {batch_key(spec) for spec in specs}
    if len(keys) > 1:
        raise BatchingError("configs", f"{len(keys)} different variants",
                            "runs that differ only in seed, skip_seed and (without spatial "
                            "skips) skip family and parameters (one batch_key)")
    if len({config_hash(spec) for spec in specs}) != len(specs):
        raise BatchingError("configs", "a repeated run", "distinct runs")
    with intra_op_threads(specs[0].budget.threads):
        return _fit_batch(specs, on_result)


# ---------------------------------------------------------------------------- internals
class DenseSkip(torch.nn.Module):
    """A skip ``M h`` along ``dim`` as the product with the dense matrix ``M`` (a buffer),
    whatever the family: in a batch every :class:`~entangled.nn.skip.EntangledSkip` is one of
    these, so that runs of different families share one module structure. The product is
    :func:`~entangled.mappings.base.dense_product`, the skip's own dense kernel; for the
    families whose own kernel is structured (identity, permutation, sparse, ...) the values
    are those of the structured product (exactly so for 0/1 matrices) up to float rounding."""

    matrix: torch.Tensor

    def __init__(self, dim: int, n: int) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("matrix", torch.empty(n, n, device="meta"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim + x.ndim if self.dim < 0 else self.dim
        return dense_product(self.matrix, x, dim)


def dense_skips(model: torch.nn.Module) -> list[str]:
    """Names of the :class:`~entangled.nn.skip.EntangledSkip` modules of ``model`` that a batch
    computes as :class:`DenseSkip` (all but those inside a spatial skip)."""
    from entangled.nn.blocks import SpatialSkip
    from entangled.nn.skip import EntangledSkip

    inside_spatial = {f"{name}.{child}" for name, module in model.named_modules()
                      if isinstance(module, SpatialSkip)
                      for child, _ in module.named_children()}
    return [name for name, module in model.named_modules()
            if isinstance(module, EntangledSkip) and name not in inside_spatial]


def _batch_template(model: torch.nn.Module, skips: Sequence[str]) -> torch.nn.Module:
    """A copy of ``model`` on the meta device with each skip of ``skips`` a :class:`DenseSkip`."""
    from entangled.nn.skip import EntangledSkip

    template = copy.deepcopy(model)
    for name in skips:
        parent_name, _, attribute = name.rpartition(".")
        skip = cast(EntangledSkip, template.get_submodule(name))
        setattr(template.get_submodule(parent_name), attribute,
                DenseSkip(skip.dim, skip.mapping.n))
    return template.to("meta")


def _run_state(model: torch.nn.Module, skips: Sequence[str]
               ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The parameters and buffers that one run contributes to the batch: its own, except that
    each skip of ``skips`` contributes only its dense matrix (in the parameters' dtype)."""
    from entangled.nn.skip import EntangledSkip

    parameters: dict[str, torch.Tensor] = dict(model.named_parameters())
    prefixes = tuple(f"{name}." for name in skips)
    buffers = {name: b for name, b in model.named_buffers() if not name.startswith(prefixes)}
    dtype = next(iter(parameters.values())).dtype if parameters else torch.get_default_dtype()
    device = next(iter(parameters.values())).device if parameters else torch.device("cpu")
    for name in skips:
        mapping = cast(EntangledSkip, model.get_submodule(name)).mapping
        buffers[f"{name}.matrix"] = mapping.dense().to(device=device, dtype=dtype)
    return parameters, buffers


def _stacked_state(states: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]
                   ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The runs' parameters (new leaves, ``requires_grad`` as in the models) and buffers
    (:func:`_run_state`), each stacked along a new leading axis; raises BatchingError on
    differing structure."""
    parameters = [p for p, _ in states]
    buffers = [b for _, b in states]
    shapes = {tuple((n, tuple(t.shape)) for n, t in {**p, **b}.items())
              for p, b in zip(parameters, buffers)}
    if len(shapes) > 1:
        raise BatchingError("configs", "models of different shapes", "models of one structure")
    stacked_parameters = {
        name: torch.stack([p[name].detach() for p in parameters]).requires_grad_(first.requires_grad)
        for name, first in parameters[0].items()}
    stacked_buffers = {name: torch.stack([b[name].detach() for b in buffers]) for name in buffers[0]}
    return stacked_parameters, stacked_buffers


def trained_buffers(model: torch.nn.Module) -> list[str]:
    """Names of the buffers of ``model`` that a batch trains alongside the parameters and
    copies back into each run's model (BatchNorm statistics): every buffer that is not part
    of a skip module (the fixed skip matrices, dense or spatial, stay each model's own)."""
    from entangled.nn.blocks import SpatialSkip
    from entangled.nn.skip import EntangledSkip

    skip_prefixes = tuple(f"{name}." for name, module in model.named_modules()
                          if isinstance(module, (EntangledSkip, SpatialSkip)))
    return [name for name, _ in model.named_buffers() if not name.startswith(skip_prefixes)]


@torch.no_grad()
def _copy_slice(model: torch.nn.Module, params: dict[str, torch.Tensor],
                buffers: dict[str, torch.Tensor], index: int, copied: Sequence[str]) -> None:
    """Load slice ``index`` of the stacked state into ``model``: every parameter, and the
    buffers named in ``copied`` (:func:`trained_buffers`)."""
    for name, parameter in model.named_parameters():
        parameter.copy_(params[name][index])
    own = dict(model.named_buffers())
    for name in copied:
        own[name].copy_(buffers[name][index])


@torch.no_grad()
def _clip_per_run(params: list[torch.Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` for each run (slice) on its own: scale run s's gradients by
    ``min(1, max_norm / (||g_s|| + 1e-6))`` where ``||g_s||`` is the 2-norm over all its
    parameters' gradients."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    per_param = torch.stack([g.flatten(1).norm(dim=1) for g in grads])  # (P, S)
    total = per_param.norm(dim=0)  # (S,)
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.ndim - 1))))


def _fit_batch(specs: list[RunSpec],
               on_result: Callable[[int, RunResult], None] | None = None) -> list[RunResult]:
    from torch.func import functional_call, vmap

    from entangled.nn.transformer import SelfAttentionBranch
    from entangled.train import FlatStepper, RunState

    start = time.perf_counter()
    runs = [RunState(spec) for spec in specs]
    count = len(runs)
    if count == 1:
        # a lone run trains beside a copy of itself, whose result is dropped: a batched matrix
        # product of one slice takes another kernel than one of several and rounds
        # differently, so without the copy a run resumed alone would not equal its batch
        runs.append(RunState(specs[0]))
    batch_shapes = {(tuple(run.x_train.shape[1:]), min(run.budget.batch_size, run.task.n_train))
                    for run in runs}
    if len(batch_shapes) > 1:
        raise BatchingError("configs", "tasks with different input shapes or sizes",
                            "runs whose mini-batches stack")
    skips = dense_skips(runs[0].model)
    copied = trained_buffers(runs[0].model)
    params, buffers = _stacked_state([_run_state(run.model, skips) for run in runs])
    template = _batch_template(runs[0].model, skips)
    for module in template.modules():
        if isinstance(module, SelfAttentionBranch):
            module.explicit = True  # vmap batches the explicit form; the fused kernel loops
    task, budget, device = runs[0].task, runs[0].budget, runs[0].device

    def forward(p, b, x):
        return functional_call(template, (p, b), (x,))

    batched_forward = vmap(forward)
    batched_loss = vmap(task.loss)
    trained = [p for p in params.values() if p.requires_grad]
    stepper = FlatStepper(trained, budget, clip=False)  # clipping is per run, below

    results: list[RunResult | None] = [None] * count
    active = [True] * len(runs)
    # a finished run's slice is carried along on its last mini-batch (its output is not read)
    last_idx = [torch.arange(batch_shapes.pop()[1], device=device)] * len(runs)
    live: torch.Tensor | None = None  # which slices' losses are trained (on the device)
    live_for: list[bool] = []
    pending: list[torch.Tensor] = []  # the losses of the steps since the last read

    def finish(index: int) -> None:
        active[index] = False
        if index >= count:  # the copy beside a lone run
            return
        _copy_slice(runs[index].model, params, buffers, index, copied)
        runs[index].wall_time_s = (time.perf_counter() - start) / count
        result = results[index] = runs[index].finish()
        result.environment["seed_batch"] = count
        if on_result is not None:
            on_result(index, result)

    for step in range(1, max(run.steps for run in runs) + 1):
        for index, run in enumerate(runs):
            if active[index]:
                last_idx[index] = run.next_batch()
        xs = torch.stack([run.x_train[i] for run, i in zip(runs, last_idx)])
        ys = torch.stack([run.y_train[i] for run, i in zip(runs, last_idx)])
        losses = batched_loss(batched_forward(params, buffers, xs), ys)
        if live is None or live_for != active:  # a new mask only when a run has stopped
            live, live_for = torch.tensor(active, device=losses.device), list(active)
        total = torch.where(live, losses, torch.zeros_like(losses)).sum()
        stepper.zero_grad()
        total.backward()
        if budget.grad_clip is not None:
            _clip_per_run(trained, budget.grad_clip)
        stepper.step()
        pending.append(losses.detach())
        if not any(active[i] and run.evaluation_due(step) for i, run in enumerate(runs)):
            continue
        # read the losses since the last read (one transfer) and account for them step by
        # step, as RunState.after_step_deferred does for one run: a run whose loss became
        # non-finite inside the window is recorded as diverged at that step (its slice
        # trained on meanwhile; slices do not mix, and nothing of it is read)
        values = torch.stack(pending).tolist()
        pending = []
        first = step - len(values) + 1
        for index, run in enumerate(runs):
            if not active[index]:
                continue
            for offset, row in enumerate(values):
                at = first + offset
                if not run.check_loss(at, row[index]):
                    finish(index)  # diverged at step `at`
                    break
                if at == step and run.evaluation_due(step):
                    _copy_slice(run.model, params, buffers, index, copied)
                if not run.after_step(at, row[index]):
                    finish(index)
                    break
        if not any(active):
            break
    stepper.release()
    for index in range(len(runs)):
        if active[index]:
            finish(index)
    finished = [result for result in results if result is not None]
    assert len(finished) == count, "every run of the batch is finished by now"
    return finished
