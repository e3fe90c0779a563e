"""Where a unit is, from its events: packing, shipping, receiving, unpacking. Pure functions.

The state is replayed from events in event-time order:

- AggregationEvent ADD puts ``childEPCs`` into ``parentID`` (a unit moved to
  another case leaves the first); DELETE takes the listed children out (all of
  them when none is listed). OBSERVE changes nothing.
- Every event that names a thing, or a container the thing is in at that
  moment, tells where the thing is: shipping (bizStep ``shipping`` or
  disposition ``in_transit``) puts it in transit from the event's location to
  the destination (``destinationList`` entry of type ``location``, or any
  destination with a known country); any other event with a location puts it
  there. Retail selling, dispensing, destroying or decommissioning end its
  supply-chain life: from then on it may travel with its owner.
- A location's country comes from master data (``locations``: canonical
  location key -> ISO alpha-2); unknown locations give no country, and no
  country gives no finding.

Two findings come out of it for a scan in a known country:

- ``UNIT_IN_SEALED_CASE_ELSEWHERE``: the unit is packed in a case (or pallet)
  that has not been unpacked, and the case is in another country (at rest) or
  in transit between two others.
- ``ROUTE_IMPLAUSIBLE``: the unit (or a case it travelled in) was last shipped
  to country X, and it is scanned in neither X nor, while still in transit,
  the country it left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from detection.common import when
from detection.model import Finding
from detection.reasons import ROUTE_IMPLAUSIBLE, UNIT_IN_SEALED_CASE_ELSEWHERE
from epcis.model import TraceEvent
from epcis.vocabulary import END_OF_CHAIN_DISPOSITIONS, END_OF_CHAIN_STEPS

SEALED_CASE_WEIGHT = 0.8
ROUTE_WEIGHT = 0.5
MAX_DEPTH = 8  # unit in case in pallet in container ...; deeper chains are data errors


@dataclass(frozen=True)
class Whereabouts:
    """The last known place of one thing, as its events tell it."""

    at: dt.datetime
    event_hash: str
    biz_step: str | None
    location: str | None = None
    country: str | None = None
    in_transit: bool = False
    origin_country: str | None = None
    destination_country: str | None = None
    shipped: bool = False
    ended: bool = False

    @property
    def plausible_countries(self) -> frozenset[str]:
        """Where a scan of the thing makes sense now (empty: nothing known)."""
        if self.in_transit:
            found = {self.origin_country, self.destination_country}
        else:
            found = {self.country, self.destination_country if self.country is None else None}
        return frozenset(c for c in found if c is not None)


@dataclass(frozen=True)
class UnitState:
    """One code's aggregation state and whereabouts at a moment."""

    key: str
    parent: str | None
    ancestors: tuple[str, ...]
    children: frozenset[str]
    whereabouts: Whereabouts | None
    parent_whereabouts: Whereabouts | None


class _Replay:
    def __init__(self) -> None:
        self.parent_of: dict[str, str] = {}
        self.children_of: dict[str, set[str]] = {}

    def ancestors(self, key: str) -> list[str]:
        chain: list[str] = []
        current = self.parent_of.get(key)
        while current is not None and current not in chain and len(chain) < MAX_DEPTH:
            chain.append(current)
            current = self.parent_of.get(current)
        return chain

    def apply(self, event: TraceEvent) -> None:
        if event.type != "AggregationEvent" or event.parent is None:
            return
        parent = event.parent
        if event.action == "ADD":
            for child in event.children:
                if (
                    child == parent
                    or parent in self.ancestors(child)
                    or child in self.ancestors(parent)
                ):
                    continue  # a loop would make every later answer meaningless
                self._release(child)
                self.parent_of[child] = parent
                self.children_of.setdefault(parent, set()).add(child)
        elif event.action == "DELETE":
            for child in event.children or tuple(self.children_of.get(parent, ())):
                if self.parent_of.get(child) == parent:
                    self._release(child)

    def _release(self, child: str) -> None:
        old = self.parent_of.pop(child, None)
        if old is not None:
            self.children_of.get(old, set()).discard(child)


def _country(key: str | None, locations: Mapping[str, str]) -> str | None:
    return locations.get(key) if key is not None else None


def _destination_country(event: TraceEvent, locations: Mapping[str, str]) -> str | None:
    ranked = sorted(event.destinations, key=lambda p: p.type != "location")
    for party in ranked:
        country = locations.get(party.key)
        if country is not None:
            return country
    return None


