"""Accounts, roles and bearer tokens.

A token is ``st_`` followed by 43 base64url characters (32 random bytes). It
is shown once; the store keeps its first characters (to find it, and to name
it for revocation) and HMAC-SHA256(pepper, token), compared in constant time.
A stolen database therefore yields no usable token without the pepper.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, delete, select

from authn.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from verifier.db.models import Account, ApiToken, AuditEvent

TOKEN_MARK = "st_"  # noqa: S105  (a marker, not a secret)
TOKEN_BYTES = 32
PREFIX_CHARS = 12  # "st_" and 9 random characters: enough to tell tokens apart when revoking


class Role(StrEnum):
    """Who calls: an anonymous consumer, or an account of one of these roles.

    ``officer``: customs (and other enforcement) officers; privileged, and their
    scan of a sold unit is a critical finding. ``trade``: supply-chain partners
    (distributors, wholesalers, pharmacies, shops) whose scans place a unit in
    its supply chain; not privileged: they get the consumer's answer and see no
    other brand's data. ``brand``: a right holder's staff. ``admin``: the
    registry's operators.
    """

    ANONYMOUS = "anonymous"
    OFFICER = "officer"
    TRADE = "trade"
    BRAND = "brand"
    ADMIN = "admin"


ACCOUNT_ROLES = (Role.OFFICER, Role.TRADE, Role.BRAND, Role.ADMIN)


@dataclass(frozen=True)
class Caller:
    """Who is asking: an anonymous consumer, or an account with its role."""

    role: Role
    account_id: int | None = None
    name: str | None = None
    brand_id: str | None = None

    @property
    def is_privileged(self) -> bool:
        """Officers and registry admins see every code's full answer; trade accounts do not."""
        return self.role in (Role.OFFICER, Role.ADMIN)


ANONYMOUS = Caller(Role.ANONYMOUS)


def hash_token(token: str, pepper: bytes) -> str:
    return hmac.new(pepper, token.encode("utf-8"), hashlib.sha256).hexdigest()


def new_token() -> str:
    raw = secrets.token_bytes(TOKEN_BYTES)
    return TOKEN_MARK + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def create_account(
    session: Session,
    *,
    name: str,
    role: Role,
    now: datetime,
    brand_id: str | None = None,
    contact: str | None = None,
) -> Account:
    if role not in ACCOUNT_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ACCOUNT_ROLES)}")
    if not name or len(name) > 100:
        raise InvalidInput("an account name is 1-100 characters")
    if role is Role.BRAND and not brand_id:
        raise InvalidInput("a brand account needs --brand (the brand id of the trust list)")
    if role is not Role.BRAND and brand_id:
        raise InvalidInput("only brand accounts belong to a brand")
    if session.exec(select(Account).where(Account.name == name)).first() is not None:
        raise Conflict(f"an account named {name!r} already exists")
    account = Account(
        name=name, role=role.value, brand_id=brand_id, contact=contact, created_at=now
    )
    session.add(account)
    session.commit()
    session.refresh(account)
    return account


def issue_token(
    session: Session,
    account_name: str,
    *,
    pepper: bytes,
    now: datetime,
    expires_in: timedelta | None = None,
) -> str:
    """A new token for the account; the only time the token is ever available. With
    ``expires_in`` it stops working that long after ``now``."""
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput("a token's lifetime must be positive")
    account = session.exec(select(Account).where(Account.name == account_name)).first()
    if account is None or account.id is None:
        raise NotFound(f"no account named {account_name!r}")
    if account.disabled_at is not None:
        raise Conflict(f"account {account_name!r} is disabled")
    token = new_token()
    session.add(
        ApiToken(
            account_id=account.id,
            prefix=token[:PREFIX_CHARS],
            token_hash=hash_token(token, pepper),
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
        )
    )
    audit(session, "token.issue", account, now=now, after=token[:PREFIX_CHARS])
    session.commit()
    return token


