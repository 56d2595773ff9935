"""The registry of report sections: the report page is a loop over registered sections.

A section is a callable of the report's typed evidence (what the results showed: outcomes,
selections, comparisons, verdicts, stages; built once per report) that returns its HTML
fragment::

    from entangled.reports.sections import register_section

    @register_section("my_table")
    def my_table(evidence):
        \"\"\"One table of my own, after the built-in sections.\"\"\"
        return render_my_template(evidence)   # markupsafe.Markup, or None: nothing to show

Built-in sections register when their module is imported; a package adds its own through the
entry-point group ``entangled.report_sections`` (the entry point names the callable, or a module
that registers its sections on import). Sections are listed in registration order: the
built-ins first, then plug-ins, then sections registered at run time.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Protocol

from entangled.errors import InvalidParameterError
from entangled.registry import Registry

ENTRY_POINT_GROUP = "entangled.report_sections"


class ReportSection(Protocol):
    """What a report section is: ``section(evidence) -> fragment``.

    ``evidence`` is the report's typed evidence object; the section must not change it. The
    fragment is HTML rendered from a Jinja2 template with autoescape (a ``markupsafe.Markup``),
    or ``None`` when the section has nothing to show for this evidence (it is then left out of
    the page). A section is pure: the same evidence gives the same fragment.
    """

    def __call__(self, evidence: Any) -> str | None:
        ...


def _section_of_plugin(name: str, loaded: Any) -> ReportSection | None:
    if isinstance(loaded, ModuleType):
        return None  # a module that registered its sections on import
    if not callable(loaded):
        raise InvalidParameterError("section", loaded, "a callable section(evidence) -> fragment",
                                    context=f"report section plug-in {name!r}")
    return loaded


#: The registered report sections by name, in page order.
SECTION_REGISTRY: Registry[ReportSection] = Registry(
    "report section", group=ENTRY_POINT_GROUP, parameter="section",
    from_plugin=_section_of_plugin)


def register_section(name: str, section: ReportSection | None = None
                     ) -> ReportSection | Callable[[ReportSection], ReportSection]:
    """Register ``section`` (a :class:`ReportSection`) under ``name``; without ``section``, a
    decorator that registers the function it decorates."""
    def add(function: ReportSection) -> ReportSection:
        if not callable(function):
            raise InvalidParameterError("section", function,
                                        "a callable section(evidence) -> fragment",
                                        context=f"report section {name!r}")
        return SECTION_REGISTRY.register(name, function)

    return add if section is None else add(section)


def sections() -> list[str]:
    """Names of every registered report section, in page order."""
    return SECTION_REGISTRY.names()


def section(name: Any) -> ReportSection:
    """The section called ``name``; an error listing them otherwise."""
    return SECTION_REGISTRY.get(name)
