"""Revoking or disabling an account ends its console access at once: open sessions stop on
their next request and the password no longer signs in. Sign-ins and token changes are in
the audit table. The sign-in limit holds under 40 parallel wrong passwords."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from sealtrace.cli.accounts_cmd import app as accounts_app
from tests.console.conftest import Console, LiveConsole
from tests.console.console_world import csrf_of, sign_in
from verifier import accounts, console_auth
from verifier.db.models import ApiToken, AuditEvent


def _url(console: Console) -> str:
    return console.app.state.services.settings.database_url  # type: ignore[no-any-return]


def test_accounts_revoke_name_ends_sessions_and_password_sign_in(console: Console) -> None:
    browser = console.client_for()
    assert sign_in(browser, "officer").status_code == 303
    assert browser.get("/console/alerts", follow_redirects=False).status_code == 200
    result = CliRunner().invoke(accounts_app, ["revoke", "officer", "--db", _url(console)])
    assert result.exit_code == 0, result.output
    assert "console sessions ended" in result.output
    # The open session is gone on its very next request ...
    after = browser.get("/console/alerts", follow_redirects=False)
    assert after.status_code == 303
    assert "/console/login" in after.headers["location"]
    # ... and the password no longer signs in (the same answer as a wrong password).
    assert sign_in(console.client_for(), "officer").status_code == 401
    with Session(console.app.state.services.engine) as session:
        actions = set(session.exec(select(AuditEvent.action)).all())
    assert {"account.revoke", "token.revoke", "console.sign_in"} <= actions


def test_disabling_an_account_ends_everything_at_once(console: Console) -> None:
    browser = console.client_for()
    assert sign_in(browser, "admin").status_code == 303
    token = console.seeded.tokens["admin"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert console.client.get("/v1/alerts", headers=bearer).status_code == 200
    result = CliRunner().invoke(accounts_app, ["disable", "admin", "--db", _url(console)])
    assert result.exit_code == 0, result.output
    assert browser.get("/console/alerts", follow_redirects=False).status_code == 303
    assert sign_in(console.client_for(), "admin").status_code == 401
    assert console.client.get("/v1/alerts", headers=bearer).status_code == 401
    with Session(console.app.state.services.engine) as session:
        admin_id = _account_id(session, "admin")
        left = session.exec(select(console_auth.ConsoleSession.account_id)).all()
        assert admin_id not in left
        events = session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action) == "account.disable")
        ).all()
    assert events == ["account.disable"]


def _account_id(session: Session, name: str) -> int | None:
    return next(a.id for a in accounts.list_accounts(session) if a.name == name)


def test_40_parallel_wrong_passwords_check_at_most_the_limit(live_console: LiveConsole) -> None:
    with httpx.Client(base_url=live_console.base_url) as client:
        form = client.get("/console/login")
        csrf = csrf_of(form.text)
        cookies = dict(client.cookies)

    def attempt(i: int) -> int:
        with httpx.Client(base_url=live_console.base_url, cookies=cookies) as c:
            response = c.post(
                "/console/login",
                data={"csrf": csrf, "username": "officer", "password": f"wrong password {i}"},
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(attempt, range(40)))
    checked = statuses.count(401)
    assert set(statuses) <= {401, 429}, statuses
    assert 1 <= checked <= console_auth.MAX_FAILURES, statuses
    assert statuses.count(429) == 40 - checked


def test_a_token_with_an_expiry_stops_working_and_listings_show_it(console: Console) -> None:
    url = _url(console)
    pepper = console.app.state.services.settings.token_pepper.get_secret_value()
    runner = CliRunner(env={"SEALTRACE_TOKEN_PEPPER": pepper})
    issued = runner.invoke(accounts_app, ["token", "officer", "--expires-in", "2h", "--db", url])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("st_")
    listing = runner.invoke(accounts_app, ["list", "--db", url])
    assert f"{token[:12]} (expires " in listing.output
    bad = runner.invoke(accounts_app, ["token", "officer", "--expires-in", "soon", "--db", url])
    assert bad.exit_code == 2
    bearer = {"Authorization": f"Bearer {token}"}
    # The app's clock decides: the test world's clock stands still at NOW.
    with Session(console.app.state.services.engine) as session:
        row = session.exec(
            select(ApiToken).where(ApiToken.prefix == token[: accounts.PREFIX_CHARS])
        ).one()
    assert row.expires_at is not None
    console.clock.now = row.expires_at - timedelta(minutes=1)
    assert console.client.get("/v1/alerts", headers=bearer).status_code == 200
    console.clock.now = row.expires_at
    expired = console.client.get("/v1/alerts", headers=bearer)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


def test_a_nul_in_a_console_form_is_a_4xx_never_a_500(console: Console) -> None:
    client = console.client_for()
    form = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"csrf": csrf_of(form.text), "username": "offi\x00cer", "password": "x" * 12},
        follow_redirects=False,
    )
    assert response.status_code == 400, response.text
    assert "control characters" in response.text
