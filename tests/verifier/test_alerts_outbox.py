"""The webhook outbox: new alerts reach the brand's real HTTP receiver, signed, exactly once."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlmodel import col, select

from authn.errors import InvalidInput
from verifier import outbox, webhooks
from verifier.accounts import Caller, Role
from verifier.db.engine import make_engine
from verifier.db.models import AuditEvent, WebhookOutbox
from verifier.webhooks import EVENT_ID_HEADER, Destinations, verify_webhook

if TYPE_CHECKING:
    from tests.conftest import Receiver
    from tests.verifier.conftest import Env

SECRET = "whsec_test_secret_0123456789"


def set_hook(env: Env, url: str) -> None:
    admin = Caller(Role.ADMIN, account_id=None, name="admin")
    with env.session() as session:
        outbox.set_webhook(
            session, admin, "acme", url, SECRET, now=env.clock(), require_https=False,
            trust=env.services.trust.current(), destinations=destinations(env),
        )  # fmt: skip


def destinations(env: Env) -> Destinations:
    """The test world's explicit allow-list (its receiver is on 127.0.0.1)."""
    return Destinations.allowing(env.settings.webhook_allow_networks)


def rows(env: Env) -> list[WebhookOutbox]:
    with env.session() as session:
        return list(session.exec(select(WebhookOutbox).order_by(col(WebhookOutbox.id))).all())


def test_webhook_needs_https_outside_development_and_secret_is_shown_once(env: Env) -> None:
    refused = env.client.put(
        "/v1/brands/acme/webhook", json={"url": "http://hooks.acme.example/x"},
        headers=env.auth("acme"),
    )  # fmt: skip
    assert refused.status_code == 400
    made = env.client.put(
        "/v1/brands/acme/webhook", json={"url": "https://hooks.acme.example/x"},
        headers=env.auth("acme"),
    ).json()  # fmt: skip
    assert made["secret"].startswith("whsec_")
    assert len(made["secret"]) > 30
    other = env.client.put(
        "/v1/brands/acme/webhook", json={"url": "https://evil.example/x"},
        headers=env.auth("other"),
    )  # fmt: skip
    assert other.status_code == 404
    officer = env.client.put(
        "/v1/brands/acme/webhook", json={"url": "https://x.example/"}, headers=env.auth("officer")
    )
    assert officer.status_code == 403
    with pytest.raises(InvalidInput), env.session() as session:
        outbox.set_webhook(
            session, Caller(Role.ADMIN, name="admin"), "acme", "ftp://x", None,
            now=env.clock(), require_https=False, trust=env.services.trust.current(),
            destinations=destinations(env),
        )  # fmt: skip


def test_alert_is_delivered_signed_retried_after_500_and_never_twice(
    env: Env, receiver: Receiver
) -> None:
    env.app.state.outbox_worker.stop()  # this test is the only worker
    set_hook(env, receiver.url)
    receiver.answers = [500]
    engine = make_engine(env.settings.database_url)
    clock = FrozenClock(env.clock())
    try:
        env.verify(env.sign("HOOK1"), country="NL")  # never registered: a key alert
        [row] = rows(env)
        assert (row.status, row.attempts, row.event_type) == ("pending", 0, "alert.created")
        with httpx.Client(timeout=5) as client:
            first = outbox.run_once(engine, client, clock=clock)
            [row] = rows(env)
            assert (first.retrying, row.status, row.attempts, row.last_status_code) == (
                1, "pending", 1, 500,
            )  # fmt: skip
            assert outbox.run_once(engine, client, clock=clock).delivered == 0  # not due yet
            clock.now = row.next_attempt_at
            assert outbox.run_once(engine, client, clock=clock).delivered == 1
            for _ in range(3):
                assert outbox.run_once(engine, client, clock=clock) == outbox.OutboxStats()
    finally:
        engine.dispose()
    [row] = rows(env)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 2, clock.now)
    assert len(receiver.requests) == 2
    (h1, b1), (h2, b2) = receiver.requests
    assert b1 == b2
    assert h1[EVENT_ID_HEADER] == h2[EVENT_ID_HEADER] == row.event_id
    assert verify_webhook(SECRET, h2, b2, now=clock.now) == row.event_id
    assert b'"reason":"CODE_NOT_REGISTERED"' in b2
    assert b'"brand_id":"acme"' in b2


def test_no_webhook_no_outbox_row_and_repeats_are_not_resent(env: Env) -> None:
    env.verify(env.sign("NOHOOK"), country="NL")
    assert rows(env) == []
    set_hook(env, "http://127.0.0.1:9/unused")
    env.verify(env.sign("NOHOOK2"), country="NL")  # the same key alert again: no new event
    assert rows(env) == []


