"""Words the library writes into result files, ledgers and pages, as string enums.

A :class:`Word` is a ``str``: it compares equal to its text, hashes like it, serialises to it
in JSON and prints as it (``f"{RunStatus.OK}" == "ok"``), so files written with plain strings
read back unchanged and code may compare with either. Each vocabulary is a subclass:
:class:`entangled.runs.RunStatus`, :class:`entangled.theory.registry.Verdict`,
:class:`entangled.reports.verdicts.FindingVerdict`,
:class:`entangled.mappings.structure.Structure`.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from entangled.errors import InvalidParameterError

W = TypeVar("W", bound="Word")


class Word(str, Enum):
    """A string enum that formats as its value (Python 3.11 formats a mixed-in ``Enum`` as
    ``Class.MEMBER``; these words never do)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __repr__(self) -> str:  # messages quote the word as before: 'holds'
        return repr(self.value)

    __hash__ = str.__hash__  # a dict keyed by the text finds the member, and back

    @classmethod
    def parse(cls: type[W], value: object, *, name: str) -> W:
        """The member whose text is ``value``; an :class:`~entangled.errors.InvalidParameterError`
        naming ``name``, the value and the allowed words otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise InvalidParameterError(
                name, value, "one of " + ", ".join(repr(w.value) for w in cls)) from None
