"""A case of 24 units: pack, ship DE -> FR, receive, unpack; where each unit is and what is odd.

The same story twice: as plain values through the pure functions, and captured
into a real database (SQLite and PostgreSQL) through the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from epcis.aggregation import (
    ROUTE_IMPLAUSIBLE,
    UNIT_IN_SEALED_CASE_ELSEWHERE,
    aggregation_findings,
    contents,
    unit_state,
)
from epcis.documents import (
    aggregation_event,
    commissioning_event,
    epcis_document,
    object_event,
    status_event,
)
from epcis.identifiers import identify, unit_uri
from epcis.model import TraceEvent
from epcis.store import (
    EventQuery,
    capture,
    case_contents,
    findings_for_scan,
    query_events,
    record_own_events,
    trace_state,
)
from epcis.validation import read_document
from verifier.db.engine import make_engine

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
GTIN = "09506000134352"
SERIALS = [f"U{i:02d}" for i in range(24)]
UNITS = [unit_uri(GTIN, s) for s in SERIALS]
CASE = "urn:epc:id:sscc:9506000.0000000001"
CASE_KEY = identify(CASE).key
FACTORY = "urn:epc:id:sgln:9506000.00001.0"  # Germany
WAREHOUSE = "urn:epc:id:sgln:9506000.00002.0"  # France
LOCATIONS = {FACTORY: "DE", WAREHOUSE: "FR"}
KEYED_LOCATIONS = {identify(k).key: v for k, v in LOCATIONS.items()}
PACKED, SHIPPED, RECEIVED, UNPACKED = (T0 + dt.timedelta(days=d) for d in (1, 2, 4, 5))


def story() -> list[dict[str, Any]]:
    return [
        commissioning_event(GTIN, SERIALS, at=T0, biz_location=FACTORY),
        aggregation_event(CASE, UNITS, at=PACKED, biz_location=FACTORY),
        object_event(
            [CASE],
            at=SHIPPED,
            biz_step="shipping",
            disposition="in_transit",
            read_point=FACTORY,
            sources=[("location", FACTORY)],
            destinations=[("location", WAREHOUSE)],
        ),
        object_event(
            [CASE],
            at=RECEIVED,
            biz_step="receiving",
            disposition="in_progress",
            biz_location=WAREHOUSE,
        ),
        aggregation_event(CASE, UNITS, at=UNPACKED, action="DELETE", biz_location=WAREHOUSE),
    ]


def traced() -> list[TraceEvent]:
    read = read_document(epcis_document(story(), created=T0))
    assert read.errors == []
    return read.events


def findings(events: list[TraceEvent], unit: str, country: str, at: dt.datetime) -> list[str]:
    return [
        f.reason
        for f in aggregation_findings(
            events, unit, scan_country=country, now=at, locations=KEYED_LOCATIONS
        )
    ]


def test_the_case_holds_its_units_until_unpacked() -> None:
    events = traced()
    assert contents(events, CASE_KEY, now=PACKED) == frozenset(UNITS)
    assert contents(events, CASE_KEY, now=PACKED - dt.timedelta(seconds=1)) == frozenset()
    assert contents(events, CASE_KEY, now=UNPACKED) == frozenset()
    state = unit_state(events, UNITS[5], now=SHIPPED, locations=KEYED_LOCATIONS)
    assert state.parent == CASE_KEY
    assert state.parent_whereabouts is not None
    assert state.parent_whereabouts.in_transit
    assert state.parent_whereabouts.plausible_countries == {"DE", "FR"}
    after = unit_state(events, UNITS[5], now=UNPACKED, locations=KEYED_LOCATIONS)
    assert after.parent is None
    assert after.whereabouts is not None
    assert after.whereabouts.country == "FR"


def test_a_copy_scanned_abroad_while_its_case_is_in_transit_is_flagged() -> None:
    events = traced()
    in_transit = SHIPPED + dt.timedelta(hours=6)
    assert findings(events, UNITS[5], "IT", in_transit) == [UNIT_IN_SEALED_CASE_ELSEWHERE]
    assert findings(events, UNITS[5], "FR", in_transit) == []  # customs at the destination
    assert findings(events, UNITS[5], "DE", in_transit) == []
    at_rest = RECEIVED + dt.timedelta(hours=1)
    assert findings(events, UNITS[5], "DE", at_rest) == [UNIT_IN_SEALED_CASE_ELSEWHERE]
    assert findings(events, UNITS[5], "FR", at_rest) == []


def test_unpacking_releases_the_units_and_the_route_still_counts() -> None:
    events = traced()
    later = UNPACKED + dt.timedelta(days=1)
    assert findings(events, UNITS[5], "FR", later) == []
    assert findings(events, UNITS[5], "IT", later) == [ROUTE_IMPLAUSIBLE]
    sold = read_document(
        epcis_document([status_event(GTIN, SERIALS[5], "sold", at=later)], created=later)
    ).events
    assert findings(events + sold, UNITS[5], "IT", later + dt.timedelta(days=1)) == []


def test_no_country_no_finding_and_unknown_locations_stay_silent() -> None:
    events = traced()
    in_transit = SHIPPED + dt.timedelta(hours=6)
    assert (
        aggregation_findings(events, UNITS[0], scan_country=None, now=in_transit, locations={})
        == []
    )
    assert (
        aggregation_findings(events, UNITS[0], scan_country="IT", now=in_transit, locations={})
        == []
    )


def test_finding_sentence_names_case_route_and_country() -> None:
    (finding,) = aggregation_findings(
        traced(),
        UNITS[3],
        scan_country="IT",
        now=SHIPPED + dt.timedelta(hours=1),
        locations=KEYED_LOCATIONS,
    )
    assert finding.severity == "critical"
    assert CASE_KEY in finding.message
    assert "in transit from DE to FR" in finding.message
    assert "IT" in finding.message


# The same story through the store -------------------------------------------------------


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_stored_story_gives_history_state_and_findings(engine: Engine) -> None:
    document = epcis_document(story(), created=T0, locations=LOCATIONS)
    with Session(engine) as session:
        result = capture(
            session, document, brand_id="acme", prefixes=("9506000",), account_id=None, now=T0
        )
        assert len(result.event_hashes) == 5

        in_transit = SHIPPED + dt.timedelta(hours=6)
        assert case_contents(session, CASE, brand_id="acme", now=in_transit) == frozenset(UNITS)
        state = trace_state(session, UNITS[7], brand_id="acme", now=in_transit)
        assert state.parent == CASE_KEY
        reasons = findings_for_scan(
            session, UNITS[7], brand_id="acme", scan_country="IT", now=in_transit
        )
        assert [f.reason for f in reasons] == [UNIT_IN_SEALED_CASE_ELSEWHERE]
        # Another brand's events never judge acme's units.
        assert (
            findings_for_scan(
                session, UNITS[7], brand_id="other", scan_country="IT", now=in_transit
            )
            == []
        )

        # The unit is verified in France after unpacking: its history shows the path.
        after = UNPACKED + dt.timedelta(hours=2)
        assert (
            findings_for_scan(session, UNITS[7], brand_id="acme", scan_country="FR", now=after)
            == []
        )
        page = query_events(session, EventQuery(brand_id="acme", code=UNITS[7], containers=True))
        steps = [(e["type"], e.get("bizStep")) for e in page.events]
        assert steps == [
            ("ObjectEvent", "commissioning"),
            ("AggregationEvent", "packing"),
            ("ObjectEvent", "shipping"),
            ("ObjectEvent", "receiving"),
            ("AggregationEvent", "unpacking"),
        ]
        direct = query_events(session, EventQuery(brand_id="acme", code=UNITS[7]))
        assert [e.get("bizStep") for e in direct.events] == [
            "commissioning",
            "packing",
            "unpacking",
        ]

        # The verifier's own status change ends the route rules; recording it twice is a no-op.
        sold = status_event(GTIN, SERIALS[7], "sold", at=after)
        assert len(record_own_events(session, [sold], brand_id="acme", now=after)) == 1
        assert record_own_events(session, [sold], brand_id="acme", now=after) == []
        later = after + dt.timedelta(days=3)
        assert (
            findings_for_scan(session, UNITS[7], brand_id="acme", scan_country="IT", now=later)
            == []
        )
        assert [f.reason for f in findings_for_scan(
            session, UNITS[8], brand_id="acme", scan_country="IT", now=later
        )] == [ROUTE_IMPLAUSIBLE]  # fmt: skip
