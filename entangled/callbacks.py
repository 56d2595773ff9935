"""Hooks into a training run of :func:`entangled.train.fit`, a TensorBoard logger and model
checkpoints.

``fit(config, callbacks=[...])`` calls, on every callback that defines them:

* ``on_step(step, loss, model)`` after each optimizer step (``step`` 1-based, ``loss`` the
  training-batch loss of that step, a float); not for the step whose loss was non-finite;
* ``on_evaluation(step, scores, model)`` at each point of the curves (step 0 is the untrained
  model), ``scores = {"train_loss", "val_loss", "val_accuracy"}`` on the validation split
  (``train_loss`` is the mean batch loss since the previous point, ``None`` at step 0); the
  test set is read once, at the selected checkpoint, and is in ``result`` only;
* ``on_end(result, model)`` once, with the finished :class:`~entangled.train.RunResult`
  (also for a diverged run).

A callback is any object with some of these methods; :class:`Callback` provides no-op
defaults to subclass. Callbacks observe: they must not change the model or its parameters
(a run with callbacks gives the same result as one without). They run in the order given.
"""

from __future__ import annotations

import os
from pathlib import Path

from entangled.atomic_io import write_atomic
from entangled.errors import InvalidParameterError, MappingMismatchError, MissingExtraError
from entangled.hooks import HOOKS, Callback, check_callbacks, dispatch  # noqa: F401 (public here)

#: ``format`` entry of a checkpoint written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT = "entangled-checkpoint"
CHECKPOINT_VERSION = 1


# ------------------------------------------------------------------------ checkpoints
def save_checkpoint(path: str | os.PathLike, model, result) -> Path:
    """Write ``model``'s ``state_dict`` with the run's (flat) config, hash and status to ``path``.

    The file is a plain ``torch.save`` dict (tensors and JSON-like data only, loadable with
    ``weights_only=True``); written atomically. Returns the path.
    """
    import torch

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
               "config": dict(result.config), "config_hash": result.config_hash,
               "status": str(result.status), "steps_done": result.steps_done,
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    return write_atomic(target, lambda fh: torch.save(payload, fh))


def load_checkpoint(path: str | os.PathLike, device: str = "cpu"):
    """The model saved by :func:`save_checkpoint`, rebuilt from its config, and the config.

    Returns ``(model, config)``: the model in eval mode on ``device`` with the saved weights,
    and the :class:`~entangled.train.RunConfig` it was trained with.

    The saved config must describe the saved weights, else
    :class:`~entangled.errors.MappingMismatchError` (nothing is allocated for a config that
    does not fit them): every parameter's shape is compared with the model the config builds
    (built first on the ``meta`` device, without memory), and every skip mapping the config
    builds (family, size, seed, parameters) with the one saved with the weights.
    """
    import torch

    from entangled.tasks import load_task
    from entangled.train import RunConfig, build_for

    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if (not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT
            or not isinstance(payload.get("config"), dict)
            or not isinstance(payload.get("state_dict"), dict)):
        raise InvalidParameterError("path", str(path), "a checkpoint written by save_checkpoint")
    config = RunConfig.from_dict(payload["config"])
    state = payload["state_dict"]
    task = load_task(config.task, seed=config.seed, **config.task_options)
    _check_shapes(config, task, state, path)
    model = build_for(config, task, torch.device(device))
    configured = {name: module.mapping for name, module in _skips(model)}
    model.load_state_dict(state)
    for name, module in _skips(model):
        if module.mapping != configured.get(name):
            raise MappingMismatchError(
                f"checkpoint {path}: its config builds skip {name!r} as "
                f"{configured.get(name)!r}, but its saved weights hold {module.mapping!r}; "
                "allowed: a checkpoint whose config is the one its model was trained with "
                "(written by save_checkpoint and not edited)")
    return model.eval(), config


def _skips(model):
    from entangled.nn.skip import EntangledSkip

    return [(name, module) for name, module in model.named_modules()
            if isinstance(module, EntangledSkip)]


def _check_shapes(config, task, state: dict, path) -> None:
    """Refuse saved weights whose names or shapes differ from those of the model ``config``
    builds, comparing with that model built on the ``meta`` device (no memory; the skips as
    identities, whose tensors are compared after loading)."""
    import dataclasses

    import torch

    from entangled.train import build_for

    try:
        with torch.device("meta"):
            shapes = {key: tuple(value.shape) for key, value in
                      build_for(dataclasses.replace(config, family="identity", params={}),
                                task).state_dict().items()
                      if isinstance(value, torch.Tensor) and value.device.type == "meta"}
    except Exception:  # an architecture that cannot be built without data: checked on loading
        return
    for key, shape in shapes.items():
        saved = state.get(key)
        saved_shape = tuple(saved.shape) if isinstance(saved, torch.Tensor) else None
        if saved_shape != shape:
            raise MappingMismatchError(
                f"checkpoint {path}: its config builds {key!r} with shape {shape}, but its "
                f"saved weights have {'none' if saved_shape is None else saved_shape}; allowed: "
                "a checkpoint whose config is the one its model was trained with (written by "
                "save_checkpoint and not edited)")


class SaveModel(Callback):
    """Save the trained model at the end of the run (:func:`save_checkpoint`).

    ``only_ok``: skip diverged runs (their weights are not finite).
    """

    def __init__(self, path: str | os.PathLike, *, only_ok: bool = True):
        self.path = Path(path)
        self.only_ok = only_ok
        self.saved: Path | None = None

    def on_end(self, result, model) -> None:
        if self.only_ok and result.status != "ok":
            return
        self.saved = save_checkpoint(self.path, model, result)


# ------------------------------------------------------------------------ TensorBoard
class TensorBoardLogger(Callback):
    """Log a run to TensorBoard (the ``tensorboard`` extra).

    Scalars: ``train/batch_loss`` every ``step_every`` optimizer steps; ``eval/val_loss``,
    ``eval/val_accuracy`` and ``eval/train_loss`` at every curve point; at the end
    ``final/<name>`` for the run's train/test loss and accuracy (at the selected checkpoint)
    and its validation accuracy, and the configuration as
    text (``config``). ``log_dir`` is created; the writer is closed at the end.
    """

    def __init__(self, log_dir: str | os.PathLike, *, step_every: int = 1):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise MissingExtraError("TensorBoardLogger", "tensorboard", "tensorboard") from exc
        if isinstance(step_every, bool) or not isinstance(step_every, int) or step_every < 1:
            raise InvalidParameterError("step_every", step_every, "an integer >= 1")
        self.log_dir = Path(log_dir)
        self.step_every = step_every
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def on_step(self, step: int, loss: float, model) -> None:
        if step % self.step_every == 0:
            self.writer.add_scalar("train/batch_loss", loss, step)

    def on_evaluation(self, step: int, scores: dict[str, float | None], model) -> None:
        for name, value in scores.items():
            if value is not None:
                self.writer.add_scalar(f"eval/{name}", value, step)

    def on_end(self, result, model) -> None:
        import json

        for name in ("train_loss", "train_accuracy", "test_loss", "test_accuracy",
                     "validation_accuracy"):
            value = getattr(result, name)
            if value is not None:
                self.writer.add_scalar(f"final/{name}", value, result.steps_done)
        self.writer.add_text("config", "```\n" + json.dumps(result.config, indent=2) + "\n```")
        self.writer.add_text("status", result.status)
        self.writer.close()
