"""Subcommands of the ``entangled`` command that live in the core package."""
