"""The EPCIS event store: capture (all or nothing), query, export, and what the verifier asks.

Every function takes the session and the time from its caller. A brand sees
and writes only its own events (``brand_id``); officers and admins pass
``brand_id=None`` to read all.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from authn.errors import Conflict, InvalidInput
from detection.model import Finding
from epcis.aggregation import (
    UnitState,
    contents,
    events_affecting,
    unit_state,
)
from epcis.documents import epcis_document, gtins_named, query_document
from epcis.findings import MAX_TRACE_EVENTS, RouteQuestion, findings_for_scans
from epcis.hashing import context_namespaces
from epcis.identifiers import identify_code
from epcis.model import TraceEvent
from epcis.tables import EpcisEvent, EpcisEventEpc, EpcisLocation
from epcis.validation import EventError, read_document, read_event
from epcis.vocabulary import bare_term

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_EXPORT = 10_000
_CHUNK = 500


class CaptureRejected(InvalidInput):
    """A document with at least one bad event; nothing of it was stored."""

    def __init__(self, errors: Sequence[EventError]) -> None:
        noun = "event is" if len(errors) == 1 else "events are"
        super().__init__(f"{len(errors)} {noun} not valid; nothing was stored")
        self.errors = list(errors)


class CaptureConflict(Conflict):
    """A document with events already captured; nothing of it was stored."""

    def __init__(self, errors: Sequence[EventError]) -> None:
        noun = "event was" if len(errors) == 1 else "events were"
        super().__init__(f"{len(errors)} {noun} captured before; nothing was stored")
        self.errors = list(errors)


@dataclass(frozen=True)
class CaptureResult:
    capture_id: str
    event_hashes: list[str]


@dataclass(frozen=True)
class EventQuery:
    """Filters of an event query; ``brand_id`` None means every brand (officers, admins)."""

    brand_id: str | None
    code: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    biz_step: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    containers: bool = False
    # Steps left out; the verify path skips commissioning, which can only be
    # the code's start and weighs as much as its whole batch to read.
    exclude_biz_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]
    namespaces: dict[str, str]
    next_cursor: str | None


# -- capture ------------------------------------------------------------------------------


def existing_hashes(session: Session, hashes: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(hashes), _CHUNK):
        chunk = list(hashes[i : i + _CHUNK])
        found.update(
            session.exec(select(EpcisEvent.event_hash).where(col(EpcisEvent.event_hash).in_(chunk)))
        )
    return found


def upsert_locations(
    session: Session, brand_id: str, locations: Mapping[str, str], now: dt.datetime
) -> None:
    for location, country in locations.items():
        row = session.exec(
            select(EpcisLocation).where(
                EpcisLocation.brand_id == brand_id, EpcisLocation.location == location
            )
        ).first()
        if row is None:
            row = EpcisLocation(
                brand_id=brand_id, location=location, country=country, updated_at=now
            )
        row.country, row.updated_at = country, now
        session.add(row)


def store_events(
    session: Session,
    events: Sequence[TraceEvent],
    *,
    brand_id: str,
    namespaces: Mapping[str, str],
    account_id: int | None,
    now: dt.datetime,
    capture_id: str | None = None,
) -> str:
    """Add the rows of ``events`` (checked, not yet stored) to the session; no commit."""
    capture_id = capture_id or str(uuid.uuid4())
    for event in events:
        row = EpcisEvent(
            event_hash=event.event_hash,
            brand_id=brand_id,
            event_type=event.type,
            event_time=event.event_time,
            record_time=now,
            action=event.action,
            biz_step=event.biz_step,
            disposition=event.disposition,
            read_point=event.read_point,
            biz_location=event.biz_location,
            capture_id=capture_id,
            captured_by=account_id,
            namespaces=json.dumps(dict(namespaces), sort_keys=True),
            document=json.dumps(event.document, separators=(",", ":")),
            event_id=event.event_id or event.event_hash,
            declared_at=event.declared_at,
            error_reason=event.error_reason,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        for key, role in event.mentions():
            session.add(EpcisEventEpc(event_id=row.id, epc=key, role=role))
    return capture_id


def capture(
    session: Session,
    document: object,
    *,
    brand_id: str,
    prefixes: Sequence[str] | None,
    account_id: int | None,
    now: dt.datetime,
    capture_id: str | None = None,
    commit: bool = True,
) -> CaptureResult:
    """Store every event of ``document`` for ``brand_id`` in one transaction, or none.

    ``commit=False`` leaves the transaction open (flushed), for a caller that commits
    more with it (a capture job records its outcome in the same transaction).

    Raises :class:`CaptureRejected` (per-event errors), :class:`CaptureConflict`
    (events captured before, by hash) or InvalidInput (the document itself).
    """
    read = read_document(document, prefixes=prefixes)
    if read.errors:
        raise CaptureRejected(read.errors)
    hashes = [e.event_hash for e in read.events]
    existing = existing_hashes(session, hashes)
    if existing:
        raise CaptureConflict(
            [
                EventError(i, f"already captured as {h}")
                for i, h in enumerate(hashes)
                if h in existing
            ]
        )
    assert isinstance(document, Mapping)
    namespaces = context_namespaces(document["@context"])
    try:
        capture_id = store_events(
            session,
            read.events,
            brand_id=brand_id,
            namespaces=namespaces,
            account_id=account_id,
            now=now,
            capture_id=capture_id,
        )
        upsert_locations(session, brand_id, read.locations, now)
        if commit:
            session.commit()
        else:
            session.flush()
    except IntegrityError:
        # The same event arrived concurrently through another request.
        session.rollback()
        raise CaptureConflict(
            [EventError(0, "captured concurrently; retry to see which")]
        ) from None
    return CaptureResult(capture_id, hashes)


def record_own_events(
    session: Session,
    events: Sequence[Mapping[str, Any]],
    *,
    brand_id: str,
    now: dt.datetime,
    account_id: int | None = None,
) -> list[str]:
    """Store events sealtrace emits itself; one already stored is skipped (idempotent).

    Returns the hashes of the events stored now.
    """
    document = epcis_document(events, created=now)
    read = read_document(document)
    if read.errors:
        raise InvalidInput("; ".join(f"event {e.index}: {e.message}" for e in read.errors))
    existing = existing_hashes(session, [e.event_hash for e in read.events])
    new = [e for e in read.events if e.event_hash not in existing]
    if new:
        store_events(session, new, brand_id=brand_id, namespaces={}, account_id=account_id, now=now)
        session.commit()
    return [e.event_hash for e in new]


# -- reading ------------------------------------------------------------------------------


def _trace(row: EpcisEvent) -> TraceEvent:
    namespaces = json.loads(row.namespaces)
    event = read_event(json.loads(row.document), namespaces=namespaces, known_hash=row.event_hash)
    assert row.id is not None
    return replace(event, sequence=row.id)


def exported_event(row: EpcisEvent) -> dict[str, Any]:
    """The event as captured, with the repository's recordTime and an eventID (its hash)."""
    event: dict[str, Any] = json.loads(row.document)
    event.setdefault("eventID", row.event_hash)
    event["recordTime"] = row.record_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event


