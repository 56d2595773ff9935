"""The README is true: its links resolve inside the repository, and every command and program
it tells a user to run is run here, exactly as written (see tests/readme_blocks.py).
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


def relative_links(markdown: str) -> list[str]:
    """Targets of ``[text](target)`` and ``![alt](target)`` that are not URLs or anchors."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    return [t for t in targets if not re.match(r"^[a-z]+://|^#|^mailto:", t)]


def test_every_relative_link_of_the_readme_resolves_inside_the_repository():
    links = relative_links(README)
    assert links, "the README links the design and the screenshot at least"
    for target in links:
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{target} points outside the repository"
        assert path.exists(), f"{target} does not exist"


def test_relative_link_finder_flags_what_a_clone_lacks():
    assert relative_links("[d](../shared/DESIGN.md) [u](https://x.org) [a](#top)") == ["../shared/DESIGN.md"]


FILES, RUN, SKIPPED = steps(readme_blocks(README))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A scratch directory holding the README's user files (``file:`` blocks)."""
    root = tmp_path_factory.mktemp("readme")
    for block in FILES:
        (root / block.directives["file"]).write_text(block.body)
    return root


def run_block(block, workspace):
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
            f"README line {block.line}: {program[-1][:200]!r} exited {done.returncode}, "
            f"expected {expected}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")


@pytest.mark.parametrize("block", RUN, ids=[b.label for b in RUN])
def test_readme_block_runs_as_written(block, workspace):
    run_block(block, workspace)


def test_every_skipped_readme_block_says_why():
    for block in SKIPPED:
        assert len(block.directives["skip"]) >= 10, f"README line {block.line}: a skip needs a reason"


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
