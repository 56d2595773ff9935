"""The hooks the training loop calls: the :class:`Callback` protocol, its check and dispatch.

:mod:`entangled.train` calls them; :mod:`entangled.callbacks` (where users import them from)
adds the TensorBoard logger and checkpoints, which build models with :mod:`entangled.train`, so
the protocol lives here, below both (no import cycle).
"""

from __future__ import annotations

from typing import Any, Iterable

from entangled.errors import InvalidParameterError

HOOKS = ("on_step", "on_evaluation", "on_end")


class Callback:
    """Base class of training callbacks: every hook does nothing until overridden."""

    def on_step(self, step: int, loss: float, model) -> None:
        """After optimizer step ``step`` (1-based) whose batch loss was ``loss``."""

    def on_evaluation(self, step: int, scores: dict[str, float | None], model) -> None:
        """At a curve point: ``scores`` has ``train_loss``, ``val_loss``, ``val_accuracy``."""

    def on_end(self, result, model) -> None:
        """Once, with the finished :class:`~entangled.train.RunResult`."""


def check_callbacks(callbacks: Iterable[Any] | None) -> list[Any]:
    """``callbacks`` as a list; raise :class:`InvalidParameterError` for an object with none of
    the hooks (a function passed by mistake, a class instead of an instance)."""
    out = list(callbacks or ())
    for index, callback in enumerate(out):
        if isinstance(callback, type) or not any(callable(getattr(callback, h, None)) for h in HOOKS):
            raise InvalidParameterError(
                f"callbacks[{index}]", callback,
                "an object (e.g. an instance of entangled.callbacks.Callback) with at least one "
                "of the methods " + ", ".join(HOOKS))
    return out


def dispatch(callbacks: Iterable[Any], hook: str, *args: Any) -> None:
    """Call ``callback.<hook>(*args)`` on every callback that defines it, in order."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)
