"""Loading entry-point plugins once per registry (architectures, tasks, commands).

A plugin entry point names either an object that the registry accepts (an
:class:`~entangled.nn.models.Architecture`, a :class:`~entangled.tasks.base.Task`) or a
module that registers its entries when imported. A plugin that fails to load is reported
with a :class:`RuntimeWarning` naming it and never breaks the library.
"""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import Any, Callable


def entry_points(group: str) -> list:
    """The installed entry points of ``group`` (stable order: by name)."""
    return sorted(metadata.entry_points(group=group), key=lambda e: e.name)


class PluginLoader:
    """Loads the entry points of one group the first time a registry is listed."""

    def __init__(self, group: str, what: str):
        self.group, self.what = group, what
        self.loaded = False

    def load(self, accept: Callable[[Any], None]) -> None:
        """Load every entry point once and pass what it names to ``accept``."""
        if self.loaded:
            return
        self.loaded = True
        for entry_point in entry_points(self.group):
            try:
                accept(entry_point.load())
            except Exception as exc:  # a broken plugin must not break the library
                warnings.warn(f"could not load {self.what} plugin {entry_point.name!r} "
                              f"({entry_point.value}): {exc}", RuntimeWarning, stacklevel=3)

    def reset(self) -> None:
        """Forget that the entry points were loaded (tests that install a fake plugin)."""
        self.loaded = False
