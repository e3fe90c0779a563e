"""Aggregation and route findings for a whole batch of scans, in a fixed number of statements.

The verifier asks, for every registered code scanned in a known country, where the
supply chain last put the unit (:func:`epcis.aggregation.aggregation_findings`). Asked
one scan at a time that is two queries per scan and per container level; here the
batch's codes are walked together, one level of containers at a time:

1. one statement per level (unit, case, pallet, ... at most ``MAX_DEPTH`` + 1) reads
   which events name any of the batch's keys of that level (ids, hashes and times only);
2. one statement per level reads the documents of the events not already parsed in this
   process: a stored event never changes (capture is append-only), so its parsed form is
   kept in a bounded cache and a hot case's events are parsed once, not once per scan;
3. one statement reads the countries of just the locations the relevant events name,
   not the brand's whole master data.

However many scans the batch holds, the number of statements depends only on how deep
the deepest container chain is. Commissioning events are left out: they can only be a
code's start, cannot bear on route or aggregation, and name a thousand units each.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, Table, or_, select
from sqlmodel import Session

from detection.model import Finding
from epcis.aggregation import MAX_DEPTH, aggregation_findings, events_affecting
from epcis.model import TraceEvent
from epcis.tables import EpcisEvent, EpcisEventEpc, EpcisLocation
from epcis.validation import read_event

__all__ = [
    "MAX_TRACE_EVENTS",
    "RouteQuestion",
    "findings_for_scans",
    "forget_parsed_events",
    "traced_events",
]

MAX_TRACE_EVENTS = 5_000  # events loaded to judge one code (its own and its containers')
SKIPPED_STEPS = ("commissioning",)
_CACHE_SIZE = 8_192  # parsed events kept per process (without their JSON)

_EVENT: Table = EpcisEvent.__table__  # type: ignore[attr-defined]
_EPC: Table = EpcisEventEpc.__table__  # type: ignore[attr-defined]
_LOCATION: Table = EpcisLocation.__table__  # type: ignore[attr-defined]

Owned = tuple[str, str]  # (brand_id, canonical key)


@dataclass(frozen=True)
class RouteQuestion:
    """One scan to judge: the code's canonical key (:func:`epcis.identifiers.unit_uri`, or
    :func:`epcis.identifiers.identify_code`'s ``key``), whose events count, where and when."""

    key: str
    brand_id: str
    scan_country: str
    now: dt.datetime


class _ParsedEvents:
    """Stored events parsed once per process, by row id (rows are never updated)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._events: OrderedDict[int, TraceEvent] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, row_id: int, event_hash: str) -> TraceEvent | None:
        with self._lock:
            event = self._events.get(row_id)
            if event is None or event.event_hash != event_hash:
                return None  # a database rebuilt under the same process: ids are reused
            self._events.move_to_end(row_id)
            return event

    def put(self, row_id: int, event: TraceEvent) -> None:
        with self._lock:
            self._events[row_id] = event
            self._events.move_to_end(row_id)
            while len(self._events) > self._size:
                self._events.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


_PARSED = _ParsedEvents(_CACHE_SIZE)


def forget_parsed_events() -> None:
    """Empty this process's cache of parsed events (tests that count statements)."""
    _PARSED.clear()


def _naming(owned: set[Owned], limit: int) -> Select[Any]:
    """Which events name any of ``owned`` (brand, key): one row per (event, key named),
    found through ``ix_epcis_epc_key`` from the keys."""
    keys = sorted({key for _, key in owned})
    step = _EVENT.c.biz_step
    return (
        select(_EPC.c.epc, _EVENT.c.id, _EVENT.c.event_hash, _EVENT.c.brand_id, _EVENT.c.event_time)
        .select_from(_EPC.join(_EVENT, _EVENT.c.id == _EPC.c.event_id))
        .where(
            _EPC.c.epc.in_(keys),
            # NULL steps are kept: "x NOT IN (...)" alone would drop them in SQL.
            or_(step.is_(None), step.not_in(SKIPPED_STEPS)),
        )
        # No brand and no ORDER BY here: with either, SQLite and PostgreSQL (before ANALYZE)
        # walk the brand's events by ix_epcis_event_brand_time and probe each for the keys,
        # every event the brand ever captured per statement; without, both start from the
        # keys' entries in ix_epcis_epc_key. The caller keeps only the rows of the brand that
        # asked (another brand's events naming an SSCC are read, never used). The limit only
        # bounds a pathological level; each code keeps its earliest MAX_TRACE_EVENTS of it.
        .limit(limit)
    )


