"""Sign-in, session cookie, CSRF, expiry by the app's clock, rate limit, audited alert actions."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from authn.errors import InvalidInput, NotFound
from tests.console.conftest import Console
from tests.console.console_world import ACME_GTIN, PASSWORD, csrf_of, sign_in
from verifier import console_auth
from verifier.db.models import Alert, AlertEvent


def engine_of(console: Console):  # type: ignore[no-untyped-def]
    return console.app.state.services.engine


def test_session_cookie_is_httponly_strict_scoped_and_stored_hashed(console: Console) -> None:
    client = console.client_for()
    response = sign_in(client, "officer")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("st_console="))
    value = cookie.split(";")[0].split("=", 1)[1]
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "path=/console", "samesite=strict"} <= flags
    assert len(value) >= 43  # 32 random bytes, base64url
    with Session(engine_of(console)) as session:
        stored = session.exec(select(console_auth.ConsoleSession)).all()
    assert len(stored) == 1
    assert value not in {s.id_hash for s in stored}  # only the hash is kept


def test_plain_http_gets_no_secure_flag(console: Console) -> None:
    response = sign_in(console.client_for("http://127.0.0.1"), "officer")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("st_console="))
    assert "secure" not in cookie.lower()


def test_wrong_password_and_unknown_name_answer_alike(console: Console) -> None:
    wrong = sign_in(console.client_for(), "officer", "not the password at all")
    unknown = sign_in(console.client_for(), "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong name or password." in wrong.text
    assert "Wrong name or password." in unknown.text
    assert "st_console=" not in wrong.headers.get("set-cookie", "").replace("st_console_login", "")


def test_login_form_without_its_token_is_refused(console: Console) -> None:
    client = console.client_for()
    client.get("/console/login")
    response = client.post(
        "/console/login", data={"username": "officer", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403


def test_sign_in_is_rate_limited_per_name_and_address(console: Console) -> None:
    client = console.client_for()
    for _ in range(console_auth.MAX_FAILURES):
        assert sign_in(client, "officer", "wrong password here").status_code == 401
    assert sign_in(client, "officer").status_code == 429  # even the right password
    assert sign_in(client, "admin").status_code == 303  # another name is not locked out
    console.clock.advance(minutes=16)
    assert sign_in(client, "officer").status_code == 303


def test_form_post_without_or_with_a_wrong_csrf_token_is_refused(console: Console) -> None:
    client = console.client_for()
    sign_in(client, "officer")
    alert = console.seeded.alert_id
    assert client.post(f"/console/alerts/{alert}/acknowledge", data={}).status_code == 403
    bad = {"csrf": "x" * 43}
    assert client.post(f"/console/alerts/{alert}/acknowledge", data=bad).status_code == 403
    # Another session's token is not this session's.
    other = console.client_for()
    sign_in(other, "admin")
    foreign = csrf_of(other.get("/console/alerts").text)
    response = client.post(f"/console/alerts/{alert}/acknowledge", data={"csrf": foreign})
    assert response.status_code == 403
    assert client.post("/console/logout", data={}).status_code == 403
    with Session(engine_of(console)) as session:
        assert session.get(Alert, alert).status == "open"  # type: ignore[union-attr]


def test_acknowledge_and_close_with_comment_are_audited(console: Console) -> None:
    client = console.client_for()
    sign_in(client, "acme-owner")
    alert = console.seeded.alert_id
    token = csrf_of(client.get(f"/console/alerts/{alert}").text)
    response = client.post(
        f"/console/alerts/{alert}/acknowledge", data={"csrf": token}, follow_redirects=False
    )
    assert response.status_code == 303
    page = client.post(
        f"/console/alerts/{alert}/close", data={"csrf": token, "comment": "Handed to customs in CN"}
    )
    assert page.status_code == 200
    assert 'id="alert-status">closed<' in page.text
    assert "Handed to customs in CN" in page.text
    with Session(engine_of(console)) as session:
        events = session.exec(select(AlertEvent).where(AlertEvent.alert_id == alert)).all()
    assert [(e.before, e.after) for e in events] == [
        ("open", "acknowledged"),
        ("acknowledged", "closed"),
    ]
    assert events[1].comment == "Handed to customs in CN"
    # Closing needs a comment; closing twice is a conflict, shown as a page.
    close = f"/console/alerts/{alert}/close"
    assert client.post(close, data={"csrf": token, "comment": " "}).status_code == 400
    assert client.post(close, data={"csrf": token, "comment": "again"}).status_code == 409
    filtered = client.get("/console/alerts?status=closed&country=cn&reason=IMPOSSIBLE_TRAVEL").text
    assert f'data-alert-id="{alert}"' in filtered
    assert f'data-alert-id="{alert}"' not in client.get("/console/alerts?status=open").text


def test_idle_and_absolute_expiry_follow_the_apps_clock(console: Console) -> None:
    client = console.client_for()
    sign_in(client, "officer")
    console.clock.advance(minutes=29)
    assert client.get("/console/alerts", follow_redirects=False).status_code == 200
    console.clock.advance(minutes=29)  # active 58 minutes after signing in: still alive
    assert client.get("/console/alerts", follow_redirects=False).status_code == 200
    console.clock.advance(minutes=31)  # idle longer than 30 minutes
    response = client.get("/console/alerts", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")

    sign_in(client, "officer")
    for _ in range(40):  # busy all day, never idle: the 12 h limit still ends it
        console.clock.advance(minutes=20)
        if client.get("/console/alerts", follow_redirects=False).status_code != 200:
            break
    assert client.get("/console/alerts", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_for_good(console: Console) -> None:
    client = console.client_for()
    sign_in(client, "officer")
    stolen = client.cookies.get("st_console")
    token = csrf_of(client.get("/console/alerts").text)
    response = client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 303
    replay = console.client_for()
    replay.cookies.set("st_console", stolen or "", path="/console")
    assert replay.get("/console/alerts", follow_redirects=False).status_code == 303


def test_next_never_leaves_the_console(console: Console) -> None:
    client = console.client_for()
    form = client.get("/console/login?next=https://evil.example/")
    assert 'name="next" value="/console/"' in form.text
    response = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(form.text),
            "username": "officer",
            "password": PASSWORD,
            "next": "//evil.example",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console/"


def test_passwords_are_checked_and_replacing_one_ends_sessions(console: Console) -> None:
    client = console.client_for()
    sign_in(client, "officer")
    with Session(engine_of(console)) as session:
        with pytest.raises(InvalidInput):
            console_auth.set_password(session, "officer", "short", now=console.clock())
        with pytest.raises(NotFound):
            console_auth.set_password(session, "nobody", PASSWORD, now=console.clock())
        console_auth.set_password(session, "officer", "a brand new passphrase", now=console.clock())
    assert client.get("/console/alerts", follow_redirects=False).status_code == 303
    assert sign_in(console.client_for(), "officer").status_code == 401
    assert sign_in(console.client_for(), "officer", "a brand new passphrase").status_code == 303


def test_code_page_escapes_what_came_from_outside(console: Console) -> None:
    client = console.client_for()
    sign_in(client, "officer")
    response = client.get(f"/console/codes/{ACME_GTIN}/%3Cscript%3E")
    assert response.status_code == 404
    assert "<script>" not in response.text
