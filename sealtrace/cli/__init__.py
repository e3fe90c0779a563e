"""The `sealtrace` command. Its --help is the map of the product."""

from __future__ import annotations

import typer

from sealtrace.cli import (
    accounts_cmd,
    audit_cmd,
    brand_cmd,
    code_cmd,
    console_cmd,
    db_cmd,
    issue_cmd,
    keys_cmd,
    officer_cmd,
    serve_cmd,
)

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
app.command("issue")(issue_cmd.issue)
app.command("serve")(serve_cmd.serve)
app.add_typer(db_cmd.app, name="db")
app.add_typer(accounts_cmd.app, name="accounts")
app.add_typer(brand_cmd.app, name="brand")
app.add_typer(officer_cmd.app, name="officer")
app.add_typer(console_cmd.app, name="console")
app.add_typer(audit_cmd.app, name="audit")


def main() -> None:
    app()
