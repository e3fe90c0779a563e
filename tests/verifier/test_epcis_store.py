"""The event store on real databases: capture all or nothing, conflicts, queries, paging, export."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select

import verifier.db.models  # noqa: F401  (the account table the event table refers to)
from authn.errors import InvalidInput
from authn.gs1 import check_digit
from epcis.documents import commissioning_event, epcis_document, object_event
from epcis.store import (
    CaptureConflict,
    CaptureRejected,
    EventQuery,
    capture,
    export_document,
    query_events,
)
from epcis.tables import EpcisEvent, EpcisEventEpc
from epcis.validation import read_document
from verifier.db.engine import make_engine

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
ACME = ("9506000",)
GTIN = "09506000134352"
OTHER_GTIN = "0951234500001" + check_digit("0951234500001")
EXAMPLE_PREFIXES = ("0614141", "4012345", "9520001", "4000001")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def shipments(count: int, *, gtin: str = GTIN, start: dt.datetime = T0) -> dict[str, Any]:
    events = [
        object_event(
            [f"https://id.gs1.org/01/{gtin}/21/S{i:03d}"],
            at=start + dt.timedelta(hours=i),
            biz_step="shipping" if i % 2 else "receiving",
        )
        for i in range(count)
    ]
    return epcis_document(events, created=start)


def stored(session: Session) -> int:
    return session.exec(select(func.count()).select_from(EpcisEvent)).one()


def put(
    session: Session,
    document: dict[str, Any],
    brand: str = "acme",
    prefixes: tuple[str, ...] = ACME,
) -> list[str]:
    return capture(
        session, document, brand_id=brand, prefixes=prefixes, account_id=None, now=T0
    ).event_hashes


def test_capture_query_round_trip(engine: Engine) -> None:
    with Session(engine) as session:
        hashes = put(session, shipments(4))
        assert len(set(hashes)) == 4
        page = query_events(session, EventQuery(brand_id="acme", code=f"(01){GTIN}(21)S002"))
        assert [e["eventID"] for e in page.events] == [hashes[2]]
        assert page.events[0]["recordTime"] == "2026-03-01T08:00:00.000Z"
        by_urn = query_events(
            session, EventQuery(brand_id=None, code="urn:epc:id:sgtin:9506000.013435.S002")
        )
        assert by_urn.events == page.events
        shipping = query_events(session, EventQuery(brand_id="acme", biz_step="shipping"))
        assert [e["eventID"] for e in shipping.events] == [hashes[1], hashes[3]]
        window = query_events(
            session,
            EventQuery(
                brand_id="acme", start=T0 + dt.timedelta(hours=1), end=T0 + dt.timedelta(hours=3)
            ),
        )
        assert [e["eventID"] for e in window.events] == hashes[1:3]


def test_a_document_with_one_bad_event_stores_nothing(engine: Engine) -> None:
    document = shipments(5)
    document["epcisBody"]["eventList"][3]["epcList"] = [f"https://id.gs1.org/01/{OTHER_GTIN}/21/X"]
    document["epcisBody"]["eventList"][4]["eventTimeZoneOffset"] = "nowhere"
    with Session(engine) as session:
        with pytest.raises(CaptureRejected) as caught:
            put(session, document)
        assert [(e.index, "company prefixes" in e.message) for e in caught.value.errors] == [
            (3, True),
            (4, False),
        ]
        assert stored(session) == 0


def test_resubmitted_events_conflict_and_nothing_new_is_stored(engine: Engine) -> None:
    with Session(engine) as session:
        put(session, shipments(3))
        again = shipments(5)  # the first three are the same events
        with pytest.raises(CaptureConflict) as caught:
            put(session, again)
        assert [e.index for e in caught.value.errors] == [0, 1, 2]
        assert stored(session) == 3


def test_paging_walks_every_event_once(engine: Engine) -> None:
    with Session(engine) as session:
        hashes = put(session, shipments(25))
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = query_events(session, EventQuery(brand_id="acme", limit=10, cursor=cursor))
            seen += [e["eventID"] for e in page.events]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 3
        assert seen == hashes
        with pytest.raises(InvalidInput, match="cursor"):
            query_events(session, EventQuery(brand_id="acme", cursor="bm9wZQ"))


def test_a_brand_reads_only_its_own_events(engine: Engine) -> None:
    with Session(engine) as session:
        put(session, shipments(2))
        put(session, shipments(3, gtin=OTHER_GTIN), brand="other", prefixes=("9512345",))
        assert len(query_events(session, EventQuery(brand_id="acme")).events) == 2
        assert len(query_events(session, EventQuery(brand_id="other")).events) == 3
        assert len(query_events(session, EventQuery(brand_id=None)).events) == 5
        code = f"https://id.gs1.org/01/{GTIN}/21/S001"
        assert query_events(session, EventQuery(brand_id="other", code=code)).events == []


def test_export_validates_and_captures_again(
    engine: Engine, shared_dir: Path, tmp_path: Path
) -> None:
    schema = json.loads((shared_dir / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    factory = "urn:epc:id:sgln:9506000.00001.0"
    document = epcis_document(
        [commissioning_event(GTIN, ["A", "B"], at=T0, biz_location=factory)],
        created=T0,
        locations={factory: "DE"},
    )
    with Session(engine) as session:
        put(session, document)
        put(session, shipments(3))
        exported, cursor = export_document(session, EventQuery(brand_id="acme"), now=T0)
        answer, _ = export_document(
            session, EventQuery(brand_id="acme"), now=T0, as_query_document=True
        )
    assert cursor is None
    for doc in (exported, answer):
        assert [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)] == []
    assert read_document(exported).locations == read_document(document).locations
    fresh = fresh_engine(tmp_path / "again.db")
    with Session(fresh) as session:
        assert len(put(session, exported)) == 4
    fresh.dispose()


def fresh_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    return engine


def gs1_examples(shared: Path) -> list[Path]:
    return sorted(p for p in (shared / "epcis").glob("*.jsonld") if "context" not in p.name)


def test_the_nine_gs1_examples_are_captured(shared_dir: Path, tmp_path: Path) -> None:
    validator = Draft7Validator(
        json.loads((shared_dir / "epcis" / "EPCIS-JSON-Schema.json").read_text()),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    examples = gs1_examples(shared_dir)
    assert len(examples) == 9
    for i, path in enumerate(examples):
        engine = fresh_engine(tmp_path / f"example-{i}.db")
        with Session(engine) as session:
            document = json.loads(path.read_text())
            hashes = put(session, document, prefixes=EXAMPLE_PREFIXES)
            assert hashes, path.name
            exported, _ = export_document(session, EventQuery(brand_id="acme"), now=T0)
            assert [e.message for e in validator.iter_errors(exported)] == [], path.name
            assert session.exec(select(func.count()).select_from(EpcisEventEpc)).one() > 0
        engine.dispose()


def test_the_same_event_in_urn_and_in_another_document_is_one_event(
    shared_dir: Path, tmp_path: Path
) -> None:
    """GS1's query document repeats the two events of Example 9.6.1: the hash sees that."""
    engine = fresh_engine(tmp_path / "dupes.db")
    folder = shared_dir / "epcis"
    with Session(engine) as session:
        put(
            session,
            json.loads((folder / "Example_9.6.1-ObjectEvent.jsonld").read_text()),
            prefixes=EXAMPLE_PREFIXES,
        )
        with pytest.raises(CaptureConflict) as caught:
            put(
                session,
                json.loads((folder / "EPCISQueryDocument.jsonld").read_text()),
                prefixes=EXAMPLE_PREFIXES,
            )
        assert [e.index for e in caught.value.errors] == [0, 1]
    engine.dispose()