def _parse(session: Session, wanted: dict[int, str]) -> dict[int, TraceEvent]:
    """The parsed events of row ids ``wanted`` (id -> hash): the cache, then one statement."""
    found: dict[int, TraceEvent] = {}
    missing = []
    for row_id, event_hash in wanted.items():
        event = _PARSED.get(row_id, event_hash)
        if event is None:
            missing.append(row_id)
        else:
            found[row_id] = event
    if missing:
        rows = session.execute(
            select(_EVENT.c.id, _EVENT.c.event_hash, _EVENT.c.namespaces, _EVENT.c.document).where(
                _EVENT.c.id.in_(sorted(missing))
            )
        )
        for row_id, event_hash, namespaces, document in rows:
            event = read_event(
                json.loads(document), namespaces=json.loads(namespaces), known_hash=event_hash
            )
            # The captured JSON is left out of what is kept: no rule reads it, and it is
            # most of an event's memory (a case's event names every unit in it).
            found[row_id] = replace(event, sequence=row_id, document={})
            _PARSED.put(row_id, found[row_id])
    return found


def traced_events(session: Session, codes: Sequence[Owned]) -> list[list[TraceEvent]]:
    """For each (brand, key): the brand's events that concern the key, oldest first.

    Those naming the key, and those of every case or pallet it was ever packed in (at
    most ``MAX_DEPTH`` levels up), filtered to the ones that affect it while it is in
    them; commissioning events left out.
    """
    keys_of = [{key} for _, key in codes]  # per code: its key and every container found
    frontier = [{key} for _, key in codes]
    ids_of: list[set[int]] = [set() for _ in codes]
    named_by: dict[Owned, set[int]] = {}  # every (brand, key) asked, and the events naming it
    parsed: dict[int, TraceEvent] = {}
    times: dict[int, tuple[dt.datetime, int]] = {}
    for _ in range(MAX_DEPTH + 1):  # unit -> case -> pallet -> ...
        asked = {
            (brand, k) for (brand, _), level in zip(codes, frontier, strict=True) for k in level
        }
        new = asked - named_by.keys()
        if not new:
            break
        for owned in new:
            named_by[owned] = set()
        hashes: dict[int, str] = {}
        limit = MAX_TRACE_EVENTS * len({i for i, level in enumerate(frontier) if level})
        for epc, row_id, event_hash, brand_id, event_time in session.execute(_naming(new, limit)):
            if (brand_id, epc) in named_by:
                named_by[(brand_id, epc)].add(row_id)
                hashes[row_id] = event_hash
                times[row_id] = (event_time, row_id)
        parsed.update(_parse(session, {i: h for i, h in hashes.items() if i not in parsed}))
        for index, (brand, _) in enumerate(codes):
            found: set[int] = set()
            for k in frontier[index]:
                found |= named_by.get((brand, k), set())
            found = set(sorted(found, key=times.__getitem__)[:MAX_TRACE_EVENTS])
            ids_of[index] |= found
            keys = keys_of[index]
            parents = {
                event.parent
                for event in (parsed[i] for i in found)
                if event.parent and set(event.children) & keys
            }
            frontier[index] = parents - keys
            keys |= frontier[index]
        if not any(frontier):
            break
    traced = []
    for (_, key), ids in zip(codes, ids_of, strict=True):
        events = [parsed[i] for i in ids]
        relevant = {e.event_hash for e in events_affecting(events, key)}
        traced.append(sorted((e for e in events if e.event_hash in relevant), key=_order))
    return traced


def _order(event: TraceEvent) -> tuple[dt.datetime, int]:
    return (event.event_time, event.sequence)


def _countries(
    session: Session, places: Iterable[Owned]
) -> dict[str, dict[str, str]]:  # brand -> location key -> country
    wanted = sorted(set(places))
    found: dict[str, dict[str, str]] = {}
    if not wanted:
        return found
    # Two plain IN lists rather than a row-value IN: simpler to plan on PostgreSQL, and a
    # batch names few brands; a brand's row for a place another brand asked is dropped.
    rows = session.execute(
        select(_LOCATION.c.brand_id, _LOCATION.c.location, _LOCATION.c.country).where(
            _LOCATION.c.brand_id.in_(sorted({brand for brand, _ in wanted})),
            _LOCATION.c.location.in_(sorted({place for _, place in wanted})),
        )
    )
    asked = set(wanted)
    for brand_id, location, country in rows:
        if (brand_id, location) in asked:
            found.setdefault(brand_id, {})[location] = country
    return found


def _places(event: TraceEvent) -> list[str]:
    named = [p.key for p in event.destinations]
    return [k for k in (event.biz_location, event.read_point, *named) if k is not None]


def findings_for_scans(session: Session, questions: Sequence[RouteQuestion]) -> list[list[Finding]]:
    """Aggregation and route findings for each question, in the questions' order."""
    if not questions:
        return []
    codes = [(q.brand_id, q.key) for q in questions]
    distinct = list(dict.fromkeys(codes))
    traced = dict(zip(distinct, traced_events(session, distinct), strict=True))
    countries = _countries(
        session,
        ((brand, place) for (brand, _), events in traced.items() for e in events
         for place in _places(e)),
    )  # fmt: skip
    return [
        aggregation_findings(
            traced[owned],
            owned[1],
            scan_country=question.scan_country,
            now=question.now,
            locations=countries.get(owned[0], {}),
        )
        for owned, question in zip(codes, questions, strict=True)
    ]
