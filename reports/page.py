"""The page: a loop over registered sections, each a function of the report's evidence.

A **section** is a function ``Evidence -> Fragment | None`` registered under a name (an
identifier: its anchor on the page) in the report-section registry
(:data:`entangled.reports.sections.SECTION_REGISTRY`, one of the project's registries), with a
heading and an order. A **fragment** is a Jinja2 template (a file name under the report's
``templates/`` folder, or template text) and the plain data it renders, plus the figures whose
SVG files go next to the page; ``None`` leaves the section out. :func:`render_page` calls every
registered section in page order and renders the page in one call of one Jinja2 environment
with autoescape on, so every value a section hands over is escaped — no section builds HTML
from strings.

The built-in sections live in :mod:`entangled.reports.builtin_sections` (registered when this
module is imported); :class:`Fragment`, :class:`Section` and :func:`register_section` are
defined with the registry in :mod:`entangled.reports.sections`. A user section plugs in the
same way, from a script or a package:

.. code-block:: python

    from entangled.reports.sections import Fragment, register_section

    @register_section("my_table", title="My table", order=35)
    def my_table(evidence):
        rows = [(o.variant.family, o.summary.mean) for o in evidence.outcomes]
        return Fragment("<table>{% for f, m in data.rows %}<tr><td>{{ f }}</td>"
                        "<td>{{ m|pct }}</td></tr>{% endfor %}</table>", {"rows": rows})

or through the entry-point group ``entangled.report_sections`` (the entry point names a
:class:`Section`, or a module that registers its sections on import). Built-in orders run from
10 (findings) to 100 (configuration and environment) in steps of 10; a section without an
order, such as a plain callable given to
:func:`entangled.reports.sections.register_section`, goes at :data:`DEFAULT_ORDER`, after the
built-in content and before the environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from markupsafe import Markup

import entangled.reports.builtin_sections  # noqa: F401  (registers the built-in sections)
from entangled.reports import figures
from entangled.errors import InvalidParameterError
from entangled.reports.sections import (DEFAULT_ORDER, SECTION_REGISTRY, Fragment, Section,
                                        heading, register_section)

if TYPE_CHECKING:
    from entangled.reports.evidence import Evidence

__all__ = ["DEFAULT_ORDER", "Fragment", "Section", "format_number", "format_p",
           "format_percent", "fragments", "register_section", "registered", "render_page"]

def registered() -> list[Section]:
    """Every registered section in page order (by ``order``, then registration order): the
    built-ins, the installed plug-ins and the run-time registrations. A plain callable
    registered with :func:`~entangled.reports.sections.register_section` is shown under its
    name at :data:`DEFAULT_ORDER`."""
    placed = []
    for index, (name, entry) in enumerate(SECTION_REGISTRY.items()):
        if not isinstance(entry, Section):
            entry = Section(name, heading(name), entry)
        elif entry.key != name:
            entry = dataclasses.replace(entry, key=name)
        placed.append((entry.order, index, entry))
    return [entry for _, _, entry in sorted(placed, key=lambda t: (t[0], t[1]))]


# ------------------------------------------------------------------------------ render
@dataclass(frozen=True)
class Placed:
    """A section's fragment as the page template sees it."""

    key: str
    title: str
    template: Any
    data: Mapping[str, Any]
    collapsed: bool
    brief: str


def fragments(evidence: "Evidence", sections: list[Section] | None = None, *,
              jobs: int = 1) -> list[tuple[Section, Fragment]]:
    """Every section's fragment for ``evidence`` in page order (sections returning ``None``
    left out). A section may also return a ``markupsafe.Markup`` rendered from a template
    with autoescape (the registry's first protocol); a plain ``str`` is refused.

    ``jobs``: processes drawing the built-in sections' figures, all at the end
    (:func:`entangled.reports.figures.drawn_in_parallel`; the same figures). Other sections'
    figures are drawn at once, since such a section may render them into its markup."""
    out = []
    with figures.drawn_in_parallel(jobs):
        for entry in registered() if sections is None else sections:
            out.extend(_fragment_of(entry, evidence))
    return out


def _fragment_of(entry: Section, evidence: "Evidence") -> list[tuple[Section, Fragment]]:
    """``[(entry, its fragment)]``, or ``[]`` when the section returns ``None``."""
    builtin = getattr(entry.build, "__module__", "") == "entangled.reports.builtin_sections"
    with contextlib.nullcontext() if builtin else figures.drawn_at_once():
        fragment = entry.build(evidence)
    if fragment is None:
        return []
    if isinstance(fragment, Markup):
        fragment = Fragment("{{ data.html }}", {"html": fragment})
    if not isinstance(fragment, Fragment):
        raise InvalidParameterError(f"section {entry.key!r}", type(fragment).__name__,
                                    "a reports.page.Fragment, a markupsafe.Markup "
                                    "rendered from a template, or None")
    return [(entry, fragment)]


def environment():
    """The page's Jinja2 environment: the report's templates, autoescape on, and the filters
    that turn typed values into text (``num``, ``pct``, ``pvalue``, ``pp``; ``variant``,
    ``arch`` and ``task`` are added per page by :func:`render_page`)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("entangled.reports", "templates"),
                      autoescape=select_autoescape(["html", "xml"], default=True,
                                                   default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = format_number
    env.filters["pct"] = format_percent
    env.filters["pvalue"] = format_p
    return env


def render_page(evidence: "Evidence", placed: list[tuple[Section, Fragment]],
                header: Mapping[str, Any], labels) -> str:
    """The page: ``page.html`` rendered once with the header data and the placed fragments
    (``labels``: :class:`entangled.reports.evidence.Labels`, the typed values' text)."""
    env = environment()
    env.filters["variant"] = labels.variant
    env.filters["arch"] = labels.arch
    env.filters["task"] = labels.task
    shown = [Placed(s.key, s.title, env.from_string(f.template) if f.inline
                    else env.get_template(f.template), f.data, f.collapsed, f.brief)
             for s, f in placed]
    return env.get_template("page.html").render(sections=shown, **header)


def format_number(value: Any, digits: int = 3) -> str:
    """A number for a table: ``—`` for missing/NaN, ``yes``/``no`` for booleans, integers as
    they are, floats to ``digits`` significant digits (scientific when very small or large)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.{max(1, digits - 1)}e}"
        return f"{value:.{digits}g}"
    return str(value)


def format_percent(value: Any) -> str:
    """A fraction as a percentage with one decimal (``0.9123`` -> ``91.2``); ``—`` if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.1f}"


def format_p(value: Any) -> str:
    """A p-value to three decimals, ``<0.001`` below that, ``—`` if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.3f}" if value >= 0.001 else "<0.001"