def _encode_cursor(row: EpcisEvent) -> str:
    raw = json.dumps([row.event_time.isoformat(), row.id]).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, row_id = json.loads(raw)
        parsed = dt.datetime.fromisoformat(moment)
        if parsed.tzinfo is None or not isinstance(row_id, int):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise InvalidInput("cursor is not one this service gave out") from None
    return parsed, row_id


def _filtered(query: EventQuery) -> Any:
    statement = select(EpcisEvent)
    if query.brand_id is not None:
        statement = statement.where(EpcisEvent.brand_id == query.brand_id)
    if query.start is not None:
        statement = statement.where(col(EpcisEvent.event_time) >= query.start)
    if query.end is not None:
        statement = statement.where(col(EpcisEvent.event_time) < query.end)
    if query.biz_step is not None:
        step = bare_term("bizStep", query.biz_step) or query.biz_step
        statement = statement.where(EpcisEvent.biz_step == step)
    if query.exclude_biz_steps:
        # NULL steps are kept: "x NOT IN (...)" alone would drop them in SQL.
        statement = statement.where(
            or_(
                col(EpcisEvent.biz_step).is_(None),
                col(EpcisEvent.biz_step).not_in(query.exclude_biz_steps),
            )
        )
    return statement


def _rows_naming(session: Session, keys: Iterable[str], query: EventQuery) -> list[EpcisEvent]:
    ids = select(EpcisEventEpc.event_id).where(col(EpcisEventEpc.epc).in_(list(keys)))
    statement = _filtered(query).where(col(EpcisEvent.id).in_(ids))
    statement = statement.order_by(col(EpcisEvent.event_time), col(EpcisEvent.id))
    return list(session.exec(statement.limit(MAX_TRACE_EVENTS)))


