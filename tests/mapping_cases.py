"""Generic parameter cases built from each family's ``Param`` specifications.

Used by the generic tests so that a newly registered family is covered without new test code.
"""

from __future__ import annotations

import entangled as E
from entangled.mappings.params import Param


def _values(param: Param) -> list:
    if param.kind == "choice":
        return list(param.choices)
    if param.kind == "matrix":
        return []
    values = [param.default]
    low, high = param.search_range or (param.low, param.high)
    for value in (param.identity_value, low, high):
        if value is not None and value not in values:
            values.append(value)
    if param.exclusive_low and param.low in values:
        values.remove(param.low)
    return [int(v) if param.kind == "int" else float(v) for v in values]


def param_cases(family: str) -> list[dict]:
    """Defaults, plus each parameter varied alone over its notable values."""
    cases = [{}]
    for param in E.family_class(family).parameters:
        for value in _values(param):
            if value != param.default:
                cases.append({param.name: value})
    return cases


def all_cases(sizes=(1, 2, 5, 16)) -> list[tuple[str, int, dict]]:
    """(family, n, params) for every family, size and parameter case."""
    return [
        (family, n, params)
        for family in E.families()
        for n in sizes
        for params in param_cases(family)
    ]


def case_id(case) -> str:
    family, n, params = case
    text = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{family}-n{n}" + (f"-{text}" if text else "")
