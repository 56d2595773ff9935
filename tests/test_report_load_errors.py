"""The page's "failed to load" section shows each failing conjecture file with its traceback."""

import re
from types import SimpleNamespace

from entangled.reports import builtin_sections as sections, page


def test_load_error_section_shows_the_source_and_its_traceback_escaped():
    ledger = {"entries": [], "load_errors": [{
        "source": "claims/bad.py", "error": "Traceback (most recent call last):\nNameError: <boom>"}]}
    ev = SimpleNamespace(ledger=ledger, mismatches=[], unconfirmed=[], conjecture_paths=[],
                         suite=SimpleNamespace(conjecture_examples=5))
    fragment = sections.ledger_section(ev)
    html = page.environment().get_template(fragment.template).render(data=fragment.data)
    assert "Conjecture files that failed to load" in html and "claims/bad.py" in html
    assert "NameError: &lt;boom&gt;" in html  # the traceback itself, escaped
    assert not re.search(r"<pre>\s*</pre>", html)
