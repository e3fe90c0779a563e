"""Sign-in to the web console: passwords, sessions and a login rate limit.

The console is for people (officers, brand owners, registry admins) who sign
in with their account's name and a password; bearer tokens stay for machines.

- Passwords are stored as scrypt (N=2**14, r=8, p=1, 32 bytes) with a random
  16-byte salt per account, compared in constant time. An unknown name costs
  the same scrypt run, so timing does not tell which names exist.
- A session id is 32 random bytes (base64url) given to the browser once; the
  database keeps SHA-256 of it, so a copy of the database opens no session.
  Each session has its own CSRF token (synchronizer token).
- Sessions end after ``IDLE_TIMEOUT`` without a request, after
  ``ABSOLUTE_TIMEOUT`` in any case, on sign-out, and when the account is
  disabled. Every time comes from the caller's ``now`` (the app's clock).
- Failed sign-ins are counted per (name, client address): ``MAX_FAILURES``
  within ``FAILURE_WINDOW`` refuses further attempts until the window passes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Index
from sqlmodel import Field, Session, SQLModel, col, delete, func, select

from authn.errors import InvalidInput, NotFound, RateLimited, Unauthenticated
from storage.types import UTCDateTime
from verifier.accounts import Caller, Role, audit
from verifier.db.models import Account

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_BYTES = 32
SALT_BYTES = 16
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # scrypt of a megabyte "password" would be a cheap denial of service

SESSION_BYTES = 32
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
SWEEP_EVERY = timedelta(minutes=5)
_swept_at: dict[str, datetime] = {}
_sweep_lock = threading.Lock()


class ConsoleCredential(SQLModel, table=True):
    """An account's console password, as scrypt parameters, salt and hash."""

    __tablename__ = "console_credential"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", unique=True)
    salt: str = Field(max_length=64)
    password_hash: str = Field(max_length=128)
    scrypt_n: int
    scrypt_r: int
    scrypt_p: int
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser; ``id_hash`` is SHA-256 of the cookie value."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    id_hash: str = Field(max_length=64, unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)


class ConsoleLoginFailure(SQLModel, table=True):
    """One failed sign-in, counted per (name, client address) within a window."""

    __tablename__ = "console_login_failure"
    __table_args__ = (Index("ix_console_failure_key", "username", "client", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100)
    client: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)


@dataclass(frozen=True)
class SignedIn:
    """A live console session: who, its CSRF token, and the cookie value (new sessions only)."""

    caller: Caller
    csrf_token: str
    cookie: str | None = None


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_BYTES, maxmem=64 * 2**20
    )


# Compared against when the name is unknown, so that both paths cost one scrypt.
_DUMMY_SALT = b"sealtrace-console-dummy-salt"


def _session_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8")).hexdigest()


