"""The layout of report pages in headless Chromium: how tall, and where the answer is.

Usage: python benchmarks/page_layout.py reports/out/quick/index.html [OTHER/index.html ...]

For each page and each window (1280 x 800, 1920 x 1080): the page height in px, the bottom of
the first findings row (on the first screen when it is at most the window height), the
horizontal overflow (0: the page fits), where the outcome figures ("ties") and outcome tables
start, and the share of the height the two ledgers (conjectures, literature) take. Pages of
older versions (one ``index.html`` template) are measured the same way. Needs Debian's
``chromium`` and playwright (the dev extra).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

WINDOWS = ((1280, 800), (1920, 1080))
MEASURE = """() => {
  const top = id => { const e = document.getElementById(id);
                      return e ? e.getBoundingClientRect().top + window.scrollY : null; };
  const height = id => { const e = document.getElementById(id);
                         return e ? e.getBoundingClientRect().height : 0; };
  const row = document.querySelector('table.findings tbody tr');
  const box = row ? row.getBoundingClientRect() : null;
  return {page_height: document.documentElement.scrollHeight,
          overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          first_row_bottom: box ? box.bottom + window.scrollY : null,
          ties: top('ties'), outcomes: top('outcomes'),
          ledgers: height('ledger') + height('literature')};
}"""


def measure(paths: list[Path]) -> list[dict]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        for path in paths:
            page.goto(path.resolve().as_uri())
            page.wait_for_load_state("load")
            for width, height in WINDOWS:
                page.set_viewport_size({"width": width, "height": height})
                page.evaluate("() => window.scrollTo(0, 0)")
                rows.append({"page": str(path), "window": f"{width}x{height}", "height": height,
                             **page.evaluate(MEASURE)})
        browser.close()
    return rows


def table(rows: list[dict]) -> str:
    def px(value) -> str:
        return "—" if value is None else f"{value:,.0f}"

    lines = ["| page | window | page height px | first findings row bottom px (first screen?) | "
             "overflow px | outcome figures at px | outcome tables at px | ledgers share |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        bottom = r["first_row_bottom"]
        first = "—" if bottom is None else f"{px(bottom)} ({'yes' if bottom <= r['height'] else 'no'})"
        share = r["ledgers"] / r["page_height"] if r["page_height"] else 0.0
        lines.append(f"| {r['page']} | {r['window']} | {px(r['page_height'])} | {first} | "
                     f"{px(r['overflow'])} | {px(r['ties'])} | {px(r['outcomes'])} | {share:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", type=Path, nargs="+", help="index.html of a report")
    args = parser.parse_args()
    print(table(measure(args.pages)))


if __name__ == "__main__":
    main()
