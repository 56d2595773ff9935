"""The registry of report sections: the report page is a loop over registered sections.

A section is a callable of the report's typed evidence
(:class:`entangled.reports.evidence.Evidence`: outcomes, selections, comparisons, verdicts,
ledgers, runs and machines; built once per report) that returns its fragment — an
:class:`Fragment`, a Jinja2 template and the plain data it renders
(autoescaped) — or ``None`` to be left out::

    from entangled.reports.sections import Fragment, register_section

    @register_section("my_table", title="My table", order=35)  # after the outcome tables
    def my_table(evidence):
        \"\"\"One table of my own, after the built-in sections.\"\"\"
        rows = [(o.variant.family, o.summary.mean) for o in evidence.outcomes]
        return Fragment("<table>{% for f, m in data.rows %}<tr><td>{{ f }}</td>"
                        "<td>{{ m|pct }}</td></tr>{% endfor %}</table>", {"rows": rows})

``title`` and ``order`` give a section its heading and page position; the page
(:func:`entangled.reports.page.registered`) orders the sections by ``order``, then by
registration. Built-in sections (:mod:`entangled.reports.builtin_sections`) register
when their module is imported; a package adds its own through the entry-point group
``entangled.report_sections`` (the entry point names the callable, or a module that registers
its sections on import).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from entangled.errors import InvalidParameterError
from entangled.registry import Registry

if TYPE_CHECKING:
    from entangled.reports.evidence import Evidence

ENTRY_POINT_GROUP = "entangled.report_sections"


class ReportSection(Protocol):
    """What a report section is: ``section(evidence) -> fragment``.

    ``evidence`` is the report's typed evidence object; the section must not change it. The
    fragment is a :class:`Fragment` (a Jinja2 template and its data,
    rendered by the page with autoescape; a ``markupsafe.Markup`` rendered from a template is
    accepted too), or ``None`` when the section has nothing to show for this evidence (it is
    then left out of the page). A section is pure: the same evidence gives the same fragment.
    """

    def __call__(self, evidence: Any, /) -> Any:
        ...


def _section_of_plugin(name: str, loaded: Any) -> ReportSection | None:
    if isinstance(loaded, ModuleType):
        return None  # a module that registered its sections on import
    if not callable(loaded):
        raise InvalidParameterError("section", loaded, "a callable section(evidence) -> fragment",
                                    context=f"report section plug-in {name!r}")
    return loaded


#: The registered report sections by name, in registration order (the page orders them by
#: their ``order``: :func:`entangled.reports.page.registered`).
SECTION_REGISTRY: Registry[ReportSection] = Registry(
    "report section", group=ENTRY_POINT_GROUP, parameter="section",
    from_plugin=_section_of_plugin)


def register_section(name: str, section: ReportSection | None = None, *,
                     title: str | None = None, order: float | None = None
                     ) -> ReportSection | Callable[[ReportSection], ReportSection]:
    """Register ``section`` (a :class:`ReportSection`) under ``name``; without ``section``, a
    decorator that registers the function it decorates (and returns it unchanged).

    With ``title`` (the heading; default: the name) or ``order`` (the page position; default
    :data:`DEFAULT_ORDER`), the function is registered as a :class:`Section` with them; a plain
    callable is shown under its name at :data:`DEFAULT_ORDER`. Built-in orders run from 10 (the
    findings) to 100 (configuration and environment) in steps of 10.
    """
    def add(function: ReportSection) -> ReportSection:
        if not callable(function):
            raise InvalidParameterError("section", function,
                                        "a callable section(evidence) -> fragment",
                                        context=f"report section {name!r}")
        entry: ReportSection = function
        if title is not None or order is not None:
            entry = Section(name, title if title is not None else heading(name), function,
                            DEFAULT_ORDER if order is None else float(order))
        SECTION_REGISTRY.register(name, entry)
        return function

    return add if section is None else add(section)


def heading(name: str) -> str:
    """The heading of a section registered without one: its name in words
    (``"run_notes"`` -> ``"Run notes"``)."""
    return name.replace("_", " ").capitalize()


def sections() -> list[str]:
    """Names of every registered report section, in page order."""
    return SECTION_REGISTRY.names()


def section(name: Any) -> ReportSection:
    """The section called ``name``; an error listing them otherwise."""
    return SECTION_REGISTRY.get(name)


#: The page position of a section that states none: after the built-in content sections
#: (up to 90, the literature ledger), before the configuration and environment (100).
DEFAULT_ORDER = 95.0


@dataclass(frozen=True)
class Fragment:
    """What a section contributes: ``template`` (a template file name such as
    ``"sections/findings.html"``, or Jinja2 template text when it contains ``{{`` or ``{%``)
    rendered with ``data`` as the variable ``data``; the ``figures`` whose SVG is written next
    to the page; ``collapsed`` shows the section folded (``<details>``) with ``brief``, a line
    of plain text, beside its heading."""

    template: str
    data: Mapping[str, Any] = field(default_factory=dict)
    figures: tuple = ()
    collapsed: bool = False
    brief: str = ""

    @property
    def inline(self) -> bool:
        return "{{" in self.template or "{%" in self.template


@dataclass(frozen=True)
class Section:
    """A section of the page with its heading and position (what :func:`register_section`
    registers when given a ``title`` or ``order``): ``key`` (an identifier: its ``id`` on the
    page, and its name in the registry), ``title`` (its heading and navigation text), ``build``
    (``Evidence -> Fragment | None``) and ``order`` (page position, smallest first; ties in
    registration order). Calling it calls ``build``, so it is a :class:`ReportSection`."""

    key: str
    title: str
    build: Callable[["Evidence"], Fragment | None]
    order: float = DEFAULT_ORDER

    def __call__(self, evidence: "Evidence") -> Fragment | None:
        return self.build(evidence)
