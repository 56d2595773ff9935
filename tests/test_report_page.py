"""The page as a loop over registered sections of one evidence object (no training: the
evidence is gathered from fake results), a user section plugged in through the registry, and
what a suite that does not test a finding shows."""

from __future__ import annotations

import re

import pytest

from entangled.reports import page, presets
from entangled.reports.evidence import gather, summary_data
from entangled.errors import EntangledError, InvalidParameterError
from entangled.reports.builtin_sections import header
from entangled.reports.page import registered, render_page
from entangled.reports.sections import (DEFAULT_ORDER, SECTION_REGISTRY, Fragment, Section,
                                        register_section)
from entangled.sweep import SweepSummary
from run_fakes import fake_result

JITTER = [0.004, -0.003, 0.002, -0.004, 0.001, 0.003]

RNN_SUITE = """
name = "mine"
seeds = [0, 1, 2, 3, 4, 5]
conjecture_examples = 3

[[runs]]
arch = "rnn"
task = "delayed_recall"
steps = 5
variants = [{family = "identity"}, {family = "orthogonal"}]

[[runs]]
arch = "rnn"
task = "counting"
steps = 5
variants = [{family = "identity"}, {family = "orthogonal"}]
"""


def rnn_results():
    """F3's arms: orthogonal far better on delayed recall, far worse on counting."""
    out = []
    for task, structure, identity, orthogonal in (("delayed_recall", "time-variant", 0.2, 0.9),
                                                  ("counting", "time-invariant", 0.9, 0.6)):
        for seed, j in enumerate(JITTER):
            for family, acc in (("identity", identity + j), ("orthogonal", orthogonal - j)):
                out.append(fake_result({"arch": "rnn", "task": task, "family": family,
                                        "seed": seed, "steps": 5}, test_accuracy=acc,
                                       chance=0.125, time_structure=structure))
    return out


def build_page(out, suite_text: str):
    """The evidence and page of ``suite_text`` over :func:`rnn_results` in ``out``."""
    path = out / "mine.toml"
    path.write_text(suite_text)
    suite = presets.load_suite(path)
    results = rnn_results()
    sweep = SweepSummary(out_dir=str(out), total=len(results), skipped=len(results),
                         hashes=[r.config_hash for r in results])
    ev = gather(suite, out, results, sweep, {"entries": [], "load_errors": []},
                timings={"sweep": 0.0, "ledger": 0.0}, references=None)
    return ev, render_page(ev, page.fragments(ev), header(ev), ev.labels)


@pytest.fixture(scope="module")
def rnn_page(tmp_path_factory):
    return build_page(tmp_path_factory.mktemp("page"), RNN_SUITE)


