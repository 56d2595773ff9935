"""The conformance page: several ``entangled probe --json`` results side by side.

Two implementations from the fixture package ``minihc`` (a correct Sinkhorn mixer and one that
applies H^T) and one probed in float32 are combined; the page must name package, version and
class of each, and give every claim's verdict with its number — known verdicts from
``tests/test_probe_call.py``.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from entangled.cli import discover_commands, main, register_command

PACKAGES = str(Path(__file__).parent / "probe_packages")
COMMON = ["--init-args", "HCConfig()", "--input-shape", "2,4,8", "--streams", "4",
          "--silence", "branch", "--exposed", "minihc.sinkhorn:sinkhorn_knopp"]


@pytest.fixture(autouse=True)
def conformance_command():
    """The command from this source tree even in an environment installed before it existed."""
    if "conformance" not in discover_commands():
        from entangled.theory import cli_conformance

        register_command("conformance", cli_conformance)


class Table(HTMLParser):
    """The page's table as rows of cell texts (header rows included)."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.titles: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "br" and self._cell is not None:
            self._cell.append(" ")
        elif tag == "tr":
            self.rows.append([])
            self.titles.append([])
        elif tag in ("td", "th"):
            self._cell = []
            self.titles[-1].append(dict(attrs).get("title", ""))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def probe_json(tmp_path, capsys, name, *extra):
    out = tmp_path / f"{name}{len(extra)}.json"
    code = main(["probe", "--in-process", f"minihc.layers:{name}", *COMMON, *extra,
                 "--json", str(out)])
    capsys.readouterr()
    return code, out


def test_page_compares_implementations_with_package_version_class_and_numbers(
        tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    code_ok, correct = probe_json(tmp_path, capsys, "SinkhornMixer")
    code_bad, transposed = probe_json(tmp_path, capsys, "TransposedSinkhornMixer")
    code_32, low = probe_json(tmp_path, capsys, "SinkhornMixer", "--dtype", "float32")
    assert (code_ok, code_bad, code_32) == (0, 1, 0)
    info = json.loads(correct.read_text())["implementation"]
    assert info["package"] == "minihc" and info["version"] == "0.3.1"
    assert info["class"] == "minihc.layers.SinkhornMixer"

    page = tmp_path / "page"
    assert main(["conformance", str(correct), str(transposed), str(low), "--out",
                 str(page)]) == 0
    assert "3 results" in capsys.readouterr().out
    html = (page / "index.html").read_text()
    assert "<script" not in html and "http" not in html.split("</head>")[0]  # self-contained
    table = Table()
    table.feed(html)
    header = table.rows[0]
    assert header[1:] == ["minihc 0.3.1 minihc.layers.SinkhornMixer",
                          "minihc 0.3.1 minihc.layers.TransposedSinkhornMixer",
                          "minihc 0.3.1 minihc.layers.SinkhornMixer"]
    by_claim = {row[0]: row[1:] for row in table.rows if row and row[0]}
    assert by_claim["dtype, kind, scope"][2].startswith("float32")
    exposed = by_claim["equals_exposed"]
    assert exposed[0].startswith("holds") and exposed[1].startswith("falsified")
    # the number: H^T against H differs by max |H - H^T| (0.158 for seed 0), tol 1e-05
    number = exposed[1].split("falsified", 1)[1].strip()
    assert number.endswith("(tol 1e-05)") and 0.05 < float(number.split()[0]) < 0.5
    assert by_claim["skip_is_scalar_multiple_of_identity"] == ["n/a"] * 3
    index = [r[0] for r in table.rows].index("skip_is_scalar_multiple_of_identity")
    assert "declared stream-mixing" in table.titles[index][1]        # the reason, on hover


def test_escaping_and_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(PACKAGES)
    _, result = probe_json(tmp_path, capsys, "SinkhornMixer")
    data = json.loads(result.read_text())
    data["implementation"]["class"] = "<script>alert(1)</script>"
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(data))
    assert main(["conformance", str(hostile), "--out", str(tmp_path / "p")]) == 0
    html = (tmp_path / "p" / "index.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    capsys.readouterr()

    foreign = tmp_path / "ledger.json"
    foreign.write_text(json.dumps({"entries": []}))
    assert main(["conformance", str(foreign), "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert f"invalid RESULT={str(foreign)!r}: no 'probe' key" in err
    assert main(["conformance", str(tmp_path / "missing.json"), "--out",
                 str(tmp_path / "q")]) == 2
    assert "invalid RESULT=" in capsys.readouterr().err
    assert not (tmp_path / "q" / "index.html").exists()
