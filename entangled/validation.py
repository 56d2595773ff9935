"""The checks every value that enters the library goes through, written once.

A value is checked where it enters (a keyword argument, a CLI option, a suite file, a JSON
result) and carried typed from there: every check returns the value in its declared type or
raises :class:`~entangled.errors.InvalidParameterError` naming the parameter, the value and
what is allowed. Torch-free, so the light modules (:mod:`entangled.runs`, the CLI) use it too.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from entangled.errors import InvalidParameterError

#: Seeds are integers in ``[0, SEED_LIMIT)`` (what ``torch.Generator.manual_seed`` takes).
SEED_LIMIT = 2**63


def is_integer(value: Any) -> bool:
    """True for Python/numpy integers, False for bool and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """True for Python/numpy reals (ints included), False for bool and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_whole(value: Any) -> bool:
    """An integer, or a float with an integral value (``400.0``, as JSON numbers arrive)."""
    return is_integer(value) or (isinstance(value, float) and value.is_integer())


def check_positive_int(name: str, value: Any, *, high: int | None = None,
                       context: str | None = None, whole: bool = False) -> int:
    """``value`` as an ``int`` if it is an integer in ``[1, high]``, else raise (``whole``:
    an integral float such as ``400.0`` counts as an integer)."""
    ok = is_whole(value) if whole else is_integer(value)
    if not ok or int(value) < 1 or (high is not None and int(value) > high):
        allowed = "a positive integer (>= 1)" + (f" <= {high}" if high is not None else "")
        raise InvalidParameterError(name, value, allowed, context=context)
    return int(value)


def check_seed(value: Any, *, name: str = "seed", context: str | None = None,
               whole: bool = False) -> int:
    """``value`` as an ``int`` if it is an integer in ``[0, 2**63)``, else raise."""
    ok = is_whole(value) if whole else is_integer(value)
    if not ok or not 0 <= int(value) < SEED_LIMIT:
        raise InvalidParameterError(name, value, "an integer in [0, 2**63)", context=context)
    return int(value)


def check_real(name: str, value: Any, *, low: float | None = None, exclusive_low: bool = False,
               context: str | None = None) -> float:
    """``value`` as a finite ``float`` at least (or, ``exclusive_low``, above) ``low``."""
    ok = is_real(value) and math.isfinite(float(value))
    if ok and low is not None:
        ok = float(value) > low if exclusive_low else float(value) >= low
    if not ok:
        bound = "" if low is None else f" {'>' if exclusive_low else '>='} {low:g}"
        raise InvalidParameterError(name, value, f"a finite number{bound}", context=context)
    return float(value)


def check_choice(name: str, value: Any, choices: tuple, *, context: str | None = None) -> Any:
    """``value`` if it is one of ``choices``, else raise listing them."""
    if isinstance(value, (list, dict, set)) or value not in choices:
        raise InvalidParameterError(name, value, "one of " + ", ".join(map(str, choices)),
                                    context=context)
    return value


def check_flag(name: str, value: Any, *, context: str | None = None) -> bool:
    """``value`` if it is ``True`` or ``False`` (not 0/1, not a string), else raise."""
    if not isinstance(value, bool):
        raise InvalidParameterError(name, value, "true or false", context=context)
    return value
