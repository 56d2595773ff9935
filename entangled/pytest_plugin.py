"""pytest entry point of entangled (``pytest11`` entry point ``entangled_theory``).

pytest loads this module in every run of an environment where entangled is installed, so it
only declares options and imports nothing of entangled's own until a run asks for
conjectures: ``--conjectures PATH`` (repeatable), ``--conjecture-catalog``, or the ini option
``conjecture_catalog = true`` on a run without path arguments. Then the items come from
:mod:`entangled.theory.pytest_plugin`. A project with its own top-level ``theory`` package (or any
other name entangled uses) is therefore never affected; ``-p no:entangled_theory`` turns the
plugin off altogether.

Options: ``--conjecture-examples N`` (hypothesis examples per item; default the
conjecture's own, else 30) and ``--conjecture-seed S`` (base seed, default 0).
"""

from __future__ import annotations

import pytest

INI_CATALOG = "conjecture_catalog"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("conjectures", "entangled conjectures (theory package)")
    group.addoption("--conjectures", action="append", default=[], metavar="PATH",
                    help="collect conjectures from a .py file, directory or dotted module "
                         "name (repeatable)")
    group.addoption("--conjecture-catalog", action="store_true", default=False,
                    help="collect the built-in conjecture catalog even with path arguments")
    group.addoption("--conjecture-examples", type=int, default=None, metavar="N",
                    help="hypothesis examples per conjecture item")
    group.addoption("--conjecture-seed", type=int, default=0, metavar="S",
                    help="base seed of the conjecture search (default 0)")
    parser.addini(INI_CATALOG, type="bool", default=False,
                  help="collect the built-in conjecture catalog when pytest runs on its "
                       "default paths")


def wants_catalog(config) -> bool:
    """``--conjecture-catalog``, or the ini option on a run without path arguments."""
    if config.getoption("conjecture_catalog"):
        return True
    if not config.getini(INI_CATALOG):
        return False
    source = getattr(config, "args_source", None)
    return source is not None and source != pytest.Config.ArgsSource.ARGS


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    sources = list(config.getoption("conjectures") or [])
    catalog = wants_catalog(config)
    if not sources and not catalog:
        return
    from entangled.theory.pytest_plugin import collect_conjecture_items  # only now: asked for

    added = collect_conjecture_items(session, sources, catalog)
    items.extend(added)
    # let the terminal reporter count them in "collected N items"
    from _pytest.reports import CollectReport

    report = CollectReport("theory::conjectures", "passed", None, result=added)
    config.hook.pytest_collectreport(report=report)
