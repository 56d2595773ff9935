"""The smoke report end to end: built once, checked as HTML and in headless Chromium.

Also checks the report's safety and robustness: a user conjecture with ``<script>`` in its
docstring is escaped, a second run reuses every finished run, and a corrupt result file is
reported and rerun instead of failing the report.
"""

import json
import os
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from entangled.reports.build import build_report
from entangled.reports.verdicts import VERDICTS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Every test here reads one smoke report built for the module (a whole suite trained).
pytestmark = pytest.mark.slow
SECTIONS = ["findings", "ties", "outcomes", "learnability", "depth", "dynamics", "families", "ledger",
            "literature", "environment"]

EVIL_CONJECTURE = textwrap.dedent('''
    from entangled.theory import conjecture

    @conjecture(families=["identity"], tol=1e-12)
    def evil_name_is_escaped(m):
        """<script>alert("pwned")</script> the identity has unit diagonal."""
        return float((m.matrix().diagonal() - 1).abs().max())
''')


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    conjectures = root / "user_conjectures.py"
    conjectures.write_text(EVIL_CONJECTURE)
    out = root / "smoke"
    index = build_report("smoke", out, conjecture_paths=[str(conjectures)], jobs=2, progress=False)
    return index, conjectures


def test_report_is_written_with_every_section(smoke_report):
    index, _ = smoke_report
    html = index.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    assert html.count("<img ") >= 3
    summary = json.loads((index.parent / "summary.json").read_text())
    assert [f["key"] for f in summary["findings"]] == ["F1", "F2", "F3a", "F3b", "F3"]
    assert all(f["verdict"] in VERDICTS for f in summary["findings"])
    assert summary["findings"][4]["parts"] == ["F3a", "F3b"]
    assert summary["primary_comparisons"]["comparisons"]
    assert all(e["role"] == "primary" for f in summary["findings"] for e in f["evidence"])
    assert all(e["role"] == "secondary" for f in summary["findings"] for e in f["secondary"])
    for finding in summary["findings"]:
        for entry in finding["evidence"]:  # the evidence recomputes from the file alone
            if entry["paired"]:
                paired = entry["paired"]
                assert len(paired["differences"]) == paired["n"] == entry["seeds"]
                assert paired["mean"] == pytest.approx(sum(paired["differences"]) / paired["n"])
    # the CNN's findings mappings are tuned on validation (smoke's lr_grid), the others are not
    assert summary["protocol"] == "tuned"
    selections = {(s["arch"], s["variant"]["family"]): s for s in summary["learning_rate_selection"]}
    assert set(selections) == {("cnn", "identity"), ("cnn", "orthogonal"), ("cnn", "sparse")}
    for s in selections.values():
        scores = {e["lr"]: e["mean_validation"] for e in s["by_lr"]}
        assert sorted(scores) == [1e-3, 3e-3, 1e-2]
        assert scores[s["selected_lr"]] == max(scores.values())  # chosen by validation
    tuned = {(o["arch"], o["variant"]["family"]): o for o in summary["tuned_outcomes"]}
    for key, s in selections.items():
        assert tuned[key]["lr"] == s["selected_lr"]
    assert {o["lr"] for o in summary["outcomes"]} == {3e-3}  # the fixed-rate tables
    assert "Learning rates selected on validation" in html
    assert "steps to 95% of best validation" in html
    # the machine: in summary.json, in the page's header and environment table
    from entangled.environment import machine, machine_label

    assert summary["environment"]["cpu"] == machine()["cpu"]
    assert summary["environment"]["torch_cpu_capability"] == machine()["torch_cpu_capability"]
    assert f"trained on {machine_label(summary['environment'])}" in html
    assert "<th>cpu_flags</th>" in html and "What reproduces where." in html
    table = summary["outcomes_table"]
    assert len(table) == len(summary["outcomes"]) and len({tuple(row) for row in table}) == 1
    assert all(not isinstance(v, (list, dict)) for row in table for v in row.values())


