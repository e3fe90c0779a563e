"""Console sign-in functions on SQLite and PostgreSQL (real databases, the app's migrations)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url
from sqlmodel import Session, select

from authn.errors import RateLimited, Unauthenticated
from tests.console.console_world import NOW, PASSWORD, make_database
from verifier import accounts, console_auth
from verifier.db.engine import make_engine
from verifier.db.migrate import upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, console_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        yield make_database(console_template, tmp_path)
        return
    base: str = request.getfixturevalue("postgres_url")
    admin = make_url(base).set(drivername="postgresql").render_as_string(False)
    name = f"sealtrace_console_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_sign_in_resume_expire_and_sign_out(database: str) -> None:
    engine = make_engine(database)
    try:
        with Session(engine) as session:
            accounts.create_account(
                session, name="bea", role=accounts.Role.BRAND, now=NOW, brand_id="acme"
            )
            console_auth.set_password(session, "bea", PASSWORD, now=NOW)
            signed = console_auth.sign_in(session, "bea", PASSWORD, client="10.0.0.1", now=NOW)
            assert signed.cookie is not None
            assert signed.caller.brand_id == "acme"
            later = NOW + timedelta(minutes=20)
            again = console_auth.resume(session, signed.cookie, now=later)
            assert again is not None
            assert again.csrf_token == signed.csrf_token
            assert console_auth.resume(session, signed.cookie + "x", now=later) is None
            # Idle clock restarted at `later`: 29 minutes after it is still fine, 31 is not.
            assert console_auth.resume(session, signed.cookie, now=later + timedelta(minutes=29))
            gone = later + timedelta(minutes=29 + 31)
            assert console_auth.resume(session, signed.cookie, now=gone) is None
            assert session.exec(select(console_auth.ConsoleSession)).all() == []

            second = console_auth.sign_in(session, "bea", PASSWORD, client="10.0.0.1", now=NOW)
            assert second.cookie is not None
            console_auth.sign_out(session, second.cookie)
            assert console_auth.resume(session, second.cookie, now=NOW) is None

            for _ in range(console_auth.MAX_FAILURES):
                with pytest.raises(Unauthenticated):
                    console_auth.sign_in(session, "bea", "nope", client="10.0.0.2", now=NOW)
            with pytest.raises(RateLimited):
                console_auth.sign_in(session, "bea", PASSWORD, client="10.0.0.2", now=NOW)
            # Another address is not locked out by these failures.
            console_auth.sign_in(session, "bea", PASSWORD, client="10.0.0.3", now=NOW)
    finally:
        engine.dispose()


def test_sign_in_sweeps_expired_sessions_and_old_failures(database: str) -> None:
    engine = make_engine(database)
    try:
        with Session(engine) as session:
            accounts.create_account(session, name="cid", role=accounts.Role.OFFICER, now=NOW)
            console_auth.set_password(session, "cid", PASSWORD, now=NOW)
            stale = console_auth.sign_in(session, "cid", PASSWORD, client="10.0.0.9", now=NOW)
            with pytest.raises(Unauthenticated):
                console_auth.sign_in(session, "cid", "nope", client="10.0.0.8", now=NOW)
            # Two hours on: that session is idle past 30 minutes, that failure past 15.
            later = NOW + timedelta(hours=2)
            fresh = console_auth.sign_in(session, "cid", PASSWORD, client="10.0.0.9", now=later)
            hashes = set(session.exec(select(console_auth.ConsoleSession.id_hash)).all())
            failures = session.exec(select(console_auth.ConsoleLoginFailure)).all()
            # Within the sweep interval nothing more is deleted, however many attempts come.
            assert not console_auth.sweep(session, now=later + timedelta(minutes=1))
    finally:
        engine.dispose()
    assert stale.cookie is not None
    assert fresh.cookie is not None
    assert hashes == {console_auth._session_hash(fresh.cookie)}
    assert failures == []
