"""The README is true: its links resolve inside the repository."""

import re
from pathlib import Path

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