def _moved(
    previous: Whereabouts | None, event: TraceEvent, locations: Mapping[str, str]
) -> Whereabouts:
    place = event.biz_location or event.read_point
    country = _country(event.biz_location, locations) or _country(event.read_point, locations)
    base = Whereabouts(at=event.event_time, event_hash=event.event_hash, biz_step=event.biz_step)
    shipped = previous.shipped if previous else False
    if event.biz_step in END_OF_CHAIN_STEPS or event.disposition in END_OF_CHAIN_DISPOSITIONS:
        return replace(base, location=place, country=country, shipped=shipped, ended=True)
    if event.biz_step == "shipping" or event.disposition == "in_transit":
        return replace(
            base,
            location=place,
            in_transit=True,
            origin_country=country,
            destination_country=_destination_country(event, locations),
            shipped=True,
        )
    if place is None:
        # No place named (an observation without location): the thing is where it was.
        return previous if previous is not None else base
    destination = previous.destination_country if previous and previous.in_transit else None
    if country is None and destination is not None:
        country = destination  # received at a place without master data: the destination
    return replace(
        base, location=place, country=country, destination_country=destination, shipped=shipped
    )


def _replayed(events: Iterable[TraceEvent], now: dt.datetime) -> list[TraceEvent]:
    return sorted((e for e in events if e.event_time <= now), key=lambda e: e.order_key)


def unit_state(
    events: Iterable[TraceEvent], key: str, *, now: dt.datetime, locations: Mapping[str, str]
) -> UnitState:
    """The state of ``key`` after every event up to ``now`` (later events are not yet true)."""
    ordered = _replayed(events, now)
    final = _Replay()
    for event in ordered:
        final.apply(event)
    ancestors = tuple(final.ancestors(key))
    # Follow the unit and every container it is in at the end, from their first event.
    tracked = {key, *ancestors}
    replay = _Replay()
    where: dict[str, Whereabouts] = {}
    for event in ordered:
        replay.apply(event)
        named = {k for k, _ in event.mentions()}
        for thing in tracked | set(replay.ancestors(key)):
            if thing in named or any(a in named for a in replay.ancestors(thing)):
                where[thing] = _moved(where.get(thing), event, locations)
    known = [where[a] for a in ancestors if a in where]
    return UnitState(
        key=key,
        parent=ancestors[0] if ancestors else None,
        ancestors=ancestors,
        children=frozenset(final.children_of.get(key, ())),
        whereabouts=where.get(key),
        parent_whereabouts=max(known, key=lambda w: w.at) if known else None,
    )


def events_affecting(events: Iterable[TraceEvent], key: str) -> list[TraceEvent]:
    """The events that concern ``key``: naming it, or a container it is in at that moment."""
    replay = _Replay()
    found = []
    for event in sorted(events, key=lambda e: e.order_key):
        before = set(replay.ancestors(key))
        replay.apply(event)
        named = {k for k, _ in event.mentions()}
        if key in named or named & (before | set(replay.ancestors(key))):
            found.append(event)
    return found


def contents(events: Iterable[TraceEvent], key: str, *, now: dt.datetime) -> frozenset[str]:
    """Everything packed in ``key`` (children, their children, ...) at ``now``."""
    replay = _Replay()
    for event in _replayed(events, now):
        replay.apply(event)
    found: set[str] = set()
    todo = [key]
    while todo:
        for child in replay.children_of.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return frozenset(found)


def _route(where: Whereabouts) -> str:
    if where.in_transit:
        origin = where.origin_country or "an unknown country"
        return f"in transit from {origin} to {where.destination_country or 'an unknown country'}"
    return f"in {where.country}"


def aggregation_findings(
    events: Iterable[TraceEvent],
    key: str,
    *,
    scan_country: str | None,
    now: dt.datetime,
    locations: Mapping[str, str],
) -> list[Finding]:
    """Findings about a scan of ``key`` in ``scan_country``, to merge with the detector's."""
    if scan_country is None:
        return []
    state = unit_state(events, key, now=now, locations=locations)
    unit_where = state.whereabouts
    if unit_where is not None and unit_where.ended:
        return []
    case_where = state.parent_whereabouts
    if state.parent is not None and case_where is not None and not case_where.ended:
        allowed = case_where.plausible_countries
        if allowed and scan_country not in allowed:
            outer = state.ancestors[-1]
            return [
                Finding(
                    reason=UNIT_IN_SEALED_CASE_ELSEWHERE,
                    severity="critical",
                    message=(
                        f"This unit is packed in the sealed case {outer}, which was last seen "
                        f"{_route(case_where)} on {when(case_where.at)}; a scan in "
                        f"{scan_country} suggests a copy of its code."
                    ),
                    weight=SEALED_CASE_WEIGHT,
                )
            ]
        return []
    if unit_where is None or not unit_where.shipped:
        return []
    allowed = unit_where.plausible_countries
    if allowed and scan_country not in allowed:
        return [
            Finding(
                reason=ROUTE_IMPLAUSIBLE,
                severity="warning",
                message=(
                    f"The supply chain last placed this unit {_route(unit_where)} on "
                    f"{when(unit_where.at)}; a scan in {scan_country} is off that route."
                ),
                weight=ROUTE_WEIGHT,
            )
        ]
    return []
