"""The documentation site builds in strict mode: a broken link, anchor or API reference fails.

The build needs the ``docs`` extra (mkdocs, mkdocs-material, mkdocstrings). Without it the
build tests are skipped, except in CI (``CI`` set), which installs the extra and must build.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p.name for p in (ROOT / "docs").glob("*.md"))


def mkdocs_or_skip():
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must build the docs, but the docs extra is missing: {exc}")
        pytest.skip(f"the docs extra is not installed ({exc.name}): pip install -e '.[docs]'")


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "--site-dir", str(site)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    assert [p for p in PAGES if f": {p}" not in nav] == []


@pytest.mark.slow
def test_the_site_builds_strictly_with_every_page_and_the_api_reference(tmp_path):
    mkdocs_or_skip()
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for page in PAGES:
        name = "index.html" if page == "index.md" else f"{page[:-3]}/index.html"
        assert (tmp_path / "site" / name).is_file(), page
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("EntangledSkip", "RunConfig", "conjecture", "check_probed", "fit_batch"):
        assert name in api, f"the API reference lacks {name}"
    assert "Unreleased" in (tmp_path / "site" / "changelog" / "index.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("bad", ["[gone](nowhere.md)", "[gone](index.md#no-such-heading)"])
def test_the_project_settings_fail_a_broken_link_or_anchor(tmp_path, bad):
    mkdocs_or_skip()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(f"# Home\n\n{bad}\n")
    import yaml  # a dependency of mkdocs

    project = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config = tmp_path / "mkdocs.yml"
    config.write_text(yaml.safe_dump({"site_name": "t", "strict": project["strict"],
                                      "validation": project["validation"]}))
    done = build(config, tmp_path / "site")
    assert done.returncode != 0
    assert "nowhere.md" in done.stderr or "no-such-heading" in done.stderr
