"""Error types of the library.

Every argument error is a :class:`ValueError` subclass whose message names the parameter,
the value that was given and what is allowed, so that a user can fix the call from the
message alone.
"""

from __future__ import annotations

from typing import Any, Iterable


class EntangledError(ValueError):
    """Base class of every argument error raised by ``entangled``."""


class InvalidParameterError(EntangledError):
    """A parameter value is of the wrong type or out of its allowed range."""

    def __init__(self, name: str, value: Any, allowed: str, *, context: str | None = None):
        self.name = name
        self.value = value
        self.allowed = allowed
        where = f"{context}: " if context else ""
        super().__init__(f"{where}invalid {name}={value!r}; allowed: {allowed}")


class UnknownEntryError(InvalidParameterError):
    """A name that no registry entry has (:mod:`entangled.registry`): names the parameter, the
    value and every registered name."""

    def __init__(self, parameter: str, name: Any, known: Iterable[str], *, kind: str):
        self.known = list(known)
        self.kind = kind
        allowed = ("one of " + ", ".join(self.known) if self.known
                   else f"a registered {kind} (none is registered)")
        super().__init__(parameter, name, allowed)


class UnknownFamilyError(UnknownEntryError):
    """A family name that is not registered."""

    def __init__(self, name: Any, known: Iterable[str]):
        super().__init__("family", name, sorted(known), kind="family")


class InvalidMatrixError(EntangledError):
    """A matrix that cannot be used as a skip mapping (not square, not finite, ...)."""

    def __init__(self, name: str, value_summary: str, allowed: str):
        self.name = name
        super().__init__(f"invalid {name}={value_summary}; allowed: {allowed}")


class MappingMismatchError(EntangledError):
    """Saved skip tensors that do not match the saved mapping description (``load_state_dict``)."""


class MissingExtraError(EntangledError):
    """An optional dependency of the requested feature is not installed (names the extra)."""

    def __init__(self, feature: str, module: str, extra: str):
        self.extra = extra
        super().__init__(f"{feature} needs {module}, which is not installed; allowed: install "
                         f"the extra with pip install 'entangled[{extra}]'")
