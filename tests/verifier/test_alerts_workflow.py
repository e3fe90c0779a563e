"""Alerts: raised in the verify path, deduplicated, acknowledged and closed, brand-isolated."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import select

from authn.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from verifier import alerts
from verifier.accounts import ANONYMOUS, Caller, Role
from verifier.db.models import Alert, AlertEvent

if TYPE_CHECKING:
    from tests.verifier.conftest import Env

OTHER_SIGNED = "other"


def get(env: Env, path: str, who: str | None, **params: Any) -> Any:
    response = env.client.get(path, headers=env.auth(who), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def destroyed_unit_scanned(env: Env, serial: str, times: int, who: str = "officer") -> None:
    env.register([serial])
    assert env.set_status(serial, "destroyed").status_code == 200
    for _ in range(times):
        env.clock.advance(minutes=1)
        env.verify(env.sign(serial), who, country="FR")


def test_same_reason_on_the_same_code_bumps_one_alert(env: Env) -> None:
    destroyed_unit_scanned(env, "DUP1", 3)
    [alert] = get(env, "/v1/alerts", "acme")
    assert (alert["reason"], alert["severity"], alert["status"]) == (
        "SCANNED_AFTER_DECOMMISSION", "critical", "open",
    )  # fmt: skip
    assert alert["count"] == 3
    assert alert["last_seen_at"] > alert["created_at"]
    assert (alert["gtin"], alert["serial"], alert["country"]) == (env.ACME_GTIN, "DUP1", "FR")


def test_a_closed_alert_is_not_reopened_a_new_one_is_raised(env: Env) -> None:
    destroyed_unit_scanned(env, "DUP2", 1)
    [alert] = get(env, "/v1/alerts", "acme")
    closed = env.client.post(
        f"/v1/alerts/{alert['id']}/close", json={"comment": "unit found"}, headers=env.auth("acme")
    )
    assert closed.status_code == 200
    env.verify(env.sign("DUP2"), "officer")
    newest, old = get(env, "/v1/alerts", "acme")
    assert (newest["status"], newest["count"], old["status"]) == ("open", 1, "closed")


def test_a_leaked_key_gives_one_alert_per_key(env: Env) -> None:
    for serial in ("LEAK1", "LEAK2", "LEAK3"):
        env.verify(env.sign(serial), country="NL")
    [alert] = get(env, "/v1/alerts", "admin")
    assert (alert["reason"], alert["count"], alert["key_id"]) == (
        "CODE_NOT_REGISTERED", 3, env.world.acme_cert.key_id,
    )  # fmt: skip
    assert alert["detail"]["key_id"] == env.world.acme_cert.key_id


def test_info_findings_raise_no_alert(env: Env) -> None:
    env.register(["SOLD1"])
    env.set_status("SOLD1", "sold")
    env.verify(env.sign("SOLD1"), device_id="buyer")  # the buyer: info, never an alert
    assert get(env, "/v1/alerts", "admin") == []


def test_acknowledge_then_close_is_audited(env: Env) -> None:
    destroyed_unit_scanned(env, "AUD1", 1)
    [alert] = get(env, "/v1/alerts", "acme")
    path = f"/v1/alerts/{alert['id']}"
    no_comment = env.client.post(f"{path}/close", json={"comment": ""}, headers=env.auth("acme"))
    assert no_comment.status_code == 422
    env.clock.advance(minutes=5)
    acked = env.client.post(f"{path}/acknowledge", headers=env.auth("acme-clerk"))
    assert acked.json()["status"] == "acknowledged"
    again = env.client.post(f"{path}/acknowledge", headers=env.auth("acme"))
    assert again.status_code == 200  # acknowledging twice changes nothing
    env.clock.advance(minutes=5)
    closed = env.client.post(
        f"{path}/close",
        json={"comment": "destroyed in the warehouse fire"},
        headers=env.auth("acme"),
    ).json()
    assert (closed["status"], closed["close_comment"]) == (
        "closed", "destroyed in the warehouse fire",
    )  # fmt: skip
    events = get(env, path, "admin")["events"]
    assert [(e["account"], e["before"], e["after"]) for e in events] == [
        ("acme-clerk", "open", "acknowledged"),
        ("acme", "acknowledged", "closed"),
    ]
    assert events[1]["comment"] == "destroyed in the warehouse fire"
    assert events[0]["at"] < events[1]["at"]
    twice = env.client.post(f"{path}/close", json={"comment": "x"}, headers=env.auth("acme"))
    assert twice.status_code == 409
    late_ack = env.client.post(f"{path}/acknowledge", headers=env.auth("acme"))
    assert late_ack.status_code == 409


def test_brand_a_never_sees_brand_b_alerts(env: Env) -> None:
    destroyed_unit_scanned(env, "ISO1", 1)
    other_code = env.sign("X1", key=env.world.other_line, gtin=env.OTHER_GTIN)
    env.verify(other_code, country="BE")  # other's key alert
    acme = get(env, "/v1/alerts", "acme")
    other = get(env, "/v1/alerts", "other")
    assert {a["brand_id"] for a in acme} == {"acme"}
    assert {a["brand_id"] for a in other} == {"other"}
    assert len(get(env, "/v1/alerts", "officer")) == 2
    acme_id = acme[0]["id"]
    for path in (f"/v1/alerts/{acme_id}",):
        assert env.client.get(path, headers=env.auth("other")).status_code == 404
    steal = env.client.post(f"/v1/alerts/{acme_id}/acknowledge", headers=env.auth("other"))
    assert steal.status_code == 404
    # A brand's filter on another brand finds nothing; it never widens what it sees.
    assert get(env, "/v1/alerts", "other", brand="acme") == []
    assert env.client.get("/v1/alerts").status_code == 401


def test_filters_and_paging(env: Env) -> None:
    destroyed_unit_scanned(env, "F1", 1)
    env.clock.advance(hours=1)
    since = env.clock().isoformat()
    env.verify(env.sign("NEVERREG"), country="NL")
    assert [a["reason"] for a in get(env, "/v1/alerts", "officer", country="NL")] == [
        "CODE_NOT_REGISTERED"
    ]
    assert len(get(env, "/v1/alerts", "officer", reason="SCANNED_AFTER_DECOMMISSION")) == 1
    assert len(get(env, "/v1/alerts", "officer", since=since)) == 1
    assert len(get(env, "/v1/alerts", "officer", status="open", brand="acme")) == 2
    assert get(env, "/v1/alerts", "officer", status="closed") == []
    first = env.client.get("/v1/alerts", params={"limit": 1}, headers=env.auth("officer"))
    cursor = first.headers["X-Next-Before-Id"]
    second = env.client.get(
        "/v1/alerts", params={"limit": 1, "before_id": cursor}, headers=env.auth("officer")
    )
    assert "X-Next-Before-Id" not in second.headers
    assert {first.json()[0]["id"], second.json()[0]["id"]} == {
        a["id"] for a in get(env, "/v1/alerts", "officer")
    }


def test_service_functions_for_the_console(env: Env) -> None:
    destroyed_unit_scanned(env, "SVC1", 1)
    acme = Caller(Role.BRAND, account_id=None, name="acme", brand_id="acme")
    other = Caller(Role.BRAND, account_id=None, name="other", brand_id="other")
    now = env.clock()
    with env.session() as session:
        page = alerts.list_alerts(session, acme, alerts.AlertFilter(limit=10), now=now)
        [view] = page.items
        assert page.next_before_id is None
        with pytest.raises(NotFound):
            alerts.get_alert(session, other, view.id, now=now)
        with pytest.raises(Unauthenticated):
            alerts.list_alerts(session, ANONYMOUS, alerts.AlertFilter(), now=now)
        with pytest.raises(InvalidInput):
            alerts.close_alert(session, acme, view.id, "  ", now=now)
        closed = alerts.close_alert(session, acme, view.id, "checked", now=now + timedelta(hours=1))
        assert closed.status == "closed"
        with pytest.raises(Conflict):
            alerts.acknowledge_alert(session, acme, view.id, now=now)
        stored = session.exec(select(AlertEvent).where(AlertEvent.alert_id == view.id)).all()
        assert [(e.action, e.comment) for e in stored] == [("alert.close", "checked")]
        row = session.get(Alert, view.id)
        assert row is not None
        assert row.closed_at == now + timedelta(hours=1)