def test_readme_findings_table_is_read_from_the_summary(smoke_report):
    """benchmarks/findings_table.py prints the README's F1-F3 table from summary.json alone."""
    import importlib.util

    index, _ = smoke_report
    spec = importlib.util.spec_from_file_location(
        "findings_table", Path(__file__).parents[1] / "benchmarks" / "findings_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = json.loads((index.parent / "summary.json").read_text())
    lines = module.table(summary).splitlines()
    assert lines[0].startswith("| finding | verdict | primary evidence")
    for finding, line in zip(summary["findings"], lines[2:], strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:2] == [f"**{finding['key']}**", f"**{finding['verdict']}**"]
        for entry in finding["evidence"]:
            if entry["paired"]:
                assert f"{100 * entry['paired']['mean']:+.1f} [" in cells[2]
    machine = summary["run_machines"][0]
    assert module.machines(summary) == f"Trained on: {machine['label']} ({machine['runs']} runs)."
    assert machine["runs"] == summary["runs"]["loaded"] and machine["cpu"] == summary["environment"]["cpu"]


def test_export_of_a_real_report_directory_reads_its_runs(smoke_report, capsys):
    """`entangled export REPORT_DIR` on a report (summary.json and history.json beside runs/;
    the ledger cache lives in the user-level cache): every run of runs/, one row each, written
    into runs/."""
    import csv

    from entangled.cli import main

    index, _ = smoke_report
    report = index.parent
    assert (report / "summary.json").exists() and (report / "history.json").exists()
    summary = json.loads((report / "summary.json").read_text())
    assert main(["export", str(report), "--out", "-"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert len(rows) == summary["runs"]["loaded"] > 0
    assert {r["config_hash"] for r in rows} == {p.stem for p in (report / "runs").glob("*.json")}
    assert all(r["environment.cpu_flags"] is not None for r in rows)  # the machine record
    written = __import__("entangled.export", fromlist=["export"]).export(report)
    assert written == report / "runs" / "runs.csv" and not (report / "runs.csv").exists()


def test_every_figure_is_also_written_as_svg_next_to_the_page(smoke_report):
    import xml.etree.ElementTree as ET

    index, _ = smoke_report
    html = index.read_text(encoding="utf-8")
    keys = re.findall(r'<figure id="fig-([^"]+)">', html)
    assert len(keys) >= 3
    for key in keys:
        svg = index.parent / "figures" / f"{key}.svg"
        assert f'href="figures/{key}.svg"' in html
        assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"


def test_user_docstring_is_escaped_and_page_has_no_scripts_or_network(smoke_report):
    index, _ = smoke_report
    html = index.read_text(encoding="utf-8")
    assert "evil_name_is_escaped" in html
    assert "&lt;script&gt;alert(" in html
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "@import" not in html


def test_second_run_reuses_runs_and_corrupt_result_is_rerun(smoke_report, caplog):
    index, conjectures = smoke_report
    runs = sorted((index.parent / "runs").glob("*.json"))
    assert len(runs) >= 20
    victim = runs[0]
    good = json.loads(victim.read_text())
    before = {p: p.stat().st_mtime_ns for p in runs[1:]}
    victim.write_text(victim.read_text()[: len(victim.read_text()) // 2])  # a half-written file
    build_report("smoke", index.parent, conjecture_paths=[str(conjectures)], jobs=1, progress=False)
    assert victim.name[:16] in caplog.text or "corrupt" in caplog.text.lower()
    again = json.loads(victim.read_text())
    assert again["spec"] == good["spec"] and again["status"] in ("ok", "diverged")
    assert (index.parent / "runs" / "invalid" / victim.name).exists()  # moved aside, not deleted
    summary = json.loads((index.parent / "summary.json").read_text())
    assert summary["runs"]["rerun"] == summary["runs"]["invalid"] == 1
    assert summary["runs"]["expected"] == summary["runs"]["loaded"] == len(runs)
    # every other run was reused, not retrained (no file rewritten; no wall-clock bound, which
    # a loaded machine breaks)
    assert {p: p.stat().st_mtime_ns for p in runs[1:]} == before


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_in_headless_chromium(smoke_report):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    index, _ = smoke_report
    assert CHROMIUM is not None, "CI must have chromium installed"
    console, errors, requests = [], [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: console.append((m.type, m.text)))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(index.as_uri())
        page.wait_for_load_state("load")
        for section in SECTIONS:
            assert page.locator(f"section#{section} h2").is_visible()
        images = page.locator("img")
        assert images.count() >= 3
        for i in range(images.count()):
            image = images.nth(i)
            assert image.get_attribute("alt")
            assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        verdicts = page.locator("#findings table.findings").first.locator(".verdict").all_inner_texts()
        assert len(verdicts) == 5 and set(verdicts) <= set(VERDICTS)  # F1, F2, F3a, F3b, F3
        screenshot = index.parent / "screenshot.png"
        page.screenshot(path=str(screenshot), full_page=False)
        browser.close()
    assert [m for m in console if m[0] in ("error", "warning")] == []
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_leads_with_the_findings_and_fits_1280_and_1920_px(smoke_report):
    """At 1280 x 800 and 1920 x 1080: no horizontal overflow of the page (wide tables scroll
    inside their own box), the first findings table's first row on the first screen, the
    outcome figures before the ledgers, and the two ledgers folded."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    index, _ = smoke_report
    measured = {}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(index.as_uri())
        page.wait_for_load_state("load")
        for width, height in ((1280, 800), (1920, 1080)):
            page.set_viewport_size({"width": width, "height": height})
            page.evaluate("() => window.scrollTo(0, 0)")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"page overflows {overflow}px at {width}px"
            row = page.locator("table.findings").first.locator("tbody tr").first.bounding_box()
            assert 0 < row["y"] and row["y"] + row["height"] <= height, (width, row)
            tops = {key: page.locator(f"section#{key}").bounding_box()["y"]
                    for key in ("findings", "ties", "outcomes", "ledger", "literature")}
            assert tops["findings"] < tops["ties"] < tops["outcomes"] < tops["ledger"]
            for key in ("ledger", "literature"):
                section = page.locator(f"section#{key}")
                assert section.locator("details").first.evaluate("d => !d.open")
                assert section.bounding_box()["height"] < 160, key
            measured[width] = {"page_height": page.evaluate("() => document.body.scrollHeight"),
                               "first_row_bottom": row["y"] + row["height"], **tops}
            page.screenshot(path=str(index.parent / f"screenshot-{width}.png"), full_page=False)
        browser.close()
    (index.parent / "layout.json").write_text(json.dumps(measured, indent=1))
