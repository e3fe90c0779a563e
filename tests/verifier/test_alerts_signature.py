"""Codes failing the signature alert the brand owning the GTIN: one alert per (GTIN, key,
reason) with counts, places and units, webhooks on creation and meaningful growth only."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col, select

from authn.signing import key_id
from tests.verifier.test_alerts_outbox import SECRET, FrozenClock, rows, set_hook
from verifier import alert_tally, outbox
from verifier.db.engine import make_engine
from verifier.db.models import Alert
from verifier.webhooks import verify_webhook

if TYPE_CHECKING:
    from tests.conftest import Receiver
    from tests.verifier.conftest import Env


def forged(uri: str) -> str:
    """The label's URI with its signature's tail changed: the key is known, the signature bad."""
    return uri[:-6] + ("AAAAAA" if not uri.endswith("AAAAAA") else "BBBBBB")


def alerts_of(env: Env, who: str, **params: Any) -> list[dict[str, Any]]:
    response = env.client.get("/v1/alerts", params=params, headers=env.auth(who))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def stored_alerts(env: Env) -> list[Alert]:
    with env.session() as session:
        return list(session.exec(select(Alert).order_by(col(Alert.id))).all())


def test_unknown_key_scans_are_one_alert_per_key_and_gtin_with_places_and_units(
    env: Env,
) -> None:
    rogue = Ed25519PrivateKey.generate()
    answers = [
        env.verify(env.sign(serial, key=rogue), country=country).json()
        for serial, country in (("F1", "DE"), ("F2", "FR"), ("F1", "DE"), ("F3", "DE"))
    ]
    # Anonymous callers are told what they were told before: one generic reason.
    for answer in answers:
        assert answer["verdict"] == "counterfeit"
        assert [r["code"] for r in answer["reasons"]] == ["NOT_GENUINE"]
        assert "alert" not in json.dumps(answer)
    [alert] = alerts_of(env, "acme")
    assert (alert["reason"], alert["brand_id"], alert["gtin"], alert["key_id"]) == (
        "KEY_UNKNOWN", "acme", env.ACME_GTIN, key_id(rogue.public_key()),
    )  # fmt: skip
    assert (alert["count"], alert["units"], alert["severity"]) == (4, 3, "critical")
    assert [(p["country"], p["count"]) for p in alert["places"]] == [("DE", 3), ("FR", 1)]
    assert alert["first_seen_at"] == alert["created_at"]
    # A second rogue key is a second alert; the first keeps its count.
    env.verify(env.sign("F9", key=Ed25519PrivateKey.generate()), country="PL")
    newest, first = alerts_of(env, "acme")
    assert (newest["count"], first["count"]) == (1, 4)
    assert [p["country"] for p in newest["places"]] == ["PL"]


def test_bad_signature_and_revoked_key_alert_the_gtins_brand(env: Env) -> None:
    env.register(["OK1"])
    for serial in ("B1", "B2", "B3"):
        env.verify(forged(env.sign(serial)), country="NL")
    env.verify(env.sign("R1", key=env.world.leaked_line), "officer", country="BE")
    env.verify(env.sign("R2", key=env.world.leaked_line), country="BE")
    found = {(a["reason"], a["key_id"]): a for a in alerts_of(env, "acme")}
    bad = found[("SIGNATURE_INVALID", env.world.acme_cert.key_id)]
    revoked = found[("KEY_REVOKED", env.world.leaked_cert.key_id)]
    assert (bad["count"], bad["units"]) == (3, 3)
    assert (revoked["count"], revoked["units"]) == (2, 2)
    assert [p["country"] for p in revoked["places"]] == ["BE"]
    assert len(found) == 2
    # A genuine scan raised nothing.
    assert env.verify(env.sign("OK1"), country="NL").json()["verdict"] == "authentic"
    assert len(alerts_of(env, "acme")) == 2


def test_one_brand_never_sees_anothers_signature_alerts(env: Env) -> None:
    # Other's genuine key signing acme's GTIN: acme is the one imitated and the one told.
    env.verify(env.sign("X1", key=env.world.other_line), country="FR")
    env.verify(env.sign("Y1", key=Ed25519PrivateKey.generate(), gtin=env.OTHER_GTIN))
    [acme] = alerts_of(env, "acme")
    [other] = alerts_of(env, "other")
    assert (acme["reason"], acme["gtin"]) == ("GTIN_OUTSIDE_KEY_PREFIXES", env.ACME_GTIN)
    assert (other["reason"], other["gtin"]) == ("KEY_UNKNOWN", env.OTHER_GTIN)
    stolen = env.client.get(f"/v1/alerts/{acme['id']}", headers=env.auth("other"))
    assert stolen.status_code == 404
    assert alerts_of(env, "other", brand="acme") == []
    assert env.client.get("/v1/alerts").status_code == 401
    # A GTIN of no enrolled brand has no right holder to tell.
    env.verify(env.sign("Z1", key=Ed25519PrivateKey.generate(), gtin=env.UNENROLLED_GTIN))
    assert len(alerts_of(env, "officer")) == 2
    # Read alone, the alert shows its places and units to its own brand.
    mine = env.client.get(f"/v1/alerts/{acme['id']}", headers=env.auth("acme")).json()
    assert (mine["units"], [p["country"] for p in mine["places"]]) == (1, ["FR"])


def test_a_closed_signature_alert_starts_a_new_tally(env: Env) -> None:
    rogue = Ed25519PrivateKey.generate()
    env.verify(env.sign("C1", key=rogue), country="DE")
    [alert] = alerts_of(env, "acme")
    closed = env.client.post(
        f"/v1/alerts/{alert['id']}/close", json={"comment": "reported to police"},
        headers=env.auth("acme"),
    )  # fmt: skip
    assert closed.status_code == 200, closed.text
    env.verify(env.sign("C2", key=rogue), country="AT")
    newest, old = alerts_of(env, "acme")
    assert (newest["status"], newest["count"], newest["units"]) == ("open", 1, 1)
    assert [p["country"] for p in newest["places"]] == ["AT"]
    assert [p["country"] for p in old["places"]] == ["DE"]


def test_growth_thresholds() -> None:
    crossed = [n for n in range(1, 1200) if alert_tally.crossed_threshold(n, n + 1)]
    assert crossed == [9, 99, 999]
    assert alert_tally.crossed_threshold(5, 250)
    assert not alert_tally.crossed_threshold(10, 99)
    assert not alert_tally.crossed_threshold(0, 1)


def test_signature_alerts_reach_the_webhook_on_creation_and_growth_only(
    env: Env, receiver: Receiver
) -> None:
    env.app.state.outbox_worker.stop()  # this test is the only worker
    set_hook(env, receiver.url)
    rogue = Ed25519PrivateKey.generate()
    for i in range(12):  # 12 scans in NL: created, then grew at 10
        env.verify(env.sign(f"W{i}", key=rogue), country="NL")
    env.verify(env.sign("W0", key=rogue), country="NL")  # a 13th: nothing new to tell
    env.verify(env.sign("W99", key=rogue), country="BE")  # a first scan in BE: grew
    events = [(r.event_type, r.alert_id) for r in rows(env)]
    [alert] = stored_alerts(env)
    assert events == [("alert.created", alert.id), ("alert.grew", alert.id),
                      ("alert.grew", alert.id)]  # fmt: skip
    engine = make_engine(env.settings.database_url)
    try:
        with httpx.Client(timeout=5) as client:
            stats = outbox.run_once(engine, client, clock=FrozenClock(env.clock()))
    finally:
        engine.dispose()
    assert stats.delivered == 3
    bodies = []
    for headers, body in receiver.requests:
        verify_webhook(SECRET, headers, body, now=env.clock())
        bodies.append(json.loads(body))
    created, at_ten, in_belgium = sorted(bodies, key=lambda b: b["data"].get("count_before", -1))
    assert created["type"] == "alert.created"
    assert (created["data"]["reason"], created["data"]["count"]) == ("KEY_UNKNOWN", 1)
    assert created["data"]["countries"] == ["NL"]
    assert (at_ten["type"], at_ten["data"]["count_before"], at_ten["data"]["count"]) == (
        "alert.grew", 9, 10,
    )  # fmt: skip
    assert in_belgium["data"]["count"] == 14
    assert (in_belgium["data"]["countries"], in_belgium["data"]["units"]) == (["NL", "BE"], 13)
    assert {b["data"]["brand_id"] for b in bodies} == {"acme"}
