"""Conjecture items for pytest (the hooks live in :mod:`entangled.pytest_plugin`).

Every conjecture x family becomes a collected test item, e.g.
``conjecture[spectral.eigenvalues_on_unit_circle-orthogonal]``; an item fails when the verdict
does not match the conjecture's ``expected``, with the counterexample and its reproduction
snippet in the failure message.

The ``pytest11`` entry point is :mod:`entangled.pytest_plugin`, a small module that declares
the options and imports this module only when a run asks for conjectures (this module never
imports it back):

* ``--conjectures PATH`` (repeatable): collect the conjectures of a file, directory or dotted
  module name;
* ini option ``conjecture_catalog = true``: collect the built-in catalog when pytest runs on
  its default paths (no path arguments), so ``pytest`` on the repository verifies the catalog
  while ``pytest tests/test_x.py`` stays fast; ``--conjecture-catalog`` forces it;
* ``--conjecture-examples N``: hypothesis examples per item (default: the conjecture's own,
  else 30); ``--conjecture-seed S``: base seed (default 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest



def collect_conjecture_items(session, sources, catalog: bool) -> list:
    """Items for the built-in catalog (if ``catalog``) and for each source."""
    from entangled.theory.engine import dedupe, plan_checks
    from entangled.theory.loader import load_builtin, load_sources

    items: list[Any] = []
    groups: list[tuple[str, Any, list]] = []
    if catalog:
        groups.append(("theory/conjectures", load_builtin(), []))
    for source in sources:
        found, errors = load_sources([source])
        groups.append((source, found, errors))
    seen = set()
    for label, conjectures, errors in groups:
        parent = ConjectureCollector.from_parent(
            session, name=label, nodeid=label, path=_node_path(session, label))
        for failure in errors:
            items.append(LoadErrorItem.from_parent(
                parent, name=f"conjecture-load[{failure['source']}]", failure=failure))
        for conj, family, dtype in plan_checks(dedupe(conjectures)):
            key = (conj.name, conj.source, family, dtype)
            if key in seen:
                continue
            seen.add(key)
            where = family if dtype is None else f"{family}-{dtype}"
            items.append(ConjectureItem.from_parent(
                parent, name=f"conjecture[{conj.short_name}-{where}]",
                conj=conj, family=family, dtype=dtype))
    return items


def _node_path(session, label: str) -> Path:
    candidate = Path(label)
    if candidate.exists():
        return candidate.resolve()
    return Path(session.config.rootpath)


class ConjectureCollector(pytest.Collector):
    """Parent node of the items of one conjecture source (items are created directly)."""

    def collect(self):
        return []


class ConjectureMismatch(Exception):
    """The verdict of a conjecture item does not match its expectation."""


class _MessageItem(pytest.Item):
    """An item whose expected failures (ConjectureMismatch) report just their message."""

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ConjectureMismatch):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, self.name


class ConjectureItem(_MessageItem):
    """One conjecture checked on one family."""

    def __init__(self, *, conj, family, dtype=None, **kwargs):
        super().__init__(**kwargs)
        self.conj = conj
        self.family = family
        self.dtype = dtype
        self.entry = None

    def runtest(self) -> None:
        from entangled.theory.engine import check

        config = self.config
        self.entry = check(self.conj, self.family,
                           examples=config.getoption("conjecture_examples"),
                           seed=config.getoption("conjecture_seed"), dtype=self.dtype)
        if not self.entry.matches_expected:
            raise ConjectureMismatch(format_entry(self.entry))


class LoadErrorItem(_MessageItem):
    """A conjecture source that failed to load: always fails with its traceback."""

    def __init__(self, *, failure, **kwargs):
        super().__init__(**kwargs)
        self.failure = failure

    def runtest(self) -> None:
        raise ConjectureMismatch(
            f"could not load conjectures from {self.failure['source']}:\n{self.failure['error']}")


def format_entry(entry) -> str:
    """Failure message: verdict vs expectation, counterexample, snippet, error."""
    lines = [f"{entry.conjecture} on {entry.where}: verdict {entry.verdict!r}, "
             f"expected {entry.expected!r} ({entry.examples} distinct examples)",
             f"statement: {entry.statement}"]
    if entry.worst is not None:
        lines.append(f"worst measured value: {entry.worst!r} (tol {entry.tol!r})")
    cx = entry.counterexample
    if cx is not None:
        shown = {k: v for k, v in cx.items() if k not in ("snippet", "mappings")}
        lines.append(f"counterexample: {shown}")
        if "mappings" in cx:
            lines.append(f"mappings: {cx['mappings']}")
        lines.append("reproduce with:")
        lines.append(f"    python -c {_shell_quote(cx['snippet'])}")
    if entry.error:
        lines.append("error:")
        lines += ["    " + line for line in entry.error.rstrip().splitlines()]
    return "\n".join(lines)


def _shell_quote(text: str) -> str:
    import shlex

    return f"'{text}'" if "'" not in text else shlex.quote(text)