def revoke(session: Session, target: str, *, now: datetime) -> int:
    """Revoke the tokens whose prefix is ``target``, or every token of the account so named.

    Returns how many tokens were revoked; raises NotFound when nothing matched.
    """
    query = select(ApiToken).where(col(ApiToken.revoked_at).is_(None))
    if target.startswith(TOKEN_MARK):
        if len(target) < len(TOKEN_MARK) + 4:
            raise InvalidInput("give at least 4 characters of the token after 'st_'")
        prefix = target[:PREFIX_CHARS]
        tokens = list(
            session.exec(
                query.where(col(ApiToken.prefix).startswith(prefix, autoescape=True))
            ).all()
        )
        if len(tokens) > 1:
            raise Conflict(f"{target!r} matches {len(tokens)} tokens; give more characters")
    else:
        account = session.exec(select(Account).where(Account.name == target)).first()
        if account is None:
            raise NotFound(f"no account or token prefix {target!r}")
        tokens = list(session.exec(query.where(ApiToken.account_id == account.id)).all())
        ended = _end_console_access(session, account, now=now)
        if not tokens and not ended:
            raise NotFound(f"no active token or console access of {target!r}")
        _revoke_tokens(session, tokens, now=now)
        audit(session, "account.revoke", account, now=now, after=f"{len(tokens)} token(s)")
        session.commit()
        return len(tokens)
    if not tokens:
        raise NotFound(f"no active token matches {target!r}")
    _revoke_tokens(session, tokens, now=now)
    session.commit()
    return len(tokens)


def disable(session: Session, name: str, *, now: datetime) -> None:
    """Disable an account: its tokens, console sessions and password stop working at once."""
    account = session.exec(select(Account).where(Account.name == name)).first()
    if account is None:
        raise NotFound(f"no account named {name!r}")
    if account.disabled_at is None:
        account.disabled_at = now
        session.add(account)
    query = select(ApiToken).where(
        col(ApiToken.revoked_at).is_(None), ApiToken.account_id == account.id
    )
    _revoke_tokens(session, list(session.exec(query).all()), now=now)
    _end_console_access(session, account, now=now)
    audit(session, "account.disable", account, now=now)
    session.commit()


def _revoke_tokens(session: Session, tokens: list[ApiToken], *, now: datetime) -> None:
    for token in tokens:
        token.revoked_at = now
        session.add(token)
        session.add(
            AuditEvent(
                at=now, account_id=token.account_id, action="token.revoke", after=token.prefix
            )
        )


def _end_console_access(session: Session, account: Account, *, now: datetime) -> bool:
    """Delete the account's console sessions and password; True if there was any."""
    # Imported here: console_auth builds on this module (Caller, Role).
    from verifier.console_auth import ConsoleCredential, ConsoleSession

    sessions = session.exec(
        delete(ConsoleSession).where(col(ConsoleSession.account_id) == account.id)
    )
    passwords = session.exec(
        delete(ConsoleCredential).where(col(ConsoleCredential.account_id) == account.id)
    )
    return bool(sessions.rowcount or passwords.rowcount)


def audit(
    session: Session, action: str, account: Account, *, now: datetime, after: str | None = None
) -> None:
    """An account event in the audit table (the caller commits)."""
    session.add(AuditEvent(at=now, account_id=account.id, action=action, after=after))


def authenticate(
    session: Session, token: str, *, pepper: bytes, now: datetime | None = None
) -> Caller:
    """The caller a bearer token stands for; Unauthenticated for any bad token, and for an
    expired one when ``now`` is given (the service always gives it)."""
    if not token.startswith(TOKEN_MARK) or len(token) > 100:
        raise Unauthenticated("the bearer token is not a sealtrace token")
    expected = hash_token(token, pepper)
    rows = session.exec(
        select(ApiToken, Account)
        .join(Account, col(Account.id) == col(ApiToken.account_id))
        .where(ApiToken.prefix == token[:PREFIX_CHARS])
    ).all()
    for api_token, account in rows:
        if not hmac.compare_digest(api_token.token_hash, expected):
            continue
        if api_token.revoked_at is not None or account.disabled_at is not None:
            raise Unauthenticated("this token has been revoked")
        if now is not None and api_token.expires_at is not None and now >= api_token.expires_at:
            raise Unauthenticated("this token has expired")
        return Caller(
            role=Role(account.role),
            account_id=account.id,
            name=account.name,
            brand_id=account.brand_id,
        )
    raise Unauthenticated("unknown bearer token")


def live_tokens(session: Session, account: Account) -> list[ApiToken]:
    """The account's tokens that are not revoked, oldest first."""
    return list(
        session.exec(
            select(ApiToken)
            .where(ApiToken.account_id == account.id, col(ApiToken.revoked_at).is_(None))
            .order_by(col(ApiToken.id))
        ).all()
    )


def list_accounts(session: Session) -> list[Account]:
    return list(session.exec(select(Account).order_by(col(Account.name))).all())
