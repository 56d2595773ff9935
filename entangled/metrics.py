"""Metrics of residual networks with entangled skips, on a fixed held-out batch.

Every model of :mod:`entangled.nn` is ``outputs = readout(h_L)``, ``h_0 = embed(x)`` and
residual applications ``l = 0, ..., L-1``

.. math:: h_{l+1} = M_l h_l + f_l(h_l)

(for the residual RNN the applications are the ``T`` time steps of the one cell,
``h_{t+1} = M h_t + f(h_t, x_t)``). The metrics:

* :func:`refinement` - ratio ``||f_l(h_l)|| / ||M_l h_l||`` and cosine between ``f_l(h_l)``
  and ``dL/dh_{l+1}`` (negative: the branch moves the state down the loss, *iterative
  refinement*, Jastrzebski et al. 2018);
* :func:`lesion` - accuracy when application ``l``'s branch is dropped, ``h_{l+1} = M_l h_l``
  (Veit et al. 2016);
* :func:`linear_cka`, :func:`cka_between_blocks` - linear CKA (Kornblith et al. 2019) of
  consecutive states ``h_l, h_{l+1}``;
* :func:`jacobian_singular_values` - singular values of ``d h_L / d h_0`` for one example
  (dynamical isometry: all near 1, Pennington et al. 2017);
* :func:`gradient_norms` - per residual block, the norm of the gradient of its branch's
  parameters;
* :func:`skip_gain` - mHC's Amax gain of the product of the skip mappings;
* :func:`state_norms` - mean ``||h_l||`` over the batch for ``l = 0, ..., L`` (for the RNN:
  the hidden-state norm over time);
* :func:`saturated_fraction` - per application, the fraction of the branch's tanh
  pre-activations that are saturated (models whose branch exposes ``preactivation``: the RNN);
* :func:`snapshot` - all of the above as one JSON-serialisable dict;
* :func:`steps_to_threshold` - the speed of learning, read from a validation curve.

Every metric evaluates the model in **eval mode** (BatchNorm uses its running statistics, so
examples do not interact and no running statistic is updated), restores each module's mode
afterwards, registers no hooks and never writes ``.grad`` (gradients are taken with
``torch.autograd.grad``). Undefined values (a ratio with ``||M h|| = 0``, e.g. the RNN's first
step from ``h_0 = 0``; a CKA with a constant representation) are ``None``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from entangled.errors import InvalidParameterError
from entangled.properties import composite_gain

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
AccuracyFn = Callable[[torch.Tensor, torch.Tensor], float]

LESION_MAX_APPLICATIONS = 16
JACOBIAN_MAX_DIM = 512
NORM_FLOOR = 1e-30


# ----------------------------------------------------------------------------- helpers
def accuracy(outputs: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of examples with ``argmax(outputs) == y`` (classification)."""
    return float((outputs.argmax(dim=-1) == y).to(torch.float64).mean())


