"""The ``entangled`` command.

Each subcommand lives in its own module exposing ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; only the module of the subcommand that is run gets imported, so
``entangled families`` does not pay for the report's dependencies.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from entangled.errors import EntangledError

COMMANDS: dict[str, tuple[str, str]] = {
    "families": ("entangled.commands.families",
                 "list mapping families and which attributes of the identity each shares"),
    "verify": ("theory.cli_verify", "run conjectures and print the ledger of verdicts"),
    "train": ("entangled.commands.train", "train one model with an entangled skip"),
    "sweep": ("entangled.commands.sweep", "run a list of run configs into a result directory (resumable)"),
    "probe": ("theory.cli_probe", "measure the skip mapping a residual module actually applies"),
    "report": ("reports.cli", "run a suite and write the self-contained HTML report"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entangled",
        description="Testbed for entangled residual mappings h' = M h + f(h).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
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
    except KeyboardInterrupt:
        print(f"\nentangled {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
