"""The page's "failed to load" section shows each failing conjecture file with its traceback."""

import re
from pathlib import Path

from jinja2 import Environment, select_autoescape

TEMPLATE = Path(__file__).resolve().parents[1] / "reports" / "templates" / "index.html"


def load_error_section() -> str:
    """The template's ``{% if ledger.load_errors %} ... {% endif %}`` block, verbatim."""
    source = TEMPLATE.read_text()
    match = re.search(r"\{% if ledger\.load_errors %\}.*?\{% endif %\}", source, re.S)
    assert match, "the template has a load-errors section"
    return match.group(0)


def test_load_error_section_shows_the_source_and_its_traceback_escaped():
    env = Environment(autoescape=select_autoescape(default=True))
    ledger = {"load_errors": [{"source": "claims/bad.py",
                               "error": "Traceback (most recent call last):\nNameError: <boom>"}]}
    html = env.from_string(load_error_section()).render(ledger=ledger)
    assert "claims/bad.py" in html
    assert "NameError: &lt;boom&gt;" in html  # the traceback itself, escaped
    assert not re.search(r"<pre>\s*</pre>", html)
