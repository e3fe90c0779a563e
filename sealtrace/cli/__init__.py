"""The `sealtrace` command. Its --help is the map of the product."""

from __future__ import annotations

import typer

from sealtrace.cli import code_cmd, keys_cmd

app = typer.Typer(
    name="sealtrace",
    help=(
        "Track-and-trace product authentication: sign serialised GS1 codes, print them "
        "as QR/DataMatrix labels, and verify them for customs officers and consumers."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(code_cmd.app, name="code")


def main() -> None:
    app()