def _with_containers(session: Session, key: str, query: EventQuery) -> list[EpcisEvent]:
    """The code's own events and those of every case or pallet it was ever packed in."""
    return [row for row, _ in _traced_with_containers(session, key, query)]


def _traced_with_containers(
    session: Session, key: str, query: EventQuery
) -> list[tuple[EpcisEvent, TraceEvent]]:
    """:func:`_with_containers` with each row's parsed event, oldest first."""
    keys = {key}
    rows: dict[int, EpcisEvent] = {}
    traces: dict[int, TraceEvent] = {}  # each stored event is parsed once: they can be large
    frontier = {key}
    for _ in range(8):  # unit -> case -> pallet -> ...; bounded like the aggregation depth
        found = [r for r in _rows_naming(session, frontier, query) if r.id is not None]
        for row in found:
            assert row.id is not None
            rows[row.id] = row
            if row.id not in traces:
                traces[row.id] = _trace(row)
        parents = {
            t.parent
            for t in (traces[r.id] for r in found if r.id is not None)
            if t.parent and set(t.children) & keys
        }
        frontier = parents - keys
        if not frontier:
            break
        keys |= frontier
    relevant = {e.event_hash for e in events_affecting(list(traces.values()), key)}
    return sorted(
        ((r, traces[i]) for i, r in rows.items() if r.event_hash in relevant),
        key=lambda pair: (pair[0].event_time, pair[0].id or 0),
    )


def query_events(session: Session, query: EventQuery, *, max_limit: int = MAX_LIMIT) -> EventPage:
    """One page of events, oldest first; ``next_cursor`` continues where the page ended."""
    if not 1 <= query.limit <= max_limit:
        raise InvalidInput(f"limit must be between 1 and {max_limit}")
    after = _decode_cursor(query.cursor) if query.cursor else None
    if query.code is not None:
        key = identify_code(query.code).key
        rows = _with_containers(session, key, query) if query.containers else None
        if rows is not None:
            if after is not None:
                rows = [r for r in rows if (r.event_time, r.id or 0) > after]
            page = rows[: query.limit + 1]
        else:
            page = _page(session, _filtered(query).where(_names(key)), after, query.limit)
    else:
        page = _page(session, _filtered(query), after, query.limit)
    more = len(page) > query.limit
    page = page[: query.limit]
    namespaces: dict[str, str] = {}
    for row in page:
        namespaces.update(json.loads(row.namespaces))
    return EventPage(
        events=[exported_event(r) for r in page],
        namespaces=namespaces,
        next_cursor=_encode_cursor(page[-1]) if more and page else None,
    )


def _names(key: str) -> Any:
    ids = select(EpcisEventEpc.event_id).where(EpcisEventEpc.epc == key)
    return col(EpcisEvent.id).in_(ids)


