"""The `sealtrace` command. Its --help is the map of the product.

A command's module is imported only when that command runs (`sealtrace code parse`
imports `code_cmd` alone, not the issuer's key handling or the service); `--help` and the
`app` attribute build the whole tree.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Sequence

import typer

# name -> (module in sealtrace.cli, attribute, True for a group of subcommands), in the
# order --help lists them.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "keys": ("keys_cmd", "app", True),
    "code": ("code_cmd", "app", True),
    "issue": ("issue_cmd", "issue", False),
    "serve": ("serve_cmd", "serve", False),
    "db": ("db_cmd", "app", True),
    "accounts": ("accounts_cmd", "app", True),
    "brand": ("brand_cmd", "app", True),
    "officer": ("officer_cmd", "app", True),
    "console": ("console_cmd", "app", True),
    "audit": ("audit_cmd", "app", True),
}
HELP = (
    "Track-and-trace product authentication: sign serialised GS1 codes, print them "
    "as QR/DataMatrix labels, and verify them for customs officers and consumers."
)


def build(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The command tree with the commands ``names`` (by default all of them)."""
    root = typer.Typer(
        name="sealtrace", help=HELP, no_args_is_help=True, add_completion=False,
        pretty_exceptions_enable=False,
    )  # fmt: skip

    # A callback keeps the root a group even when it holds one command only.
    @root.callback()
    def _root() -> None:
        pass

    for name in names:
        module, attribute, group = COMMANDS[name]
        command = getattr(importlib.import_module(f"sealtrace.cli.{module}"), attribute)
        if group:
            root.add_typer(command, name=name)
        else:
            root.command(name)(command)
    return root


def for_arguments(argv: Sequence[str]) -> typer.Typer:
    """The tree a command line needs: its command alone, or everything (help, a typo)."""
    first = argv[0] if argv else None
    return build([first] if first in COMMANDS else COMMANDS)


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] != ["serve"]:
        # typer builds a pydantic TypeAdapter per parameter and pydantic then scans every
        # installed package's entry points for plugins (about 30 ms); sealtrace uses none.
        # The service keeps whatever plugins its operator installed.
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    for_arguments(argv)()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the whole tree, for tests and embedding
        return build()
    raise AttributeError(name)
