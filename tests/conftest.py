"""Shared test configuration: hypothesis profiles selected by ``HYPOTHESIS_PROFILE``.

* ``dev`` (default): fast feedback while editing.
* ``ci``: derandomized (same examples every run), no example database, no deadline.
* ``thorough``: many examples, for a deliberate search.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci", max_examples=25, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
