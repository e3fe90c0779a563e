"""The brand API: registrations, statuses and undo, lot recalls, markets, who may see what."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlmodel import select

from verifier.db.models import AuditEvent, CodeRecord

if TYPE_CHECKING:
    from tests.verifier.conftest import Env


def audit(env: Env) -> list[AuditEvent]:
    with env.session() as session:
        return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)).all())


def test_registration_counts_and_is_idempotent(env: Env) -> None:
    first = env.register(["A1", "A2", "A3"], intended_markets=["DE", "FR"])
    assert first.status_code == 200
    assert first.json() == {
        "batch_id": "B1", "registered": 3, "already_registered": 0, "rejected": [],
    }  # fmt: skip
    events = len(audit(env))
    again = env.register(["A1", "A2", "A3"], intended_markets=["DE", "FR"]).json()
    assert (again["registered"], again["already_registered"], again["rejected"]) == (0, 3, [])
    assert len(audit(env)) == events  # the second call changed nothing


def test_registration_rejects_bad_duplicate_and_conflicting_serials(env: Env) -> None:
    env.register(["A1"], lot="LOT1")
    answer = env.register(["A1", "A2", "A2", "bad serial", "Z" * 21], lot="LOT2").json()
    assert answer["registered"] == 1
    assert {(r["serial"], r["reason"]) for r in answer["rejected"]} == {
        ("A1", "REGISTERED_WITH_OTHER_DATA"),
        ("A2", "DUPLICATE_IN_REQUEST"),
        ("bad serial", "SERIAL_INVALID"),
        ("Z" * 21, "SERIAL_INVALID"),
    }


def test_registration_of_ten_thousand_serials_in_one_call(env: Env) -> None:
    serials = [f"N{i:06d}" for i in range(10_000)]
    assert env.register(serials).json()["registered"] == 10_000
    assert env.register(serials[:10]).json()["already_registered"] == 10
    assert env.register([*serials, "ONE-TOO-MANY"]).status_code == 422


@pytest.mark.parametrize(
    ("who", "gtin", "status"),
    [
        ("acme", "OTHER", 403),  # outside the brand's prefixes
        ("other", "ACME", 403),
        ("officer", "ACME", 403),
        ("admin", "ACME", 403),
        (None, "ACME", 401),
    ],
)
def test_who_may_register_what(env: Env, who: str | None, gtin: str, status: int) -> None:
    target = env.ACME_GTIN if gtin == "ACME" else env.OTHER_GTIN
    response = (
        env.register(["X1"], who=who, gtin=target)
        if who
        else env.client.post(
            "/v1/registrations",
            json={"batch_id": "B", "gtin": target, "key_id": "abcd", "serials": ["X1"]},
        )
    )
    assert response.status_code == status
    assert response.json()["status"] == status


MALFORMED_CHANGES: list[dict[str, object]] = [
    {"gtin": "09506000000421"},  # wrong check digit
    {"gtin": "9506000000428"},  # 13 digits
    {"expiry": "261332"},
    {"key_id": "abc"},
    {"batch_id": "B" * 65},
    {"intended_markets": ["de"]},
    {"serials": []},
    {"lot": "bad lot"},
]


def test_malformed_registrations_are_4xx(env: Env) -> None:
    for change in MALFORMED_CHANGES:
        fields = dict(change)
        serials = fields.pop("serials", ["A1"])
        response = env.register(serials, **fields)  # type: ignore[arg-type]
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
    with env.session() as session:
        assert session.exec(select(CodeRecord)).all() == []


def test_status_change_is_audited_with_before_and_after(env: Env) -> None:
    env.register(["S1"])
    response = env.client.post(
        f"/v1/codes/{env.ACME_GTIN}/S1/status",
        json={"status": "dispensed", "comment": "pharmacy 12"},
        headers=env.auth("acme"),
    )
    assert response.json()["status"] == "sold"
    event = audit(env)[-1]
    assert (event.action, event.before, event.after, event.comment) == (
        "code.status", "active", "sold", "pharmacy 12",
    )  # fmt: skip
    code = env.client.get(f"/v1/codes/{env.ACME_GTIN}/S1", headers=env.auth("acme")).json()
    assert code["status"] == "sold"
    assert code["changes"][0]["account"] == "acme"


def test_second_decommission_conflicts_and_same_status_is_a_no_op(env: Env) -> None:
    env.register(["S1"])
    env.set_status("S1", "sold")
    assert env.set_status("S1", "sold").json()["changed"] is False
    conflict = env.set_status("S1", "destroyed")
    assert conflict.status_code == 409
    assert "undo" in conflict.json()["detail"]


def test_undo_within_ten_days_by_the_same_account(env: Env) -> None:
    env.register(["U1"])
    env.set_status("U1", "stolen")
    env.clock.advance(days=9, hours=23)
    undo = env.client.post(f"/v1/codes/{env.ACME_GTIN}/U1/status/undo", headers=env.auth("acme"))
    assert undo.status_code == 200
    assert (undo.json()["status"], undo.json()["previous"]) == ("active", "stolen")
    assert env.verify(env.sign("U1")).json()["verdict"] == "authentic"
    assert audit(env)[-1].action == "code.status.undo"
    nothing = env.client.post(f"/v1/codes/{env.ACME_GTIN}/U1/status/undo", headers=env.auth("acme"))
    assert nothing.status_code == 409


def test_undo_by_another_account_of_the_same_brand_is_refused(env: Env) -> None:
    env.register(["U1"])
    env.set_status("U1", "sold")
    response = env.client.post(
        f"/v1/codes/{env.ACME_GTIN}/U1/status/undo", headers=env.auth("acme-clerk")
    )
    assert response.status_code == 403
    assert "account that made" in response.json()["detail"]


def test_undo_after_ten_days_is_refused(env: Env) -> None:
    env.register(["U1"])
    env.set_status("U1", "sold")
    env.clock.advance(days=10, seconds=1)
    response = env.client.post(
        f"/v1/codes/{env.ACME_GTIN}/U1/status/undo", headers=env.auth("acme")
    )
    assert response.status_code == 409
    assert "10 days" in response.json()["detail"]
    with env.session() as session:
        row = session.exec(select(CodeRecord).where(CodeRecord.serial == "U1")).one()
    assert row.status == "sold"


def test_lot_recall_and_its_undo(env: Env) -> None:
    env.register(["L1"], lot="LOT9")
    url = f"/v1/lots/{env.ACME_GTIN}/LOT9/status"
    assert env.client.post(url, json={"status": "recalled"}, headers=env.auth("acme")).json()[
        "changed"
    ]
    code = env.client.get(f"/v1/codes/{env.ACME_GTIN}/L1", headers=env.auth("officer")).json()
    assert (code["lot_status"], code["effective_status"]) == ("recalled", "recalled")
    assert env.client.post(url + "/undo", headers=env.auth("other")).status_code == 404
    assert env.client.post(url + "/undo", headers=env.auth("acme")).json()["status"] == "active"
    assert env.verify(env.sign("L1", lot="LOT9")).json()["verdict"] == "authentic"


def test_markets_per_gtin_and_per_batch(env: Env) -> None:
    env.register(["M1"], batch_id="BATCH-A")
    put = env.client.put(
        f"/v1/markets/{env.ACME_GTIN}", json={"markets": ["FR", "DE"]}, headers=env.auth("acme")
    )
    assert put.json() == {"gtin": env.ACME_GTIN, "batch_id": None, "markets": ["DE", "FR"]}
    env.client.put(
        f"/v1/markets/{env.ACME_GTIN}",
        json={"markets": ["IT"], "batch_id": "BATCH-A"},
        headers=env.auth("acme"),
    )
    code = env.client.get(f"/v1/codes/{env.ACME_GTIN}/M1", headers=env.auth("acme")).json()
    assert code["intended_markets"] == ["IT"]
    denied = env.client.put(
        f"/v1/markets/{env.ACME_GTIN}", json={"markets": ["IT"]}, headers=env.auth("other")
    )
    assert denied.status_code == 404


@pytest.mark.parametrize(
    ("who", "status"),
    [("acme", 200), ("officer", 200), ("admin", 200), ("other", 404), (None, 401)],
)
def test_who_may_read_a_code(env: Env, who: str | None, status: int) -> None:
    env.register(["R1"])
    response = env.client.get(f"/v1/codes/{env.ACME_GTIN}/R1", headers=env.auth(who))
    assert response.status_code == status


@pytest.mark.parametrize(("who", "status"), [("other", 404), ("officer", 403), (None, 401)])
def test_who_may_not_change_a_status(env: Env, who: str | None, status: int) -> None:
    env.register(["W1"])
    assert env.set_status("W1", "sold", who=who).status_code == status  # type: ignore[arg-type]
    assert (
        env.client.post(
            f"/v1/lots/{env.ACME_GTIN}/LOT1/status",
            json={"status": "recalled"},
            headers=env.auth(who),
        ).status_code
        == status
    )


def test_admin_may_change_any_status_and_unknown_codes_are_404(env: Env) -> None:
    env.register(["W1"])
    assert env.set_status("W1", "locked", who="admin").status_code == 200
    assert env.set_status("NOPE", "sold").status_code == 404


def test_alerts_are_listed_for_their_brand(env: Env) -> None:
    env.verify(env.sign("LEAK1"), country="NL")
    [alert] = env.client.get("/v1/alerts", headers=env.auth("acme")).json()
    assert (alert["kind"], alert["serial"], alert["detail"]["country"]) == (
        "CODE_NOT_REGISTERED", "LEAK1", "NL",
    )  # fmt: skip
    assert alert["detail"]["key_id"] == env.world.acme_cert.key_id
    assert env.client.get("/v1/alerts", headers=env.auth("other")).json() == []
    assert len(env.client.get("/v1/alerts", headers=env.auth("officer")).json()) == 1
    assert env.client.get("/v1/alerts").status_code == 401
