"""The README and the documentation pages are true: their links resolve inside the repository,
and every command and program they tell a user to run is run here, exactly as written (see
tests/readme_blocks.py). Each page runs in its own scratch directory, in page order.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from readme_blocks import readme_blocks, steps

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
#: The README and every page of the documentation site, as paths relative to the repository.
PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 250


def relative_links(markdown: str) -> list[str]:
    """Targets of ``[text](target)`` and ``![alt](target)`` that are not URLs or anchors."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t for t in targets if not re.match(r"^[a-z]+://|^#|^mailto:", t)]


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_of_a_page_resolves_inside_the_repository(page):
    source = ROOT / page
    for target in relative_links(source.read_text()):
        path = (source.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page}: {target} points outside the repository"
        assert path.exists(), f"{page}: {target} does not exist"


def test_the_readme_is_short_and_links_every_documentation_page():
    lines = README.splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; long sections go into docs/"
    linked = {(ROOT / t.split("#")[0]).resolve() for t in relative_links(README)}
    missing = [p for p in PAGES[1:] if (ROOT / p).resolve() not in linked
               and p not in ("docs/index.md", "docs/changelog.md")]
    assert missing == [], f"pages the README does not link: {missing}"
    assert (ROOT / "CHANGELOG.md").resolve() in linked


def test_relative_link_finder_flags_what_a_clone_lacks():
    assert relative_links("[d](../shared/DESIGN.md) [u](https://x.org) [a](#top)") == ["../shared/DESIGN.md"]


def page_steps(page: str):
    return steps(readme_blocks((ROOT / page).read_text()))


STEPS = {page: page_steps(page) for page in PAGES}
RUN = [(page, block) for page in PAGES for block in STEPS[page][1]]
SKIPPED = [(page, block) for page in PAGES for block in STEPS[page][2]]


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    """One scratch directory per page, holding that page's user files (``file:`` blocks)."""
    made = {}

    def workspace(page):
        if page not in made:
            root = made[page] = tmp_path_factory.mktemp(re.sub(r"\W", "_", page))
            for block in STEPS[page][0]:
                (root / block.directives["file"]).write_text(block.body)
        return made[page]

    return workspace


def run_block(block, workspace, page="README.md"):
    cwd = ROOT if block.directives.get("cwd") == "repo" else workspace
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
               MPLBACKEND="Agg")
    if block.lang == "python":
        programs = [[sys.executable, "-c", block.body]]
    else:
        programs = [["bash", "-c", command] for command in block.commands()]
    codes = [int(code) for code in block.directives.get("exit", "0").split(",")]
    expected_codes = codes if len(codes) == len(programs) else codes[:1] * len(programs)
    for program, expected in zip(programs, expected_codes):
        done = subprocess.run(program, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == expected, (
            f"{page} line {block.line}: {program[-1][:200]!r} exited {done.returncode}, "
            f"expected {expected}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")


@pytest.mark.slow  # each block is a fresh process that imports torch, many train or sweep
@pytest.mark.parametrize(("page", "block"), RUN, ids=[f"{page}:{b.label}" for page, b in RUN])
def test_page_block_runs_as_written(page, block, workspaces):
    run_block(block, workspaces(page), page)


def test_every_skipped_block_says_why():
    for page, block in SKIPPED:
        assert len(block.directives["skip"]) >= 10, f"{page} line {block.line}: a skip needs a reason"


def test_readme_parser_reads_directives_commands_and_continuations():
    from readme_blocks import readme_blocks as parse

    text = ("<!-- readme: exit: 1; cwd: repo -->\n```console\n$ entangled verify a.py \\\n"
            "    --json x.json  # a comment\noutput line\n```\n\n```python\nprint(1)\n```\n"
            "<!-- readme: skip: takes ten minutes on two cores -->\n```bash\nentangled report\n```\n")
    first, second, third = parse(text)
    assert first.directives == {"exit": "1", "cwd": "repo"}
    assert first.commands() == ["entangled verify a.py      --json x.json"]
    assert second.lang == "python" and second.directives == {} and second.body == "print(1)\n"
    files, run, skipped = steps([first, second, third])
    assert run == [first, second] and skipped == [third] and files == []
