"""A code flagged as cloned stays flagged for every caller until it is resolved (#14)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import select

from detection.verdict import CONSUMER_SUSPECT
from verifier.db.models import AuditEvent, CodeRecord

if TYPE_CHECKING:
    from tests.verifier.conftest import Env

FRANKFURT = {"lat": 50.11, "lon": 8.68, "accuracy_m": 20}
SHANGHAI = {"lat": 31.23, "lon": 121.47, "accuracy_m": 20}


def at(env: Env, **delta: float) -> str:
    return (env.clock() + timedelta(**delta)).isoformat()


def codes(answer: dict[str, Any]) -> list[str]:
    return [r["code"] for r in answer["reasons"]]


def clone_seen_by_two_officers(env: Env, serial: str) -> dict[str, Any]:
    env.register([serial])
    first = env.verify(
        env.sign(serial), "officer", location=FRANKFURT, country="DE", scanned_at=at(env, hours=-2)
    ).json()
    assert first["verdict"] == "authentic"
    second = env.verify(env.sign(serial), "officer", location=SHANGHAI, country="CN").json()
    assert second["verdict"] == "suspect"
    return second


def resolve(env: Env, serial: str, who: str, comment: str = "checked: parallel import") -> Any:
    return env.client.post(
        f"/v1/codes/{env.ACME_GTIN}/{serial}/flag/resolve",
        json={"comment": comment},
        headers=env.auth(who),
    )


def test_two_accountable_scans_flag_the_code_for_every_later_caller(env: Env) -> None:
    showing = clone_seen_by_two_officers(env, "F1")
    assert "IMPOSSIBLE_TRAVEL" in showing["flagged"]["reasons"]
    assert showing["flagged"]["scan_id"] == showing["scan_id"]
    env.clock.advance(days=3)
    # A consumer without location, days later: nothing in this scan is suspicious.
    consumer = env.verify(env.sign("F1")).json()
    assert consumer["verdict"] == "suspect"
    assert consumer["reasons"] == [{"code": "CHECK_ADVISED", "message": CONSUMER_SUSPECT}]
    assert "flagged" not in consumer  # anonymous callers are not told which check
    # An officer's look-up that records nothing says so too, with when and why.
    look = env.verify(env.sign("F1"), "officer", record=False).json()
    assert look["verdict"] == "suspect"
    assert "CODE_FLAGGED" in codes(look)
    assert look["flagged"]["scan_id"] == showing["scan_id"]
    assert look["flagged"]["since"] is not None
    brand = env.verify(env.sign("F1"), "acme").json()
    assert brand["verdict"] == "suspect"
    assert brand["flagged"]["reasons"] == showing["flagged"]["reasons"]
    other = env.verify(env.sign("F1"), "other").json()
    assert other["verdict"] == "suspect"
    assert "flagged" not in other


def test_anonymous_scans_alone_never_flag_a_code(env: Env) -> None:
    env.register(["A1"])
    env.verify(env.sign("A1"), location=FRANKFURT, country="DE", scanned_at=at(env, hours=-2))
    for _ in range(5):
        claim = env.verify(env.sign("A1"), location=SHANGHAI, country="CN").json()
        assert claim["verdict"] == "suspect"  # this scan's own verdict, as before
    with env.session() as session:
        record = session.exec(select(CodeRecord).where(CodeRecord.serial == "A1")).one()
        assert record.flagged_at is None
    env.clock.advance(days=2)
    assert env.verify(env.sign("A1")).json()["verdict"] == "authentic"


def test_one_officer_against_anonymous_claims_does_not_flag(env: Env) -> None:
    env.register(["A2"])
    env.verify(env.sign("A2"), location=SHANGHAI, country="CN", scanned_at=at(env, hours=-1))
    officer = env.verify(env.sign("A2"), "officer", location=FRANKFURT, country="DE").json()
    assert officer["verdict"] == "suspect"
    assert "flagged" not in officer
    env.clock.advance(days=2)
    assert env.verify(env.sign("A2")).json()["verdict"] == "authentic"


def test_resolution_unflags_is_audited_and_new_evidence_flags_again(env: Env) -> None:
    clone_seen_by_two_officers(env, "F2")
    assert resolve(env, "F2", "other").status_code == 404  # another brand's code
    assert resolve(env, "F2", None).status_code == 401
    done = resolve(env, "F2", "acme")
    assert done.status_code == 200, done.text
    assert resolve(env, "F2", "acme").status_code == 409  # nothing left to resolve
    with env.session() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "code.flag_resolved")
        ).one()
        assert event.serial == "F2"
        assert event.comment == "checked: parallel import"
        assert "IMPOSSIBLE_TRAVEL" in (event.before or "")
    env.clock.advance(days=3)
    assert env.verify(env.sign("F2")).json()["verdict"] == "authentic"
    officer = env.verify(env.sign("F2"), "officer", record=False).json()
    assert "flagged" not in officer
    # New critical evidence from accountable scans flags it again.
    env.verify(env.sign("F2"), "officer", location=FRANKFURT, country="DE")
    again = env.verify(env.sign("F2"), "officer", location=SHANGHAI, country="CN").json()
    assert again["flagged"]["scan_id"] == again["scan_id"]
    env.clock.advance(days=1)
    assert env.verify(env.sign("F2")).json()["verdict"] == "suspect"


def test_an_officer_may_resolve_a_flag(env: Env) -> None:
    clone_seen_by_two_officers(env, "F3")
    assert resolve(env, "F3", "officer", "seized and destroyed the copy").status_code == 200
