"""Inspections, seizure reports, our own EPCIS events and late locations."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import col, select

from authn.errors import NotFound
from epcis.tables import EpcisEvent
from verifier import statuses
from verifier.db.models import Scan

if TYPE_CHECKING:
    from tests.verifier.conftest import Env

FRANKFURT = {"lat": 50.11, "lon": 8.68, "accuracy_m": 20}
SHANGHAI = {"lat": 31.23, "lon": 121.47, "accuracy_m": 20}


def suspect_scan(env: Env, serial: str) -> dict[str, Any]:
    """A unit scanned in Frankfurt and, an hour later, by an officer in Shanghai."""
    env.register([serial])
    earlier = (env.clock() - timedelta(hours=1)).isoformat()
    env.verify(env.sign(serial), device_id="phone-1", location=FRANKFURT, scanned_at=earlier)
    answer: dict[str, Any] = env.verify(
        env.sign(serial), "officer", location=SHANGHAI, country="CN", device_id="handheld-7"
    ).json()
    assert answer["verdict"] == "suspect"
    return answer


def inspect(env: Env, scan_id: str, who: str | None = "officer", **body: Any) -> Any:
    return env.client.post(f"/v1/scans/{scan_id}/inspection", json=body, headers=env.auth(who))


def test_seizure_is_recorded_and_reported_as_json_and_printable_html(env: Env) -> None:
    answer = suspect_scan(env, "SZ1")
    made = inspect(env, answer["scan_id"], outcome="seized", notes="24 packs, 2 cartons",
                   quantity=24)  # fmt: skip
    assert made.status_code == 201, made.text
    seizure = made.json()
    assert (seizure["outcome"], seizure["quantity"], seizure["officer"]) == (
        "seized",
        24,
        "officer",
    )
    report = env.client.get(seizure["seizure_url"], headers=env.auth("officer")).json()
    assert set(report) >= {
        "id", "seized_at", "quantity", "notes", "officer", "place", "product", "code", "brand",
        "verdict", "risk_score", "findings", "history", "scan_id",
    }  # fmt: skip
    assert report["place"]["country"] == "CN"
    assert report["brand"]["name"] == "Acme Pharma"
    assert report["brand"]["contact"]["email"] == "security@acme.example"
    assert report["officer"]["contact"] == "officer@example.org"
    assert "IMPOSSIBLE_TRAVEL" in [f["code"] for f in report["findings"]]
    assert len(report["history"]) == 2
    page = env.client.get(f"{seizure['seizure_url']}/report", headers=env.auth("officer"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    travel = next(f for f in report["findings"] if f["code"] == "IMPOSSIBLE_TRAVEL")
    for expected in ("IMPOSSIBLE_TRAVEL", "24 packs, 2 cartons", "security@acme.example",
                     "SZ1", env.ACME_GTIN, "@media print", "handheld-7"):  # fmt: skip
        assert expected in html
    assert travel["message"].split(" ")[0] in html
    assert not re.search(r"<script|<link|<img|src=|https?://", html)


def test_roles_on_inspections_and_seizures(env: Env) -> None:
    answer = suspect_scan(env, "SZ2")
    assert inspect(env, answer["scan_id"], "acme", outcome="seized").status_code == 403
    assert inspect(env, answer["scan_id"], None, outcome="seized").status_code == 401
    assert inspect(env, "no-such-scan", outcome="seized").status_code == 404
    assert inspect(env, answer["scan_id"], outcome="burned").status_code == 422
    seizure_url = inspect(env, answer["scan_id"], "admin", outcome="seized").json()["seizure_url"]
    assert env.client.get(seizure_url, headers=env.auth("acme")).status_code == 200
    assert env.client.get(seizure_url, headers=env.auth("other")).status_code == 404
    assert env.client.get(seizure_url).status_code == 401
    released = inspect(env, answer["scan_id"], outcome="released").json()
    assert released["seizure_url"] is None
    assert (
        env.client.get(f"/v1/seizures/{released['id']}", headers=env.auth("officer")).status_code
        == 404
    )


def events(env: Env) -> list[EpcisEvent]:
    with env.session() as session:
        return list(session.exec(select(EpcisEvent).order_by(col(EpcisEvent.id))).all())


def test_registration_status_and_inspection_emit_epcis_events(env: Env) -> None:
    env.register(["EV1", "EV2"])
    [commissioning] = events(env)
    assert (commissioning.biz_step, commissioning.action, commissioning.brand_id) == (
        "commissioning", "ADD", "acme",
    )  # fmt: skip
    assert "EV1" in commissioning.document
    assert "EV2" in commissioning.document
    env.register(["EV1", "EV2"])  # nothing new: no event
    assert len(events(env)) == 1
    env.clock.advance(minutes=1)
    env.set_status("EV1", "sold")
    sold = events(env)[-1]
    assert (sold.biz_step, sold.disposition) == ("retail_selling", "retail_sold")
    env.clock.advance(minutes=1)
    scan = env.verify(env.sign("EV2"), "officer", location=FRANKFURT, country="DE").json()
    inspect(env, scan["scan_id"], outcome="detained")
    inspecting = events(env)[-1]
    assert inspecting.biz_step == "inspecting"
    assert inspecting.read_point is not None
    assert inspecting.read_point.startswith("geo:50.1")
    trace = env.client.get(
        "/v1/epcis/events", params={"code": f"(01){env.ACME_GTIN}(21)EV2"},
        headers=env.auth("acme"),
    )  # fmt: skip
    assert trace.status_code == 200, trace.text
    listed = trace.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["bizStep"] for e in listed] == ["commissioning", "inspecting"]


def test_set_scan_location_once_for_the_same_device_within_the_window(env: Env) -> None:
    env.register(["LOC1"])
    scan_id = env.verify(env.sign("LOC1"), device_id="browser-1").json()["scan_id"]
    window = timedelta(minutes=10)
    now = env.clock() + timedelta(minutes=2)
    with env.session() as session:
        kwargs: dict[str, Any] = {"lat": 48.8566, "lon": 2.3522, "accuracy_m": 15.0,
                                  "window": window, "now": now}  # fmt: skip
        with pytest.raises(NotFound):
            statuses.set_scan_location(session, scan_id, device_id="browser-2", **kwargs)
        assert statuses.set_scan_location(session, scan_id, device_id="browser-1", **kwargs)
        assert not statuses.set_scan_location(session, scan_id, device_id="browser-1", **kwargs)
        late = {**kwargs, "now": env.clock() + timedelta(minutes=30)}
        with pytest.raises(NotFound):
            statuses.set_scan_location(session, scan_id, device_id="browser-1", **late)
        row = session.exec(select(Scan).where(Scan.scan_id == scan_id)).one()
    assert (row.lat, row.lon, row.accuracy_m) == (48.9, 2.4, 10_000.0)