def cross_entropy(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits ``outputs`` against class indices ``y`` (the default loss)."""
    return F.cross_entropy(outputs, y)


@contextlib.contextmanager
def evaluating(model: torch.nn.Module):
    """Put ``model`` in eval mode inside the block; restore every module's mode afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, mode in modes:
            module.training = mode


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _to_model_device(model, *tensors):
    param = next(model.parameters(), None)
    if param is None:
        return tensors
    return tuple(t.to(param.device) if isinstance(t, torch.Tensor) else t for t in tensors)


def _per_example(t: torch.Tensor) -> torch.Tensor:
    """``(B, ...) -> (B, prod(...))`` in float64."""
    return t.detach().reshape(t.shape[0], -1).to(torch.float64)


def _traced_pass(model, x, y, loss_fn, params: Sequence[torch.Tensor] = ()):
    """Forward from a detached ``h_0`` with every application traced, and gradients of the
    loss w.r.t. every ``h_{l+1}`` and w.r.t. ``params``. Model must already be in eval mode."""
    with torch.enable_grad():
        h0 = model.embed(x).detach().requires_grad_(True)
        trace: list = []
        hL = model.run_stack(h0, x, trace=trace)
        outputs = model.readout(hL)
        loss = loss_fn(outputs, y)
        states = [app.output for app in trace]
        params = [p for p in params if p.requires_grad]
        grads = torch.autograd.grad(loss, states + params, allow_unused=True)
    state_grads = list(grads[: len(states)])
    param_grads = list(grads[len(states):])
    return h0, trace, outputs.detach(), loss.detach(), state_grads, params, param_grads


# ----------------------------------------------------------------------------- refinement
def _refinement_from_trace(trace, state_grads) -> dict:
    ratios: list[float | None] = []
    cosines: list[float | None] = []
    for app, grad in zip(trace, state_grads):
        skip = _per_example(app.skip)
        branch = _per_example(app.branch) if app.branch is not None else torch.zeros_like(skip)
        skip_norm = float(torch.linalg.norm(skip))
        ratios.append(float(torch.linalg.norm(branch)) / skip_norm if skip_norm > 0 else None)
        if grad is None:
            cosines.append(None)
            continue
        g = _per_example(grad)
        norms = torch.linalg.norm(branch, dim=1) * torch.linalg.norm(g, dim=1)
        valid = norms > NORM_FLOOR
        if not bool(valid.any()):
            cosines.append(None)
            continue
        cos = (branch * g).sum(dim=1)[valid] / norms[valid]
        cosines.append(float(cos.mean()))
    return {"ratio": ratios, "cosine": cosines}


def refinement(model, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn = cross_entropy) -> dict:
    """Iterative refinement per residual application.

    .. math:: r_l = \\frac{\\|F_l\\|_F}{\\|S_l\\|_F}, \\qquad
              c_l = \\frac{1}{|B'|} \\sum_{i \\in B'}
              \\cos\\big(f_l(h_l^{(i)}),\\; \\partial L / \\partial h_{l+1}^{(i)}\\big)

    where ``F_l`` and ``S_l = M_l H_l`` stack the batch's branch and skip outputs (the ratio
    is of Frobenius norms over the whole batch, not a mean of per-example ratios), ``L`` is
    ``loss_fn(outputs, y)`` (a batch mean by default; the cosine is scale-free) and ``B'`` the
    examples where both vectors are nonzero. ``c_l < 0``: the branch points down the loss
    gradient, i.e. it refines the state (Jastrzebski et al. 2018); ``c_l ≈ 0``: no alignment.

    Returns
    -------
    dict
        ``{"ratio": [r_0, ...], "cosine": [c_0, ...]}``, one float (or ``None`` where
        undefined) per application.
    """
    x, y = _to_model_device(model, x, y)
    with evaluating(model):
        _, trace, _, _, state_grads, _, _ = _traced_pass(model, x, y, loss_fn)
    return _refinement_from_trace(trace, state_grads)


# ----------------------------------------------------------------------------- lesion
def default_lesion_applications(model, max_count: int = LESION_MAX_APPLICATIONS) -> list[int]:
    """All applications, or ``max_count`` evenly spaced ones (first and last included) when
    there are more (the RNN's time steps)."""
    total = model.num_applications
    if total <= max_count:
        return list(range(total))
    return sorted({int(round(v)) for v in np.linspace(0, total - 1, max_count)})


def _lesion_from_inputs(model, x, y, accuracy_fn, inputs, applications) -> list[float]:
    results = []
    with torch.no_grad():
        for index in applications:
            hL = model.run_stack(inputs[index], x, start=index, drop={index})
            results.append(float(accuracy_fn(model.readout(hL), y)))
    return results


def lesion(model, x: torch.Tensor, y: torch.Tensor, accuracy_fn: AccuracyFn = accuracy, *,
           applications: Iterable[int] | None = None) -> list[float]:
    """Accuracy with one residual branch dropped (Veit et al. 2016).

    For each application ``l`` in ``applications`` the network is run with
    ``h_{l+1} = M_l h_l`` (the skip kept, ``f_l`` removed) and every other application intact;
    the value is ``accuracy_fn(outputs, y)``. For the RNN, lesioning time step ``t`` drops
    ``f(h_t, x_t)`` at that step only.

    Parameters
    ----------
    applications : indices to lesion; default :func:`default_lesion_applications` (all, or
        16 evenly spaced time steps for long RNN sequences).

    Returns
    -------
    list[float]
        One accuracy per index of ``applications``, in that order.
    """
    x, y = _to_model_device(model, x, y)
    apps = default_lesion_applications(model) if applications is None else list(applications)
    for index in apps:
        if not (0 <= index < model.num_applications):
            raise InvalidParameterError("applications", index,
                                        f"indices in [0, {model.num_applications - 1}]",
                                        context="lesion")
    with evaluating(model), torch.no_grad():
        trace: list = []
        model.run_stack(model.embed(x), x, trace=trace)
        inputs = [app.input for app in trace]
        return _lesion_from_inputs(model, x, y, accuracy_fn, inputs, apps)


# ----------------------------------------------------------------------------- CKA
def _as_2d_float64(name: str, value) -> torch.Tensor:
    tensor = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(
        np.asarray(value))
    if tensor.ndim != 2:
        raise InvalidParameterError(name, f"<array of shape {tuple(tensor.shape)}>",
                                    "a 2-D array (examples, features)", context="linear_cka")
    return tensor.to(device="cpu", dtype=torch.float64)


def linear_cka(X, Y) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019).

    .. math:: \\mathrm{CKA}(X, Y) = \\frac{\\|Y_c^T X_c\\|_F^2}
              {\\|X_c^T X_c\\|_F\\, \\|Y_c^T Y_c\\|_F}

    with ``X_c``, ``Y_c`` the column-centred ``(N, p)`` and ``(N, q)`` matrices (rows are the
    same ``N`` examples). In ``[0, 1]``; invariant to orthogonal transforms and isotropic
    scaling of either side; 1 for ``Y = X Q``. Computed in float64 through the ``N x N`` Gram
    matrices when ``N`` is smaller than the feature counts (same value). Returns ``nan`` when
    either side is constant (zero after centring).
    """
    X, Y = _as_2d_float64("X", X), _as_2d_float64("Y", Y)
    if X.shape[0] != Y.shape[0] or X.shape[0] < 2:
        raise InvalidParameterError("X.shape[0], Y.shape[0]", (X.shape[0], Y.shape[0]),
                                    "the same number of examples, at least 2",
                                    context="linear_cka")
    X = X - X.mean(dim=0)
    Y = Y - Y.mean(dim=0)
    if X.shape[0] < min(X.shape[1], Y.shape[1]):
        K, L = X @ X.T, Y @ Y.T
        cross, norm_x, norm_y = (K * L).sum(), torch.linalg.norm(K), torch.linalg.norm(L)
    else:
        cross = torch.linalg.norm(Y.T @ X) ** 2
        norm_x, norm_y = torch.linalg.norm(X.T @ X), torch.linalg.norm(Y.T @ Y)
    if norm_x == 0 or norm_y == 0:
        return float("nan")
    return float(cross / (norm_x * norm_y))


def _cka_from_trace(trace) -> list[float | None]:
    return [_finite_or_none(linear_cka(_per_example(app.input), _per_example(app.output)))
            for app in trace]


def cka_between_blocks(model, x: torch.Tensor) -> list[float | None]:
    """Linear CKA of consecutive states, ``CKA(h_l, h_{l+1})`` for every application ``l``.

    Each state is flattened per example to ``(N, prod(shape))``. ``None`` where undefined
    (e.g. the RNN's ``h_0 = 0``).
    """
    (x,) = _to_model_device(model, x)
    with evaluating(model), torch.no_grad():
        trace: list = []
        model.run_stack(model.embed(x), x, trace=trace)
    return _cka_from_trace(trace)


# ----------------------------------------------------------------------------- Jacobian
def jacobian_coordinates(model, state_shape: Sequence[int], max_dim: int) -> torch.Tensor | None:
    """Flat coordinates of one example's state used for the Jacobian (``None``: all).

    When the state has more than ``max_dim`` entries, whole groups along the axes the skip
    mixes are kept (all channels at a subset of positions for the channel CNN, all features of
    a subset of tokens for the Transformers, all positions of a subset of channels for the
    spatial CNN), evenly spaced groups, as many as fit in ``max_dim``.
    """
    numel = int(np.prod(state_shape))
    if numel <= max_dim:
        return None
    rank = len(state_shape)
    keep = sorted(a % (rank + 1) - 1 for a in model.skip_axes())  # axes without the batch axis
    other = [a for a in range(rank) if a not in keep]
    index = torch.arange(numel).reshape(tuple(state_shape)).permute(*other, *keep)
    group = int(np.prod([state_shape[a] for a in keep]))
    groups = index.reshape(-1, group)
    count = max(1, max_dim // group)
    chosen = sorted({int(round(v)) for v in np.linspace(0, groups.shape[0] - 1, count)})
    return groups[chosen].reshape(-1).sort().values


def jacobian_singular_values(model, x: torch.Tensor, *, example: int = 0,
                             max_dim: int = JACOBIAN_MAX_DIM) -> torch.Tensor:
    """Singular values of the Jacobian of the residual stack, ``J = d h_L / d h_0``.

    ``J`` is taken for one example ``x[example]`` (the stack maps each example separately in
    eval mode), with ``h_0`` flattened. For the RNN it is ``d h_T / d h_0`` along the
    trajectory driven by that example's inputs. If the state has more than ``max_dim``
    entries, ``J`` is restricted to the coordinates of :func:`jacobian_coordinates` (the same
    subset of ``h_0`` and ``h_L``: a principal submatrix of ``J``). For a stack of orthogonal
    skips with zero branches ``J = M_{L-1} ... M_0`` and every singular value is 1.

    Returns
    -------
    torch.Tensor
        float64, descending, one value per kept coordinate.
    """
    from entangled.nn.transformer import explicit_attention

    (x,) = _to_model_device(model, x)
    if not (0 <= example < x.shape[0]):
        raise InvalidParameterError("example", example, f"an index in [0, {x.shape[0] - 1}]",
                                    context="jacobian_singular_values")
    xi = x[example: example + 1]
    with evaluating(model), explicit_attention(model), torch.enable_grad():
        h0 = model.embed(xi).detach()
        flat = h0.reshape(-1)
        coords = jacobian_coordinates(model, h0.shape[1:], max_dim)
        if coords is not None:
            coords = coords.to(flat.device)

        def stack(values: torch.Tensor) -> torch.Tensor:
            start = values if coords is None else flat.index_copy(0, coords, values)
            out = model.run_stack(start.reshape(h0.shape), xi).reshape(-1)
            return out if coords is None else out[coords]

        jac = reverse_jacobian(stack, flat if coords is None else flat[coords])
    return torch.linalg.svdvals(jac.detach().to(device="cpu", dtype=torch.float64))


def reverse_jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The Jacobian ``J[i, j] = d fn(x)_i / d x_j`` of a function from a vector to a vector,
    by reverse mode: one vector-Jacobian product per output coordinate, ``J = vmap(v -> v^T
    J)(I)``, batched with :func:`torch.vmap` over the rows of the identity.

    This is :func:`torch.func.jacrev`'s own computation (the same numbers, to the last bit:
    tested), without its first-use import of ``torch._dynamo`` (1-2 s in every process that
    takes a metric snapshot). Outputs that do not depend on ``x`` get zero rows.
    """
    x = x.detach().requires_grad_(True)
    out = fn(x)
    if not out.requires_grad:
        return torch.zeros(out.numel(), x.numel(), dtype=out.dtype, device=out.device)
    basis = torch.eye(out.numel(), dtype=out.dtype, device=out.device)

    def vector_jacobian_product(v: torch.Tensor) -> torch.Tensor:
        (row,) = torch.autograd.grad(out, x, v, retain_graph=True, allow_unused=True,
                                     materialize_grads=True)
        return row

    return torch.vmap(vector_jacobian_product)(basis)


# ----------------------------------------------------------------------------- gradients
def _block_grad_norms(model, params, grads) -> list[float]:
    lookup = {id(p): g for p, g in zip(params, grads)}
    norms = []
    for block in model.residual_blocks:
        total = 0.0
        for p in block.branch.parameters():
            g = lookup.get(id(p)) if lookup else p.grad
            if g is not None:
                total += float(torch.sum(g.detach().to(torch.float64) ** 2))
        norms.append(math.sqrt(total))
    return norms


def gradient_norms(model, x: torch.Tensor | None = None, y: torch.Tensor | None = None, *,
                   loss_fn: LossFn = cross_entropy) -> list[float]:
    """Per residual block, ``sqrt(sum_p ||dL/dp||^2)`` over the parameters ``p`` of its branch.

    Only the branch parameters of ``model.residual_blocks`` count (the skips have none; the
    embedding and readout are excluded). For the RNN there is one block, the cell, and its
    gradient is summed over time steps (one value).

    Without ``x``: reads ``p.grad`` left by the caller's ``backward()`` (``None`` counts as 0).
    With ``x, y``: computes ``dL/dp`` of ``loss_fn(model(x), y)`` in eval mode with
    ``torch.autograd.grad``, leaving ``p.grad`` untouched.
    """
    if x is None:
        return _block_grad_norms(model, [], [])
    if y is None:
        raise InvalidParameterError("y", None, "targets for x", context="gradient_norms")
    x, y = _to_model_device(model, x, y)
    params = [p for block in model.residual_blocks for p in block.branch.parameters()]
    with evaluating(model):
        *_, used, grads = _traced_pass(model, x, y, loss_fn, params)
    return _block_grad_norms(model, used, grads) if used else [0.0] * len(model.residual_blocks)


# ----------------------------------------------------------------------------- skip gain
def skip_gain(model) -> dict:
    """mHC's Amax gain of the composite skip ``P = M_{L-1} ... M_1 M_0`` over all applications.

    ``{"forward": max_i sum_j |P_ij|, "backward": max_j sum_i |P_ij|}`` (largest absolute row
    and column sums: bounds on the signal and the gradient carried by the skips alone). For
    the RNN ``P = M^T`` (the cell's mapping once per time step); for the spatial CNN the
    mappings are ``M_H ⊗ M_W``. Both are 1 for identity skips.
    """
    forward, backward = composite_gain(model.application_mappings())
    return {"forward": forward, "backward": backward}


# ----------------------------------------------------------------------------- snapshot
# ----------------------------------------------------------------------------- state scale
#: a tanh unit is *saturated* when its derivative ``1 - tanh(z)^2`` is below this (the gradient
#: through it shrinks more than 10x): ``|z| > atanh(sqrt(0.9)) = 1.818``
SATURATION_DERIVATIVE = 0.1


def _state_norms_from_trace(h0: torch.Tensor, trace) -> list[float | None]:
    states = [h0] + [app.output for app in trace]
    return [_finite_or_none(torch.linalg.norm(_per_example(h), dim=1).mean()) for h in states]


def state_norms(model, x: torch.Tensor) -> list[float | None]:
    """Mean over the batch of the Euclidean norm of every state ``h_0, ..., h_L``.

    .. math:: \\bar n_l = \\frac1B \\sum_b \\|h_l^{(b)}\\|_2

    For the residual RNN ``l`` is the time step: the hidden-state norm over time (an
    un-normalised identity cell lets it grow with ``t``).
    """
    (x,) = _to_model_device(model, x)
    with evaluating(model), torch.no_grad():
        trace: list = []
        h0 = model.embed(x)
        model.run_stack(h0, x, trace=trace)
        return _state_norms_from_trace(h0, trace)


def _saturation_from_inputs(model, x, inputs, threshold: float) -> list[float | None] | None:
    apps = model.applications(x)
    if not all(hasattr(block.branch, "preactivation") for block, _ in apps):
        return None
    bound = math.atanh(math.sqrt(1.0 - threshold))
    out: list[float | None] = []
    for (block, context), h in zip(apps, inputs):
        z = block.branch.preactivation(h, *context)
        out.append(float((z.abs() > bound).to(torch.float64).mean()))
    return out


def saturated_fraction(model, x: torch.Tensor,
                       threshold: float = SATURATION_DERIVATIVE) -> list[float | None] | None:
    """Per residual application, the fraction of tanh pre-activations ``z`` of the branch
    with ``1 - tanh(z)^2 < threshold`` (i.e. ``|z| > atanh(sqrt(1 - threshold))``).

    Defined for models whose branches have ``preactivation(h, *context)`` (the residual RNN's
    cell ``tanh(W_h N(h_t) + u_t)``); ``None`` for the others.
    """
    if not (isinstance(threshold, (int, float)) and 0 < threshold < 1):
        raise InvalidParameterError("threshold", threshold, "a number strictly between 0 and 1")
    (x,) = _to_model_device(model, x)
    with evaluating(model), torch.no_grad():
        trace: list = []
        model.run_stack(model.embed(x), x, trace=trace)
        return _saturation_from_inputs(model, x, [app.input for app in trace], threshold)


def snapshot(model, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn = cross_entropy,
             accuracy_fn: AccuracyFn = accuracy,
             lesion_applications: Iterable[int] | None = None,
             jacobian_max_dim: int = JACOBIAN_MAX_DIM) -> dict:
    """Every metric on the batch ``(x, y)`` as a JSON-serialisable dict (plain floats/lists).

    Keys
    ----
    loss, accuracy : ``loss_fn`` / ``accuracy_fn`` of the eval-mode outputs.
    num_applications : ``L``.
    refinement_ratio, refinement_cosine : :func:`refinement`, one per application.
    lesion_applications, lesion_accuracy : the lesioned applications and their accuracies
        (:func:`lesion`; all applications, or 16 evenly spaced RNN time steps).
    cka : :func:`cka_between_blocks`, one per application (``CKA(h_l, h_{l+1})``).
    jacobian_singular_values : :func:`jacobian_singular_values` of example 0, descending.
    gradient_norms : :func:`gradient_norms` per residual block (computed here, ``.grad``
        untouched).
    state_gradient_norms : ``||dL/dh_{l+1}||_F`` over the batch, per application (how the
        gradient reaching each state decays or grows with depth / time).
    skip_gain : :func:`skip_gain`, ``{"forward", "backward"}``.
    state_norms : :func:`state_norms`, ``L + 1`` values (``h_0`` first).
    saturated_fraction : :func:`saturated_fraction` per application (``None`` for models
        without tanh branches).

    ``None`` marks undefined entries. The model's modes, parameters, buffers and ``.grad``
    are unchanged afterwards.
    """
    x, y = _to_model_device(model, x, y)
    params = [p for block in model.residual_blocks for p in block.branch.parameters()]
    with evaluating(model):
        h0, trace, outputs, loss, state_grads, used, param_grads = _traced_pass(
            model, x, y, loss_fn, params)
        refine = _refinement_from_trace(trace, state_grads)
        apps = (default_lesion_applications(model) if lesion_applications is None
                else list(lesion_applications))
        inputs = [app.input.detach() for app in trace]
        lesioned = _lesion_from_inputs(model, x, y, accuracy_fn, inputs, apps)
    result = {
        "loss": _finite_or_none(loss),
        "accuracy": float(accuracy_fn(outputs, y)),
        "num_applications": model.num_applications,
        "refinement_ratio": refine["ratio"],
        "refinement_cosine": refine["cosine"],
        "lesion_applications": apps,
        "lesion_accuracy": lesioned,
        "cka": _cka_from_trace(trace),
        "jacobian_singular_values": [
            _finite_or_none(v) for v in
            jacobian_singular_values(model, x, max_dim=jacobian_max_dim).tolist()],
        "gradient_norms": [_finite_or_none(v) for v in _block_grad_norms(model, used, param_grads)]
        if used else [0.0] * len(model.residual_blocks),
        "state_gradient_norms": [
            None if g is None else _finite_or_none(torch.linalg.norm(g.detach().double()))
            for g in state_grads],
        "skip_gain": {k: _finite_or_none(v) for k, v in skip_gain(model).items()},
        "state_norms": _state_norms_from_trace(h0.detach(), [_Detached(a.output) for a in trace]),
    }
    with evaluating(model), torch.no_grad():
        result["saturated_fraction"] = _saturation_from_inputs(model, x, inputs,
                                                               SATURATION_DERIVATIVE)
    return result


class _Detached:
    """An application's output, detached (what :func:`_state_norms_from_trace` reads)."""

    def __init__(self, output: torch.Tensor):
        self.output = output.detach()


# ----------------------------------------------------------------------------- speed
THRESHOLD_FRACTION = 0.95


def steps_to_threshold(steps: Sequence[int], values: Sequence[float | None],
                       fraction: float = THRESHOLD_FRACTION) -> int | None:
    """The first evaluated step at which a (validation accuracy) curve has covered
    ``fraction`` of the way from its initial value to its best value:

    .. math:: t^* = \\min\\{t : v_t \\ge v_0 + \\text{fraction}\\,(v_{best} - v_0)\\}

    ``None`` values (a diverged evaluation) are skipped; ``None`` when there are fewer than
    two finite points or no improvement over ``v_0`` (the run never learned).
    """
    points = [(int(s), float(v)) for s, v in zip(steps, values)
              if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if len(points) < 2:
        return None
    start = points[0][1]
    best = max(v for _, v in points)
    if not best > start:
        return None
    target = start + fraction * (best - start)
    return next(s for s, v in points if v >= target - 1e-12)
