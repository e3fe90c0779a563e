"""`sealtrace accounts`: the verifier's accounts and their bearer tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from authn.errors import NotFound, SealtraceError
from verifier import accounts
from verifier.db.engine import make_engine
from verifier.producer import held_brand_ids
from verifier.settings import Settings, utc_now

app = typer.Typer(
    no_args_is_help=True,
    help="Accounts (officer, trade, brand, admin) and bearer tokens. Tokens are shown once.",
)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: SEALTRACE_DATABASE_URL or ./data)."),
]


def _settings(db: str | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"database_url": db}) if db else settings


def _fail(error: Exception) -> typer.Exit:
    if isinstance(error, OperationalError):
        message = "the database is not reachable or not migrated (run `sealtrace db upgrade`)"
    else:
        message = str(error)
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command("create")
def create(
    role: Annotated[accounts.Role, typer.Option("--role", help="officer, trade, brand or admin.")],
    name: Annotated[str, typer.Option("--name", help="Unique account name.")],
    brand: Annotated[
        str | None, typer.Option("--brand", help="Brand id in the trust list (brand role).")
    ] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Email or phone.")] = None,
    db: DbOption = None,
) -> None:
    """Create an account (no token yet: see `sealtrace accounts token`)."""
    settings = _settings(db)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            _check_brand(session, role, brand)
            account = accounts.create_account(
                session, name=name, role=role, now=utc_now(), brand_id=brand, contact=contact
            )
    except (SealtraceError, OperationalError) as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo(f"created {account.role} account {account.name}", err=True)


def _check_brand(session: Session, role: accounts.Role, brand: str | None) -> None:
    """A brand account for a brand the trust list does not name could never act."""
    if role is not accounts.Role.BRAND or brand is None:
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
    settings = _settings(db)
    engine = make_engine(settings.database_url)
    pepper = settings.token_pepper.get_secret_value().encode("utf-8")
    try:
        with Session(engine) as session:
            issued = accounts.issue_token(session, name, pepper=pepper, now=utc_now())
    except (SealtraceError, OperationalError) as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo("store this token now; it cannot be shown again", err=True)
    typer.echo(issued)


@app.command("revoke")
def revoke(
    target: Annotated[str, typer.Argument(help="A token prefix (st_...) or an account name.")],
    db: DbOption = None,
) -> None:
    """Revoke one token by its prefix, or every token of an account by its name."""
    settings = _settings(db)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            count = accounts.revoke(session, target, now=utc_now())
    except (SealtraceError, OperationalError) as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo(f"revoked {count} token(s)")


@app.command("list")
def list_accounts(db: DbOption = None) -> None:
    """List the accounts: name, role, brand."""
    settings = _settings(db)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            for account in accounts.list_accounts(session):
                typer.echo(f"{account.name}\t{account.role}\t{account.brand_id or '-'}")
    except OperationalError as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