def _page(
    session: Session, statement: Any, after: tuple[dt.datetime, int] | None, limit: int
) -> list[EpcisEvent]:
    if after is not None:
        moment, row_id = after
        statement = statement.where(
            or_(
                col(EpcisEvent.event_time) > moment,
                and_(col(EpcisEvent.event_time) == moment, col(EpcisEvent.id) > row_id),
            )
        )
    statement = statement.order_by(col(EpcisEvent.event_time), col(EpcisEvent.id))
    return list(session.exec(statement.limit(limit + 1)))


def locations_of(session: Session, brand_id: str | None) -> dict[str, str]:
    statement = select(EpcisLocation)
    if brand_id is not None:
        statement = statement.where(EpcisLocation.brand_id == brand_id)
    return {row.location: row.country for row in session.exec(statement)}


ProductLookup = Callable[[frozenset[str]], Mapping[str, Sequence[tuple[str, str]]]]


def export_document(
    session: Session,
    query: EventQuery,
    *,
    now: dt.datetime,
    as_query_document: bool = False,
    products: ProductLookup | None = None,
) -> tuple[dict[str, Any], str | None]:
    """An EPCIS 2.0 document of the matching events (at most ``MAX_EXPORT``) and the cursor.

    ``products`` answers the master data (:func:`epcis.documents.product_attributes`) of the
    GTINs the page's events name; the caller decides whose products it may show. A query
    document has no header in EPCIS 2.0 JSON, so it carries no master data.
    """
    page = query_events(session, query, max_limit=MAX_EXPORT)
    if as_query_document:
        return query_document(
            page.events, created=now, namespaces=page.namespaces
        ), page.next_cursor
    locations = locations_of(session, query.brand_id)
    named = {e.get("bizLocation", {}).get("id") for e in page.events} | {
        e.get("readPoint", {}).get("id") for e in page.events
    }
    used = {}
    for raw in named:
        if isinstance(raw, str):
            key = identify_code(raw).key
            if key in locations:
                used[raw] = locations[key]
    classes = products(gtins_named(page.events)) if products is not None else None
    document = epcis_document(
        page.events, created=now, namespaces=page.namespaces, locations=used, products=classes
    )
    return document, page.next_cursor


# -- what the verifier asks ----------------------------------------------------------------


def load_trace(session: Session, code: str, *, brand_id: str) -> list[TraceEvent]:
    """The brand's events that concern ``code`` and the containers it was ever packed in."""
    key = identify_code(code).key
    query = EventQuery(brand_id=brand_id)
    return [trace for _, trace in _traced_with_containers(session, key, query)]


def trace_state(session: Session, code: str, *, brand_id: str, now: dt.datetime) -> UnitState:
    """Parent, children and whereabouts of ``code`` from the brand's events up to ``now``."""
    key = identify_code(code).key
    events = load_trace(session, code, brand_id=brand_id)
    return unit_state(events, key, now=now, locations=locations_of(session, brand_id))


def case_contents(
    session: Session, code: str, *, brand_id: str, now: dt.datetime
) -> frozenset[str]:
    """The canonical keys of every unit packed (at any depth) in the case or pallet ``code``."""
    key = identify_code(code).key
    events = load_trace(session, code, brand_id=brand_id)
    return contents(events, key, now=now)


def findings_for_scan(
    session: Session,
    code: str,
    *,
    brand_id: str,
    scan_country: str | None,
    now: dt.datetime,
) -> list[Finding]:
    """Aggregation and route findings for a scan of ``code`` in ``scan_country``.

    A batch of one of :func:`epcis.findings.findings_for_scans`, which the verify path
    calls for a whole batch of scans at once.
    """
    if scan_country is None:
        return []
    key = identify_code(code).key
    question = RouteQuestion(key, brand_id=brand_id, scan_country=scan_country, now=now)
    return findings_for_scans(session, [question])[0]
