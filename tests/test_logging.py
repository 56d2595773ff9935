"""Library output goes through ``logging`` (never ``print``); the CLI configures it with -v/-q."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from entangled import logs
from entangled.cli import main
from entangled.sweep import load_results

ROOT = Path(__file__).resolve().parents[1]


def is_command_line_module(path: Path) -> bool:
    """Modules whose job is terminal output: the CLI entry and the subcommands."""
    return (path.name in ("cli.py", "__main__.py") or path.name.startswith("cli_")
            or "commands" in path.parts)


SCRIPT_ENTRIES = ("main", "_main")


def library_nodes(tree: ast.AST):
    """Every node of ``tree`` outside a module's script entry (a function named ``main`` or
    ``_main``, run by ``python -m``), whose job is terminal output."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in SCRIPT_ENTRIES:
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


@pytest.fixture
def restore_logging():
    """Undo what ``configure`` did, so other tests see the default logging setup."""
    yield
    for name in logs.PACKAGES:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, "_entangled_cli", False)]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def test_library_modules_never_print():
    offenders = []
    for package in ("entangled", "theory", "reports"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if is_command_line_module(path.relative_to(ROOT)):
                continue
            for node in library_nodes(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "print"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_levels_by_verbosity_known_values():
    assert [logs.level_for(v) for v in (-3, -1, 0, 1, 5)] == [
        logging.WARNING, logging.WARNING, logging.INFO, logging.DEBUG, logging.DEBUG]


def test_a_skipped_file_is_a_warning_a_caller_can_capture_and_silence(tmp_path, caplog):
    (tmp_path / "0123456789abcdef.json").write_text("{}")
    with caplog.at_level(logging.WARNING, logger="entangled"):
        assert load_results(tmp_path) == []
    [record] = [r for r in caplog.records if r.name == "entangled.sweep"]
    assert record.levelno == logging.WARNING and "0123456789abcdef.json" in record.getMessage()
    caplog.clear()
    logging.getLogger("entangled").setLevel(logging.ERROR)  # silenced by the caller
    try:
        load_results(tmp_path)
    finally:
        logging.getLogger("entangled").setLevel(logging.NOTSET)
    assert not [r for r in caplog.records if r.name == "entangled.sweep"]


@pytest.mark.parametrize("flags, shown", [([], True), (["-q"], False), (["--quiet"], False),
                                          (["-v"], True)])
def test_cli_quiet_hides_progress_notes_before_or_after_the_command(
        tmp_path, capsys, restore_logging, flags, shown):
    (tmp_path / "0123456789abcdef.json").write_text("{}")
    for argv in (flags + ["export", str(tmp_path), "--out", str(tmp_path / "t.csv")],
                 ["export", str(tmp_path), "--out", str(tmp_path / "t.csv")] + flags):
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert ("0 runs -> " in err) == shown
        assert "warning: skipping invalid result file" in err  # warnings stay visible
    expected = {"-v": logging.DEBUG, "-q": logging.WARNING, "--quiet": logging.WARNING}
    assert logging.getLogger("entangled").level == expected.get(
        flags[0] if flags else "", logging.INFO)


def test_configure_twice_keeps_one_handler(restore_logging):
    logs.configure(0)
    logs.configure(1)
    handlers = [h for h in logging.getLogger("entangled").handlers if getattr(h, "_entangled_cli", False)]
    assert len(handlers) == 1 and logging.getLogger("entangled").level == logging.DEBUG