def test_a_suite_without_cnn_or_vit_marks_f1_and_f2_not_tested(rnn_page):
    ev, html = rnn_page
    verdicts = {j["key"]: j["verdict"] for j in summary_data(ev)["findings"]}
    assert verdicts == {"F1": "not tested", "F2": "not tested", "F3a": "reproduced",
                        "F3b": "reproduced", "F3": "reproduced"}
    summary = html.split('<table class="findings">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td><strong>(F\d[ab]?)</strong>.*?</tr>", summary, re.S)
    assert rows == ["F1", "F2", "F3a", "F3b", "F3"]
    assert summary.count('<span class="verdict not-tested">not tested</span>') == 2
    assert "inconclusive" not in summary
    assert summary.count("Not tested: the suite names no primary comparison for this finding") == 2
    assert 'The conjunction of <a href="#evidence-F3a">F3a</a>' in summary  # F3's row
    # the primary comparisons were derived by the default rule; the band is stated
    findings = html.split('<section id="findings">', 1)[1].split("</section>", 1)[0]
    assert "derived from the suite file by the default rule" in findings
    assert "headroom band 60–90% on validation" in findings
    assert "What was spent" not in findings  # a fixed design spends nothing to report


def test_header_names_the_suite_without_empty_parentheses(rnn_page):
    _, html = rnn_page
    head = html.split("</header>", 1)[0]
    assert "Suite <strong>mine</strong>" in head and "()" not in head and "Preset" not in head
    assert "trained on unknown machine" in head  # fake results carry no machine record


def test_the_verdict_rule_is_stated_once_and_the_sections_follow_the_registry(rnn_page):
    _, html = rnn_page
    assert html.count("How a verdict is reached") == 1
    assert html.count("Finding: reproduced if") == 0  # the rule text is not repeated per row
    ids = re.findall(r'<section id="([^"]+)">', html)
    expected = [s.key for s in registered() if s.key != "calibration"]  # no MNIST-1D
    assert ids == expected
    assert ids[:3] == ["findings", "ties", "outcomes"] and ids[-1] == "environment"
    assert ids.index("ledger") > ids.index("families")
    for folded in ("ledger", "literature"):  # the ledgers are folded, their counts visible
        body = html.split(f'<section id="{folded}">', 1)[1].split("</section>", 1)[0]
        assert body.lstrip().startswith("<details>") and "<details open" not in body
        assert 'class="brief"' in body


def test_a_user_section_plugs_in_through_the_registry_and_is_escaped(rnn_page):
    ev, _ = rnn_page
    with SECTION_REGISTRY.scoped():
        @register_section("user_table", title="Mine first", order=5)
        def user_table(evidence):
            rows = [(o.variant.family, o.summary.mean) for o in evidence.outcomes]
            return Fragment("<table class='user'>{% for f, m in data.rows %}<tr><td>{{ f }}</td>"
                            "<td>{{ m|pct }}</td></tr>{% endfor %}</table><p>{{ data.note }}</p>",
                            {"rows": rows, "note": "<script>x</script>"})

        @register_section("user_empty", title="Nothing", order=6)
        def nothing(evidence):
            return None

        html = render_page(ev, page.fragments(ev), header(ev), ev.labels)
    ids = re.findall(r'<section id="([^"]+)">', html)
    assert ids[0] == "user_table" and "user_empty" not in ids
    assert '<a href="#user_table">Mine first</a>' in html
    assert "<td>orthogonal</td>" in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "user_table" not in SECTION_REGISTRY  # scoped: gone after the block


def test_a_plain_callable_of_the_registry_goes_before_the_environment(rnn_page):
    """register_section(name, function) without a heading or order: shown under its name at
    DEFAULT_ORDER (after the literature ledger, before the environment); a Markup rendered
    from a template is accepted, a plain string is refused."""
    from jinja2 import Template

    ev, _ = rnn_page
    with SECTION_REGISTRY.scoped():
        register_section("run_notes", lambda evidence: Template(
            "<p>{{ n }} runs</p>", autoescape=True).render(n=len(evidence.results)))
        order = [s.key for s in registered()]
        assert order[-3:] == ["literature", "run_notes", "environment"] and DEFAULT_ORDER == 95
        with pytest.raises(InvalidParameterError, match="section 'run_notes'.*Fragment"):
            page.fragments(ev)  # jinja2's render returns a plain str, not Markup
    with SECTION_REGISTRY.scoped():
        from markupsafe import Markup

        register_section("run_notes", lambda evidence: Markup("<p>%s runs</p>") % len(evidence.results))
        html = render_page(ev, page.fragments(ev), header(ev), ev.labels)
    assert '<h2>Run notes</h2>' in html and "<p>24 runs</p>" in html


def test_figures_are_drawn_on_several_processes_and_a_plugin_s_own_markup_keeps_its_figure(
        rnn_page):
    """page.fragments(jobs=2) draws the built-in sections' figures together at the end, the
    same figures as one by one; a plugin section that renders its figure into markup gets
    it drawn at once."""
    from markupsafe import Markup

    from entangled.reports import figures

    ev, _ = rnn_page

    def notes(evidence):
        figure = figures.panel_figure("notes", "notes", "alt", [figures.Panel(
            "p", "x", "test accuracy", [figures.Series("s", [0, 1], [0.2, 0.4])])])
        return Markup('<img src="%s">') % figure.src

    with SECTION_REGISTRY.scoped():
        register_section("run_notes", notes)
        one = page.fragments(ev)
        two = page.fragments(ev, jobs=2)
    drawn = [(f.key, f.src, f.svg) for _, fragment in one for f in fragment.figures]
    assert drawn and all(src.startswith("data:image/png;base64,") for _, src, _ in drawn)
    assert [(f.key, f.src, f.svg) for _, fragment in two for f in fragment.figures] == drawn
    html = {entry.key: fragment.data["html"] for entry, fragment in two
            if entry.key == "run_notes"}["run_notes"]
    assert 'src="data:image/png;base64,' in html


def test_bad_registrations_are_refused_with_the_parameter_named():
    with pytest.raises(EntangledError, match="report section 'findings' is already registered"):
        register_section("findings", title="again")(lambda ev: None)
    with pytest.raises(InvalidParameterError, match="name='a b'.*identifier"):
        register_section("a b", title="space")(lambda ev: None)


def test_a_section_returning_something_else_is_refused(rnn_page):
    ev, _ = rnn_page
    bad = Section("bad", "Bad", lambda evidence: "<p>html from a string</p>")
    with pytest.raises(InvalidParameterError, match="section 'bad'.*Fragment"):
        page.fragments(ev, [bad])


#: A plug-in's section, named by the entry point of the test below.
PLUGIN_SECTION = Section("plugin_notes", "Plugin notes",
                         lambda evidence: Fragment("<p>{{ data.n }} runs</p>",
                                                   {"n": len(evidence.results)}),
                         order=97)


def test_a_plugin_package_adds_a_section_through_its_entry_point(rnn_page):
    """An installed package's entry point (group entangled.report_sections) naming a Section."""
    from importlib import metadata

    ev, _ = rnn_page
    point = metadata.EntryPoint("plugin_notes", f"{__name__}:PLUGIN_SECTION",
                                SECTION_REGISTRY.group)
    with SECTION_REGISTRY.scoped(entry_points=[point]):
        html = render_page(ev, page.fragments(ev), header(ev), ev.labels)
    ids = re.findall(r'<section id="([^"]+)">', html)
    assert ids[-2:] == ["plugin_notes", "environment"] and "<p>24 runs</p>" in html
    assert "plugin_notes" not in SECTION_REGISTRY


def test_decided_by_names_the_excluded_comparisons_when_none_is_counted():
    """An inconclusive finding whose every primary comparison is excluded ('task not learnt')
    still says why in the summary table; a counted one nearest significance is named alone;
    a conjunction names its parts instead."""
    from entangled.reports.builtin_sections import decisive

    excluded = {"status": "task not learnt", "counted": False, "p_adjusted": None}
    counted = [{"status": "not reproduced", "counted": True, "p_adjusted": p} for p in (0.4, 0.2)]
    assert decisive({"verdict": "inconclusive", "evidence": [excluded]}) == [excluded]
    assert decisive({"verdict": "inconclusive", "evidence": [excluded, *counted]}) == [counted[1]]
    assert decisive({"verdict": "inconclusive", "evidence": [], "parts": ["F3a", "F3b"]}) == []


def test_learning_rates_chosen_on_a_pilot_are_shown_and_in_the_summary(tmp_path):
    """Issue 22: a preset whose rates were chosen on a pilot ([[tuning]]) says so on the page,
    with the pilot's validation means, its seeds and source, and in summary.json."""
    ev, html = build_page(tmp_path, RNN_SUITE + """
[[tuning]]
arch = "rnn"
task = "counting"
variant = {family = "orthogonal"}
tried = [0.001, 0.003, 0.01]
mean_validation = [0.5, 0.75, 0.625]
chosen = 0.003
seeds = [0, 1, 2]
source = "my pilot report"
date = "2026-12-06"
""")
    block = html.split("Learning rates chosen on a pilot")[1].split("</details>")[0]
    assert '<span class="selected">0.003: 75.0</span>' in block and "0.01: 62.5" in block
    assert "my pilot report" in block and re.search(r"<strong>0\.003</strong>", block)
    [record] = summary_data(ev)["learning_rate_pilot"]
    assert record["chosen"] == 0.003 and record["seeds"] == [0, 1, 2]
