"""Shared test configuration: hypothesis profiles selected by ``HYPOTHESIS_PROFILE``.

* ``dev`` (default): fast feedback while editing.
* ``ci``: derandomized (same examples every run), no example database, no deadline.
* ``thorough``: many examples, for a deliberate search (also for the catalog items).
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci", max_examples=25, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

#: Examples per catalog item (conjecture x family) in the dev and ci profiles; every verdict
#: of the catalog matches its expectation at this budget with seed 0 (the search is
#: deterministic). The thorough profile searches with its own max_examples.
CATALOG_EXAMPLES = 12


def pytest_configure(config):
    """The catalog is checked once per run, by the plugin's items (``conjecture_catalog``),
    with the profile's budget; ``--conjecture-examples N`` still wins."""
    if getattr(config.option, "conjecture_examples", "no plugin") is None:
        thorough = settings().max_examples >= 100
        config.option.conjecture_examples = settings().max_examples if thorough \
            else CATALOG_EXAMPLES


#: Node ids of the tests that take longest (measured; benchmarks/slow_tests.py rewrites the
#: file): marked ``slow`` here, so ``make test-fast`` leaves them out. A new slow test gets
#: ``@pytest.mark.slow`` in its own file instead.
SLOW_TESTS = frozenset(
    line.strip() for line in (Path(__file__).with_name("slow_tests.txt")).read_text().splitlines()
    if line.strip() and not line.startswith("#"))


def pytest_collection_modifyitems(config, items):
    """Mark the listed slow tests (the catalog's items too: the plugin has added them by now,
    and ``-m`` deselects after this hook)."""
    for item in items:
        if item.nodeid in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def private_user_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty user-level cache (``ENTANGLED_CACHE_DIR``, inherited by
    the processes it starts): no test reads or writes the real ``~/.cache/entangled``, and
    none sees what another test cached."""
    monkeypatch.setenv("ENTANGLED_CACHE_DIR", str(tmp_path_factory.mktemp("user-cache")))
