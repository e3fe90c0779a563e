"""`sealtrace console`: passwords for the web console (officers, brand owners, admins)."""

from __future__ import annotations

from typing import Annotated

import typer

from authn.errors import SealtraceError

app = typer.Typer(
    no_args_is_help=True,
    help="The web console at /console: set an account's sign-in password.",
)


@app.callback()
def console() -> None:
    """The web console at /console (a group, so that more commands can join set-password)."""


@app.command("set-password")
def set_password(
    name: Annotated[str, typer.Argument(help="The account's name (see `sealtrace accounts`).")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin (scripts)."),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (default: SEALTRACE_DATABASE_URL or ./data)."),
    ] = None,
) -> None:
    """Set (or replace) NAME's console password; its open console sessions end."""
    if password_stdin:
        password = typer.get_text_stream("stdin").readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    from verifier import console_auth
    from verifier.db.engine import make_engine
    from verifier.settings import Settings, utc_now

    settings = Settings()
    url = db or settings.database_url
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            console_auth.set_password(session, name, password, now=utc_now())
    except OperationalError:
        typer.echo("error: the database is not reachable or not migrated", err=True)
        raise typer.Exit(2) from None
    except SealtraceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"console password of {name!r} set")
