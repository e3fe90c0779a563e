"""`sealtrace accounts`: the verifier's accounts and their bearer tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from authn.errors import InvalidInput, SealtraceError
from verifier import accounts
from verifier.db.engine import make_engine
from verifier.db.models import ApiToken
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


def _token_line(token: ApiToken, now: datetime) -> str:
    if token.expires_at is None:
        return f"{token.prefix} (no expiry)"
    state = "expired" if token.expires_at <= now else "expires"
    return f"{token.prefix} ({state} {token.expires_at:%Y-%m-%d %H:%M}Z)"


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
            account = accounts.create_account(
                session, name=name, role=role, now=utc_now(), brand_id=brand, contact=contact
            )
    except (SealtraceError, OperationalError) as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo(f"created {account.role} account {account.name}", err=True)


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="Account name.")],
    expires_in: Annotated[
        str | None,
        typer.Option("--expires-in", help="Lifetime such as 90d, 12h or 30m (default: never)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Issue a new bearer token for NAME and print it (the only time it is shown)."""
    try:
        lifetime = parse_lifetime(expires_in) if expires_in is not None else None
    except InvalidInput as exc:
        raise _fail(exc) from None
    settings = _settings(db)
    engine = make_engine(settings.database_url)
    pepper = settings.token_pepper.get_secret_value().encode("utf-8")
    try:
        with Session(engine) as session:
            issued = accounts.issue_token(
                session, name, pepper=pepper, now=utc_now(), expires_in=lifetime
            )
    except (SealtraceError, OperationalError) as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo("store this token now; it cannot be shown again", err=True)
    typer.echo(issued)


_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_lifetime(text: str) -> timedelta:
    """``90d``, ``12h`` or ``30m`` as a timedelta."""
    number, unit = text[:-1], text[-1:].lower()
    if unit not in _UNITS or not number.isdigit() or int(number) == 0:
        raise InvalidInput(
            f"--expires-in is a whole number with d, h or m, e.g. 90d (got {text!r})"
        )
    return timedelta(**{_UNITS[unit]: int(number)})


@app.command("revoke")
def revoke(
    target: Annotated[str, typer.Argument(help="A token prefix (st_...) or an account name.")],
    db: DbOption = None,
) -> None:
    """Revoke one token by its prefix; or, by an account's name, every token of the account
    and its console access (open sessions end and its password stops signing in)."""
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
    if not target.startswith(accounts.TOKEN_MARK):
        typer.echo("console sessions ended and console password removed")


@app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    db: DbOption = None,
) -> None:
    """Disable an account: its tokens, console sessions and password stop working at once."""
    settings = _settings(db)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            accounts.disable(session, name, now=utc_now())
    except (SealtraceError, OperationalError) as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
    typer.echo(f"account {name!r} disabled")


@app.command("list")
def list_accounts(db: DbOption = None) -> None:
    """List the accounts: name, role, brand, and each live token's prefix and expiry."""
    settings = _settings(db)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            now = utc_now()
            for account in accounts.list_accounts(session):
                tokens = ", ".join(
                    _token_line(t, now) for t in accounts.live_tokens(session, account)
                )
                typer.echo(
                    f"{account.name}\t{account.role}\t{account.brand_id or '-'}\t{tokens or '-'}"
                )
    except OperationalError as exc:
        raise _fail(exc) from None
    finally:
        engine.dispose()