def set_password(session: Session, account_name: str, password: str, *, now: datetime) -> None:
    """Set (or replace) the console password of an account; ends its open sessions."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(
            f"a console password is {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters"
        )
    account = session.exec(select(Account).where(Account.name == account_name)).first()
    if account is None or account.id is None:
        raise NotFound(f"no account named {account_name!r}")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    credential = session.exec(
        select(ConsoleCredential).where(ConsoleCredential.account_id == account.id)
    ).first() or ConsoleCredential(
        account_id=account.id, salt="", password_hash="", scrypt_n=0, scrypt_r=0, scrypt_p=0,
        updated_at=now,
    )  # fmt: skip
    credential.salt = salt.hex()
    credential.password_hash = digest.hex()
    credential.scrypt_n, credential.scrypt_r, credential.scrypt_p = SCRYPT_N, SCRYPT_R, SCRYPT_P
    credential.updated_at = now
    session.add(credential)
    session.exec(delete(ConsoleSession).where(col(ConsoleSession.account_id) == account.id))
    session.commit()


def _recent_failures(session: Session, username: str, client: str, now: datetime) -> int:
    count = session.exec(
        select(func.count())
        .select_from(ConsoleLoginFailure)
        .where(
            ConsoleLoginFailure.username == username,
            ConsoleLoginFailure.client == client,
            col(ConsoleLoginFailure.at) > now - FAILURE_WINDOW,
        )
    ).one()
    return int(count)


def sign_in(
    session: Session, username: str, password: str, *, client: str, now: datetime
) -> SignedIn:
    """Check a name and password and open a session; the cookie value is in the answer.

    Raises RateLimited after ``MAX_FAILURES`` recent failures for this name and
    client, Unauthenticated for a wrong name or password (the same message for both).
    """
    username, client = username[:100], client[:64]
    sweep(session, now=now)
    # Count first, check after: the attempt is stored (committed) before the count, so
    # every attempt's count includes all that committed before it and, of any number of
    # parallel attempts, at most MAX_FAILURES see a count within the limit and are checked.
    attempt = ConsoleLoginFailure(username=username, client=client, at=now)
    session.add(attempt)
    session.commit()
    if _recent_failures(session, username, client, now) > MAX_FAILURES:
        session.delete(attempt)  # a refused attempt does not extend the lockout
        session.commit()
        raise RateLimited(int(FAILURE_WINDOW.total_seconds()), "too many failed sign-ins")
    row = session.exec(
        select(Account, ConsoleCredential)
        .join(ConsoleCredential, col(ConsoleCredential.account_id) == col(Account.id))
        .where(Account.name == username)
    ).first()
    password = password[:MAX_PASSWORD_CHARS]
    if row is None:
        _scrypt(password, _DUMMY_SALT, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        ok = False
    else:
        account, credential = row
        digest = _scrypt(
            password, bytes.fromhex(credential.salt),
            credential.scrypt_n, credential.scrypt_r, credential.scrypt_p,
        )  # fmt: skip
        ok = hmac.compare_digest(digest.hex(), credential.password_hash)
        ok = ok and account.disabled_at is None
    if not ok or row is None:
        if row is not None:  # the attempt stays counted as a failure
            audit(session, "console.sign_in_failed", row[0], now=now, after=client)
            session.commit()
        raise Unauthenticated("wrong name or password")
    account = row[0]
    assert account.id is not None
    session.exec(
        delete(ConsoleLoginFailure).where(
            col(ConsoleLoginFailure.username) == username, col(ConsoleLoginFailure.client) == client
        )
    )
    audit(session, "console.sign_in", account, now=now, after=client)
    cookie = base64.urlsafe_b64encode(secrets.token_bytes(SESSION_BYTES)).rstrip(b"=").decode()
    csrf = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            id_hash=_session_hash(cookie), account_id=account.id, csrf_token=csrf,
            created_at=now, last_seen_at=now,
        )
    )  # fmt: skip
    session.commit()
    return SignedIn(_caller_of(account), csrf, cookie)


def sweep(session: Session, *, now: datetime, every: timedelta = SWEEP_EVERY) -> bool:
    """Delete expired sessions and failures older than the lockout window; True if it ran.

    Called on sign-in attempts, at most once per ``every`` per database and process, so
    that neither table grows for ever and a flood of attempts is not a flood of deletes.
    """
    key = session.connection().engine.url.render_as_string(hide_password=True)
    with _sweep_lock:
        last = _swept_at.get(key)
        if last is not None and last <= now < last + every:
            return False
        _swept_at[key] = now
    session.exec(
        delete(ConsoleSession).where(
            (col(ConsoleSession.last_seen_at) < now - IDLE_TIMEOUT)
            | (col(ConsoleSession.created_at) < now - ABSOLUTE_TIMEOUT)
        )
    )
    session.exec(
        delete(ConsoleLoginFailure).where(col(ConsoleLoginFailure.at) < now - FAILURE_WINDOW)
    )
    session.commit()
    return True


def _caller_of(account: Account) -> Caller:
    return Caller(
        role=Role(account.role), account_id=account.id, name=account.name,
        brand_id=account.brand_id,
    )  # fmt: skip


def resume(session: Session, cookie: str, *, now: datetime) -> SignedIn | None:
    """The live session of a cookie, its idle clock reset; None when there is none.

    An expired session is deleted on sight.
    """
    if not cookie or len(cookie) > 100:
        return None
    row = session.exec(
        select(ConsoleSession, Account)
        .join(Account, col(Account.id) == col(ConsoleSession.account_id))
        .where(ConsoleSession.id_hash == _session_hash(cookie))
    ).first()
    if row is None:
        return None
    live, account = row
    expired = (
        now - live.last_seen_at > IDLE_TIMEOUT
        or now - live.created_at > ABSOLUTE_TIMEOUT
        or account.disabled_at is not None
    )
    if expired:
        session.delete(live)
        session.commit()
        return None
    live.last_seen_at = now
    session.add(live)
    session.commit()
    return SignedIn(_caller_of(account), live.csrf_token)


def sign_out(session: Session, cookie: str) -> None:
    """End the session of a cookie (nothing happens for an unknown one)."""
    session.exec(delete(ConsoleSession).where(col(ConsoleSession.id_hash) == _session_hash(cookie)))
    session.commit()


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
