"""The ``entangled`` command.

Subcommands live in a :class:`~entangled.registry.Registry` filled from the entry-point group
``entangled.commands``: each entry point names a module exposing ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int`` (a script may add one with
:func:`register_command`). This package declares its own (``families``, ``train``, ``verify``,
``report``, ...) in its ``pyproject.toml`` like any plug-in, so this module never names a
package above it. Command modules keep their heavy imports inside ``run``: ``entangled --help`` and
``entangled --version`` do not import torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from types import ModuleType
from typing import cast

from entangled.errors import EntangledError
from entangled.registry import PLUGIN, Registry

ENTRY_POINT_GROUP = "entangled.commands"
REINSTALL_HINT = ("subcommands are registered as entry points ('entangled.commands') when the "
                  "package is installed; after changing pyproject.toml reinstall it "
                  "(pip install -e .)")


def version() -> str:
    """The package's version: ``__version__`` of ``entangled/__init__.py``, its one source.

    ``pyproject.toml`` reads the same attribute when the package is built, so the installed
    metadata agrees with it; reading the attribute avoids both a metadata scan and torch.
    """
    from entangled import __version__

    return __version__


#: The subcommands by name: installed entry points (loaded only when used) or modules.
COMMAND_REGISTRY: Registry[metadata.EntryPoint | ModuleType] = Registry(
    "command", group=ENTRY_POINT_GROUP, parameter="command", sort=True, lazy=True)


def register_command(name: str, module: ModuleType) -> ModuleType:
    """Add subcommand ``name``: a module with ``HELP``, ``add_arguments(parser)`` and
    ``run(args) -> int``."""
    for attribute in ("add_arguments", "run"):
        if not callable(getattr(module, attribute, None)):
            raise EntangledError(f"invalid command module {module!r}; allowed: a module with "
                                 "HELP, add_arguments(parser) and run(args)")
    return cast(ModuleType, COMMAND_REGISTRY.register(name, module))


def discover_commands() -> dict[str, metadata.EntryPoint | ModuleType]:
    """``{name: entry point or module}`` of every subcommand, sorted by name.

    An editable install made before the group existed has no such entry points yet; then
    the group is read from the ``pyproject.toml`` of the source tree this package lives in.
    """
    if not COMMAND_REGISTRY.names():
        for name, entry_point in _source_tree_commands().items():
            COMMAND_REGISTRY.register(name, entry_point, origin=PLUGIN)
    return dict(COMMAND_REGISTRY.items())


def _source_tree_commands() -> dict[str, metadata.EntryPoint]:
    from pathlib import Path

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError, ImportError):
        return {}
    project = data.get("project", {})
    if project.get("name") != "entangled":
        return {}
    group = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    return {name: metadata.EntryPoint(name, value, ENTRY_POINT_GROUP)
            for name, value in group.items()}


def load_command(entry_point: metadata.EntryPoint | ModuleType) -> ModuleType | None:
    """The module of a subcommand, or ``None`` (with a warning) when it cannot be imported."""
    if isinstance(entry_point, ModuleType):
        return entry_point
    try:
        return entry_point.load()
    except Exception as exc:  # a broken plugin must not break the other commands
        print(f"entangled: warning: command {entry_point.name!r} ({entry_point.value}) cannot "
              f"be loaded: {exc}", file=sys.stderr)
        return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entangled",
        description="Testbed for entangled residual mappings h' = M h + f(h).",
        epilog="Run 'entangled COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"entangled {version()}")
    add_verbosity_arguments(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = discover_commands()
    if not commands:
        parser.epilog = f"No subcommands found: {REINSTALL_HINT}."
    for name, entry_point in commands.items():
        module = load_command(entry_point)
        if module is None:
            continue
        help_text = getattr(module, "HELP", "")
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module.add_arguments(sub)
            add_verbosity_arguments(sub, default=argparse.SUPPRESS)
    return parser


def add_verbosity_arguments(parser: argparse.ArgumentParser, default=0) -> None:
    """``-v/--verbose`` and ``-q/--quiet`` (counted), unless ``parser`` defines them already.

    On a subcommand the default is ``SUPPRESS``, so that ``entangled -q report`` and
    ``entangled report -q`` both work.
    """
    taken = parser._option_string_actions
    if "-v" not in taken and "--verbose" not in taken:
        parser.add_argument("-v", "--verbose", action="count", default=default,
                            help="more messages on stderr (debug details)")
    if "-q" not in taken and "--quiet" not in taken:
        parser.add_argument("-q", "--quiet", action="count", default=default,
                            help="fewer messages on stderr (warnings and errors only)")


def verbosity(args: argparse.Namespace) -> int:
    """``-v`` count minus ``-q`` count (a command's own ``--quiet`` flag counts as one)."""
    return int(getattr(args, "verbose", 0) or 0) - int(getattr(args, "quiet", 0) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = discover_commands()
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in commands else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from entangled.logs import configure

    configure(verbosity(args))
    module = load_command(commands[args.command])
    if module is None:  # load_command has said why
        return 2
    try:
        status = int(module.run(args) or 0)
        sys.stdout.flush()
        return status
    except BrokenPipeError:  # the reader went away (`entangled ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell tool killed by the broken pipe
    except EntangledError as exc:
        print(f"entangled {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as exc:  # disk full, a file in the way: a message, not a traceback
        detail = str(exc) or type(exc).__name__
        print(f"entangled {args.command}: error: {detail}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nentangled {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
