"""`sealtrace accounts`: the verifier's accounts and their bearer tokens.

The database stack is imported inside each command, so that `sealtrace --help`
and the commands that need no database start fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from authn.errors import NotFound, SealtraceError

if TYPE_CHECKING:
    from sqlmodel import Session


class AccountRole(StrEnum):
    """verifier.accounts.ACCOUNT_ROLES (a test checks they agree), spelled out here so
    that the option's help needs no database import."""

    OFFICER = "officer"
    TRADE = "trade"
    BRAND = "brand"
    ADMIN = "admin"


app = typer.Typer(
    no_args_is_help=True,
    help="Accounts (officer, trade, brand, admin) and bearer tokens. Tokens are shown once.",
)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: SEALTRACE_DATABASE_URL or ./data)."),
]


@contextmanager
def _session(db: str | None) -> Iterator[tuple[Session, bytes]]:
    """A session on the verifier's database and the token pepper; errors as one line."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    from verifier.db.engine import make_engine
    from verifier.settings import Settings

    settings = Settings()
    if db:
        settings = settings.model_copy(update={"database_url": db})
    engine = make_engine(settings.database_url)
    pepper = settings.token_pepper.get_secret_value().encode("utf-8")
    try:
        with Session(engine) as session:
            yield session, pepper
    except OperationalError:
        message = "the database is not reachable or not migrated (run `sealtrace db upgrade`)"
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    except SealtraceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


def _now() -> datetime:
    from verifier.settings import utc_now

    return utc_now()


@app.command("create")
def create(
    role: Annotated[AccountRole, typer.Option("--role", help="officer, trade, brand or admin.")],
    name: Annotated[str, typer.Option("--name", help="Unique account name.")],
    brand: Annotated[
        str | None, typer.Option("--brand", help="Brand id in the trust list (brand role).")
    ] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Email or phone.")] = None,
    db: DbOption = None,
) -> None:
    """Create an account (no token yet: see `sealtrace accounts token`)."""
    from verifier.accounts import Role, create_account

    with _session(db) as (session, _):
        _check_brand(session, role.value, brand)
        account = create_account(
            session, name=name, role=Role(role.value), now=_now(), brand_id=brand, contact=contact
        )
    typer.echo(f"created {account.role} account {account.name}", err=True)


def _check_brand(session: Session, role: str, brand: str | None) -> None:
    """A brand account for a brand the trust list does not name could never act."""
    from verifier.producer import held_brand_ids

    if role != "brand" or brand is None:
        return
    known = held_brand_ids(session)
    if known is None:
        typer.echo(
            f"warning: no trust list is installed yet, so brand {brand!r} is not checked", err=True
        )
    elif brand not in known:
        names = ", ".join(sorted(known)) or "none"
        raise NotFound(f"brand {brand!r} is not in the trust list (brands: {names})")


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="Account name.")],
    db: DbOption = None,
) -> None:
    """Issue a new bearer token for NAME and print it (the only time it is shown)."""
    from verifier.accounts import issue_token

    with _session(db) as (session, pepper):
        issued = issue_token(session, name, pepper=pepper, now=_now())
    typer.echo("store this token now; it cannot be shown again", err=True)
    typer.echo(issued)


@app.command("revoke")
def revoke(
    target: Annotated[str, typer.Argument(help="A token prefix (st_...) or an account name.")],
    db: DbOption = None,
) -> None:
    """Revoke one token by its prefix, or every token of an account by its name."""
    from verifier.accounts import revoke as revoke_tokens

    with _session(db) as (session, _):
        count = revoke_tokens(session, target, now=_now())
    typer.echo(f"revoked {count} token(s)")


@app.command("list")
def list_accounts(db: DbOption = None) -> None:
    """List the accounts: name, role, brand."""
    from verifier.accounts import list_accounts as all_accounts

    with _session(db) as (session, _):
        for account in all_accounts(session):
            typer.echo(f"{account.name}\t{account.role}\t{account.brand_id or '-'}")
