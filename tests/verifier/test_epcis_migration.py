"""Migration 0008_epcis_query on a database that holds events: rows written as the
store wrote them at 0007 (documents as captured, CBV 1.x URNs and all; every quantity
class under the role ``class``; no eventID, error declaration or reason columns) are
upgraded to head and then answer the EPCIS 2.0 query like freshly captured ones."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from epcis.identifiers import unit_uri
from epcis.query import parse_query
from epcis.search import search
from epcis.tables import EpcisEvent, EpcisEventEpc
from tests.verifier.conftest import ACME_GTIN, ACME_GTIN_2
from verifier.db.engine import make_engine
from verifier.db.migrate import upgrade

UNIT = unit_uri(ACME_GTIN, "M1")
UNIT_2 = unit_uri(ACME_GTIN, "M2")
LOT = f"https://id.gs1.org/01/{ACME_GTIN}/10/LM"
LOT_IN = f"https://id.gs1.org/01/{ACME_GTIN}/10/LI"
LOT_OUT = f"https://id.gs1.org/01/{ACME_GTIN_2}/10/LO"
DECLARED = dt.datetime(2026, 2, 5, 8, 0, tzinfo=dt.UTC)
RECORDED = dt.datetime(2026, 2, 6, 9, 0, tzinfo=dt.UTC)


def _hash(n: int) -> str:
    return f"ni:///sha-256;{n:064x}?ver=CBV2.0"


# (hash, event as captured, [(key, role) as the 0007 store indexed it])
OLD_ROWS: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    (
        _hash(1),
        {
            "type": "ObjectEvent",
            "eventID": "urn:uuid:6f2a7c3e-0000-4000-8000-000000000001",
            "eventTime": "2026-02-01T08:00:00.000Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": [UNIT],
            "action": "OBSERVE",
            "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
            "disposition": "urn:epcglobal:cbv:disp:in_transit",
            "errorDeclaration": {
                "declarationTime": "2026-02-05T10:00:00.000+02:00",
                "reason": "urn:epcglobal:cbv:er:incorrect_data",
            },
        },
        [(UNIT, "epc")],
    ),
    (
        _hash(2),  # no eventID: the hash stands in for it
        {
            "type": "ObjectEvent",
            "eventTime": "2026-02-02T08:00:00.000Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": [UNIT_2],
            "quantityList": [{"epcClass": LOT, "quantity": 3}],
            "action": "OBSERVE",
            "bizStep": "receiving",
        },
        [(UNIT_2, "epc"), (LOT, "class")],
    ),
    (
        _hash(3),
        {
            "type": "TransformationEvent",
            "eventID": "urn:uuid:6f2a7c3e-0000-4000-8000-000000000003",
            "eventTime": "2026-02-03T08:00:00.000Z",
            "eventTimeZoneOffset": "+00:00",
            "inputEPCList": [UNIT],
            "inputQuantityList": [{"epcClass": LOT_IN, "quantity": 1}],
            "outputQuantityList": [{"epcClass": LOT_OUT, "quantity": 1}],
        },
        [(UNIT, "input"), (LOT_IN, "class"), (LOT_OUT, "class")],
    ),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet (the test migrates it step by step)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    admin_dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    name = f"sealtrace_mig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _insert_old_rows(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for n, (event_hash, event, mentions) in enumerate(OLD_ROWS, start=1):
                connection.execute(
                    text(
                        "INSERT INTO epcis_event (id, event_hash, brand_id, event_type, "
                        "event_time, record_time, action, biz_step, disposition, capture_id, "
                        "namespaces, document) VALUES (:id, :hash, 'acme', :type, :time, "
                        ":recorded, :action, :step, :disp, :capture, '{}', :document)"
                    ),
                    {
                        "id": n,
                        "hash": event_hash,
                        "type": event["type"],
                        "time": dt.datetime.fromisoformat(event["eventTime"]),
                        "recorded": RECORDED,
                        "action": event.get("action"),
                        # The 0007 store kept the bare term in the column, the URN in the JSON.
                        "step": event.get("bizStep", "").rsplit(":", 1)[-1] or None,
                        "disp": event.get("disposition", "").rsplit(":", 1)[-1] or None,
                        "capture": str(uuid.UUID(int=n)),
                        "document": json.dumps(event),
                    },
                )
                for key, role in mentions:
                    connection.execute(
                        text(
                            "INSERT INTO epcis_event_epc (event_id, epc, role) "
                            "VALUES (:id, :epc, :role)"
                        ),
                        {"id": n, "epc": key, "role": role},
                    )
    finally:
        engine.dispose()


def _found(session: Session, **params: str) -> list[str]:
    page = search(session, parse_query(list(params.items())), brand_id="acme")
    return [e["eventID"] for e in page.events]


def test_0008_backfills_events_stored_before_it(empty_url: str) -> None:
    upgrade(empty_url, "0007_token_expiry")
    _insert_old_rows(empty_url)
    upgrade(empty_url)

    engine = make_engine(empty_url)
    try:
        with Session(engine) as session:
            rows = {r.id: r for r in session.exec(select(EpcisEvent))}
            roles = sorted((r.event_id, r.epc, r.role) for r in session.exec(select(EpcisEventEpc)))
        declared, first, second, third = (
            rows[1].declared_at,
            json.loads(rows[1].document),
            json.loads(rows[2].document),
            json.loads(rows[3].document),
        )
        # event_id: the partner's eventID, else the hash.
        assert [rows[n].event_id for n in (1, 2, 3)] == [
            OLD_ROWS[0][1]["eventID"],
            _hash(2),
            OLD_ROWS[2][1]["eventID"],
        ]
        # declared_at in UTC (the document said +02:00) and the reason bare.
        assert declared == DECLARED
        assert rows[1].error_reason == "incorrect_data"
        assert rows[2].declared_at is None
        assert rows[2].error_reason is None
        # The documents' CBV 1.x URNs are written bare, as capture now stores them.
        assert first["bizStep"] == "shipping"
        assert first["disposition"] == "in_transit"
        assert first["errorDeclaration"]["reason"] == "incorrect_data"
        assert first["eventID"] == OLD_ROWS[0][1]["eventID"]
        assert second == OLD_ROWS[1][1]  # nothing to rewrite
        assert third["inputQuantityList"] == OLD_ROWS[2][1]["inputQuantityList"]
        # Transformation quantities are split into inputs and outputs; others keep 'class'.
        assert roles == sorted(
            [
                (1, UNIT, "epc"),
                (2, UNIT_2, "epc"),
                (2, LOT, "class"),
                (3, UNIT, "input"),
                (3, LOT_IN, "inclass"),
                (3, LOT_OUT, "outclass"),
            ]
        )

        # And the upgraded rows answer the queries that need the new columns and roles.
        first_id, third_id = OLD_ROWS[0][1]["eventID"], OLD_ROWS[2][1]["eventID"]
        with Session(engine) as session:
            assert _found(session, EQ_eventID=first_id) == [first_id]
            assert _found(session, EQ_eventID=_hash(2)) == [_hash(2)]
            assert _found(session, EXISTS_errorDeclaration="") == [first_id]
            assert _found(session, EQ_errorReason="incorrect_data") == [first_id]
            assert _found(session, GE_errorDeclarationTime="2026-02-05T08:00:00Z") == [first_id]
            assert _found(session, LT_errorDeclarationTime="2026-02-05T08:00:00Z") == []
            assert _found(session, EQ_bizStep="urn:epcglobal:cbv:bizstep:shipping") == [first_id]
            assert _found(session, MATCH_inputEPCClass=LOT_IN) == [third_id]
            assert _found(session, MATCH_outputEPCClass=LOT_IN) == []
            assert _found(session, MATCH_outputEPCClass=LOT_OUT) == [third_id]
            assert _found(session, MATCH_epcClass=LOT) == [_hash(2)]
    finally:
        engine.dispose()
