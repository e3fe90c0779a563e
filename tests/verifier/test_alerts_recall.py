"""A recalled lot is one alert with its unit count, and a recall is not "suspicious"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import col, select

from console import data, overview
from tests.verifier.test_alerts_signature import alerts_of
from verifier.db.models import Alert

if TYPE_CHECKING:
    from tests.verifier.conftest import Env


def recall(env: Env, lot: str) -> None:
    response = env.client.post(
        f"/v1/lots/{env.ACME_GTIN}/{lot}/status", json={"status": "recalled"},
        headers=env.auth("acme"),
    )  # fmt: skip
    assert response.status_code == 200, response.text


def test_a_recalled_lot_is_one_alert_with_its_unit_count(env: Env) -> None:
    serials = [f"RC{i}" for i in range(6)]
    assert env.register(serials, lot="L7").status_code == 200
    assert env.register(["KEEP1"], lot="L8", batch_id="B2").status_code == 200
    recall(env, "L7")
    for serial in serials:
        answer = env.verify(env.sign(serial, lot="L7"), country="DE").json()
        assert answer["status"] == "recalled"
    env.verify(env.sign("RC0", lot="L7"), country="AT")  # a unit scanned twice
    env.verify(env.sign("KEEP1", lot="L8"), country="DE")  # another lot: no recall
    recalls = [a for a in alerts_of(env, "acme") if a["reason"] == "LOT_RECALLED"]
    assert len(recalls) == 1, [(a["reason"], a["serial"]) for a in recalls]
    [alert] = recalls
    assert (alert["lot"], alert["gtin"], alert["count"], alert["units"]) == (
        "L7", env.ACME_GTIN, 7, 6,
    )  # fmt: skip
    assert [(p["country"], p["count"]) for p in alert["places"]] == [("DE", 6), ("AT", 1)]
    # The lot's recall is not the brand's most suspicious lot; a cloned unit's lot is.
    env.register(["CLONE1"], lot="L9", batch_id="B3")
    env.set_status("CLONE1", "destroyed")
    env.verify(env.sign("CLONE1", lot="L9"), "officer", country="FR")
    with env.session() as session:
        raised = list(session.exec(select(Alert).order_by(col(Alert.id))).all())
        lots = data.lots_of(session, sorted({(a.gtin, a.serial) for a in raised}))
    figures = overview.overview([], raised, lots, env.clock())
    assert figures.top_lots == [(env.ACME_GTIN, "L9", 1)]
    assert [(g, s) for g, s, _ in figures.top_codes] == [(env.ACME_GTIN, "CLONE1")]
