"""The code blocks of the README and of the docs pages as runnable steps, so the test suite can
execute the documentation itself (tests/test_readme.py).

A fenced block (```bash, ```console, ```python) is run unless an HTML comment right above it
says otherwise. Directives, separated by ``;`` inside ``<!-- readme: ... -->``:

* ``skip: REASON``  not run; the reason is shown (e.g. "takes 10 minutes; CI runs the smoke preset").
* ``file: NAME``    written to NAME in the workspace before any step runs (a user's file); not
                    run unless ``run`` is given too (then it also runs as a program, in order).
* ``exit: N``       the commands of the block exit with status N (default 0); ``exit: 0, 1``
                    gives one status per command.
* ``cwd: repo``     run in the repository root instead of the scratch workspace.
* ``show``          not run: output shown to the reader (a table, a listing), not a command.

``bash`` blocks: every line is a command (``\\`` continues a line; a `` # `` comment after two
spaces is dropped). ``console`` blocks: lines starting with ``$ `` are commands, the rest is
their output (not compared). ``python`` blocks run as one program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FENCE = re.compile(
    r"(?:<!--\s*readme:\s*(?P<directives>.*?)\s*-->\s*\n)?^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```",
    re.S | re.M,
)
RUNNABLE = ("bash", "console", "python")


@dataclass(frozen=True)
class Block:
    """One fenced block of the README and what its directives ask for."""

    lang: str
    body: str
    line: int
    directives: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        first = self.commands()[0] if self.commands() else self.body.strip().splitlines()[0]
        return f"L{self.line}:{self.lang}:{first[:60]}"

    def commands(self) -> list[str]:
        """The shell commands of a bash or console block, continuation lines joined."""
        if self.lang == "python":
            return []
        lines = self.body.splitlines()
        if self.lang == "console":
            lines = console_command_lines(lines)
        joined, pending = [], ""
        for line in lines:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            command = strip_comment(pending + line).strip()
            pending = ""
            if command and not command.startswith("#"):
                joined.append(command)
        return joined


def console_command_lines(lines: list[str]) -> list[str]:
    """The ``$ `` lines of a console transcript and the continuation lines that follow them."""
    commands, continuing = [], False
    for line in lines:
        if line.startswith("$ ") or continuing:
            commands.append(line[2:] if line.startswith("$ ") and not continuing else line)
            continuing = line.rstrip().endswith("\\")
    return commands


def strip_comment(line: str) -> str:
    """Drop a trailing ``  # comment`` (two spaces before the hash), keep ``#`` inside words."""
    return re.split(r"\s{2,}#", line, maxsplit=1)[0]


def parse_directives(text: str | None) -> dict[str, str]:
    directives = {}
    for part in (text or "").split(";"):
        if part.strip():
            key, _, value = part.partition(":")
            directives[key.strip()] = value.strip()
    return directives


def readme_blocks(markdown: str) -> list[Block]:
    """Every fenced block of ``markdown`` with its line number and directives."""
    blocks = []
    for match in FENCE.finditer(markdown):
        line = markdown.count("\n", 0, match.start("lang")) + 1
        blocks.append(Block(match.group("lang"), match.group("body"), line,
                            parse_directives(match.group("directives"))))
    return blocks


def steps(blocks: list[Block]) -> tuple[list[Block], list[Block], list[Block]]:
    """(files to write, blocks to run, blocks skipped with a reason)."""
    files = [b for b in blocks if "file" in b.directives]
    skipped = [b for b in blocks if "skip" in b.directives]
    run = [b for b in blocks if b.lang in RUNNABLE and not ({"skip", "show"} & b.directives.keys())
           and ("file" not in b.directives or "run" in b.directives)]
    return files, run, skipped