def test_only_one_worker_claims_a_row(env: Env) -> None:
    env.app.state.outbox_worker.stop()
    set_hook(env, "http://127.0.0.1:9/unused")
    env.register(["CL1"])
    env.set_status("CL1", "destroyed")
    env.verify(env.sign("CL1"), "officer")
    [row] = rows(env)
    assert row.id is not None
    now = env.clock() + timedelta(days=400)
    with env.session() as one, env.session() as two:
        assert outbox.claim(one, row.id, now=now) is True
        assert outbox.claim(two, row.id, now=now) is False
        # A crashed worker's claim lapses after the lease.
        assert outbox.claim(two, row.id, now=now + outbox.CLAIM_LEASE * 2) is True


def test_the_app_worker_delivers_in_the_background(env: Env, receiver: Receiver) -> None:
    set_hook(env, receiver.url)
    env.verify(env.sign("BG1"), country="NL")
    deadline = time.monotonic() + 15
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(receiver.requests) == 1
    deadline = time.monotonic() + 5
    while rows(env)[0].status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rows(env)[0].status == "delivered"


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:8443/internal",
        "https://localhost/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/x",
        "https://192.168.0.10/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://100.64.0.1/x",
    ],
)
def test_webhooks_into_the_network_are_refused(env: Env, url: str) -> None:
    """SSRF: the allow-list of the test world holds 127.0.0.1/32 only for outbox tests, so
    this test uses a service with none."""
    strict = env.client.app.state.services.settings.model_copy(  # type: ignore[attr-defined]
        update={"webhook_allow_networks": []}
    )
    env.client.app.state.services.settings = strict  # type: ignore[attr-defined]
    response = env.client.put(
        "/v1/brands/acme/webhook", json={"url": url}, headers=env.auth("acme")
    )
    assert response.status_code == 400, response.text
    assert "not a public address" in response.json()["detail"]


def test_every_delivery_checks_the_address_again(env: Env, receiver: Receiver) -> None:
    """DNS rebinding: a URL accepted earlier that now points inside is not connected to."""
    env.app.state.outbox_worker.stop()
    set_hook(env, receiver.url)  # allowed by the test world's explicit allow-list
    env.verify(env.sign("REBIND1"), country="NL")
    engine = make_engine(env.settings.database_url)
    try:
        with webhooks.guarded_client(Destinations(), timeout=5) as strict:
            stats = outbox.run_once(engine, strict, clock=env.clock)
        assert stats.retrying == 1
        [row] = rows(env)
        assert row.last_error is not None
        assert "not a public address" in row.last_error
        assert receiver.requests == []
        allowed = Destinations.allowing(env.settings.webhook_allow_networks)
        with webhooks.guarded_client(allowed, timeout=5) as client:
            env.clock.advance(hours=1)
            assert outbox.run_once(engine, client, clock=env.clock).delivered == 1
        assert len(receiver.requests) == 1
    finally:
        engine.dispose()
    with env.session() as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "webhook.set")).all()
    assert event.after == receiver.url
    assert SECRET not in (event.comment or "") + (event.after or "")


def test_a_seizure_reaches_the_brands_webhook_signed(env: Env, receiver: Receiver) -> None:
    env.app.state.outbox_worker.stop()  # this test is the only worker
    set_hook(env, receiver.url)
    env.register(["SEIZE1"])
    scan = env.verify(env.sign("SEIZE1"), "officer", country="NL").json()
    made = env.client.post(
        f"/v1/scans/{scan['scan_id']}/inspection",
        json={"outcome": "seized", "quantity": 12},
        headers=env.auth("officer"),
    )
    assert made.status_code == 201, made.text
    released = env.verify(env.sign("SEIZE1"), "officer", country="NL").json()
    env.client.post(
        f"/v1/scans/{released['scan_id']}/inspection",
        json={"outcome": "released"},
        headers=env.auth("officer"),
    )
    [row] = [r for r in rows(env) if r.event_type == "seizure.recorded"]
    engine = make_engine(env.settings.database_url)
    try:
        with httpx.Client(timeout=5) as client:
            assert outbox.run_once(engine, client, clock=FrozenClock(env.clock())).delivered >= 1
    finally:
        engine.dispose()
    seizures = [(h, b) for h, b in receiver.requests if b"seizure.recorded" in b]
    assert len(seizures) == 1  # the release told nobody
    headers, body = seizures[0]
    event_id = verify_webhook(SECRET, {k.lower(): v for k, v in headers.items()}, body,
                              now=env.clock())  # fmt: skip
    event = json.loads(body)
    assert event["id"] == event_id == row.event_id
    assert event["data"]["quantity"] == 12
    assert event["data"]["seizure_id"] == made.json()["id"]
    assert event["data"]["evidence"].endswith("/evidence")
    assert row.brand_id == "acme"
