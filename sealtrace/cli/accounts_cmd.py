"""`sealtrace accounts`: the verifier's accounts and their bearer tokens.

The database stack is imported inside each command, so that `sealtrace --help`
and the commands that need no database start fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from authn.errors import InvalidInput, NotFound, SealtraceError

if TYPE_CHECKING:
    from sqlmodel import Session

    from verifier.db.models import ApiToken

TOKEN_MARK = "st_"  # noqa: S105  (verifier.accounts.TOKEN_MARK, without the database stack)


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
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    from verifier.accounts import issue_token

    with _session(db) as (session, pepper):
        issued = issue_token(session, name, pepper=pepper, now=_now(), expires_in=lifetime)
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
    from verifier.accounts import revoke as revoke_tokens

    with _session(db) as (session, _):
        count = revoke_tokens(session, target, now=_now())
    typer.echo(f"revoked {count} token(s)")
    if not target.startswith(TOKEN_MARK):
        typer.echo("console sessions ended and console password removed")


@app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    db: DbOption = None,
) -> None:
    """Disable an account: its tokens, console sessions and password stop working at once."""
    from verifier.accounts import disable as disable_account

    with _session(db) as (session, _):
        disable_account(session, name, now=_now())
    typer.echo(f"account {name!r} disabled")


def _token_line(token: ApiToken, now: datetime) -> str:
    if token.expires_at is None:
        return f"{token.prefix} (no expiry)"
    state = "expired" if token.expires_at <= now else "expires"
    return f"{token.prefix} ({state} {token.expires_at:%Y-%m-%d %H:%M}Z)"


@app.command("list")
def list_accounts(db: DbOption = None) -> None:
    """List the accounts: name, role, brand, and each live token's prefix and expiry."""
    from verifier.accounts import list_accounts as all_accounts
    from verifier.accounts import live_tokens

    with _session(db) as (session, _):
        now = _now()
        for account in all_accounts(session):
            tokens = ", ".join(_token_line(t, now) for t in live_tokens(session, account))
            typer.echo(
                f"{account.name}\t{account.role}\t{account.brand_id or '-'}\t{tokens or '-'}"
            )
