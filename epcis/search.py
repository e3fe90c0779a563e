"""Answering the EPCIS 2.0 simple event query (:class:`epcis.query.EventFilter`) from the store.

One SQL statement per page: every filter is a column of ``epcis_event`` or an
``EXISTS`` over the identifier index; pages are keyset pages over the sort
column and the row id, so a page never repeats or skips an event while new
ones are captured.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlmodel import Session, col, select

from epcis.query import EventFilter, Match, PagePosition, QueryTooLarge
from epcis.store import exported_event
from epcis.tables import EpcisEvent, EpcisEventEpc


@dataclass(frozen=True)
class SearchPage:
    events: list[dict[str, Any]]
    namespaces: dict[str, str]
    next_position: PagePosition | None


def _between(column: Any, bounds: tuple[dt.datetime | None, dt.datetime | None]) -> list[Any]:
    low, high = bounds
    found = []
    if low is not None:
        found.append(column >= low)
    if high is not None:
        found.append(column < high)
    return found


def _matching(match: Match) -> Any:
    epc = col(EpcisEventEpc.epc)
    named: list[Any] = [epc.in_(match.keys)]
    named += [epc.startswith(prefix, autoescape=True) for prefix in match.prefixes]
    return exists().where(
        col(EpcisEventEpc.event_id) == col(EpcisEvent.id),
        col(EpcisEventEpc.role).in_(match.roles),
        or_(*named),
    )


def conditions(query: EventFilter, brand_id: str | None) -> list[Any]:
    """The WHERE clauses of ``query``; ``brand_id`` None reads every brand's events."""
    found: list[Any] = []
    if brand_id is not None:
        found.append(EpcisEvent.brand_id == brand_id)
    for column, values in (
        (EpcisEvent.event_type, query.event_types),
        (EpcisEvent.action, query.actions),
        (EpcisEvent.biz_step, query.biz_steps),
        (EpcisEvent.disposition, query.dispositions),
        (EpcisEvent.read_point, query.read_points),
        (EpcisEvent.biz_location, query.biz_locations),
        (EpcisEvent.error_reason, query.error_reasons),
    ):
        if values:
            found.append(col(column).in_(values))
    if query.event_ids:
        ids = query.event_ids
        found.append(or_(col(EpcisEvent.event_id).in_(ids), col(EpcisEvent.event_hash).in_(ids)))
    found += _between(col(EpcisEvent.event_time), query.event_time)
    found += _between(col(EpcisEvent.record_time), query.record_time)
    found += _between(col(EpcisEvent.declared_at), query.declared)
    if query.has_error_declaration:
        found.append(col(EpcisEvent.declared_at).is_not(None))
    found += [_matching(match) for match in query.matches]
    return found


def _sort_column(query: EventFilter) -> Any:
    return col(EpcisEvent.record_time if query.order_by == "recordTime" else EpcisEvent.event_time)


def _after(query: EventFilter, position: PagePosition) -> Any:
    column = _sort_column(query)
    row_id = col(EpcisEvent.id)
    if query.descending:
        return or_(
            column < position.sort_value,
            and_(column == position.sort_value, row_id < position.row_id),
        )
    return or_(
        column > position.sort_value, and_(column == position.sort_value, row_id > position.row_id)
    )


def count_matching(session: Session, query: EventFilter, brand_id: str | None) -> int:
    statement = select(func.count()).select_from(EpcisEvent).where(*conditions(query, brand_id))
    return int(session.exec(statement).one())


def search(
    session: Session,
    query: EventFilter,
    *,
    brand_id: str | None,
    position: PagePosition | None = None,
) -> SearchPage:
    """One page of the events ``query`` selects, in its order; where the next page starts."""
    given = position.given if position is not None else 0
    if position is None and query.max_event_count is not None:
        total = count_matching(session, query, brand_id)
        if total > query.max_event_count:
            raise QueryTooLarge(
                f"{total} events match, more than maxEventCount={query.max_event_count}"
            )
    size = query.per_page
    if query.event_count_limit is not None:
        size = min(size, query.event_count_limit - given)
    if size <= 0:
        return SearchPage([], {}, None)
    where = conditions(query, brand_id)
    if position is not None:
        where.append(_after(query, position))
    column = _sort_column(query)
    order = (
        (column.desc(), col(EpcisEvent.id).desc())
        if query.descending
        else (column, col(EpcisEvent.id))
    )
    rows = list(session.exec(select(EpcisEvent).where(*where).order_by(*order).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    given += len(rows)
    if query.event_count_limit is not None and given >= query.event_count_limit:
        more = False
    namespaces: dict[str, str] = {}
    for row in rows:
        namespaces.update(json.loads(row.namespaces))
    next_position = None
    if more and rows:
        last = rows[-1]
        assert last.id is not None
        sort_value = last.record_time if query.order_by == "recordTime" else last.event_time
        next_position = PagePosition(sort_value, last.id, given)
    return SearchPage([exported_event(r) for r in rows], namespaces, next_position)


def event_types_present(session: Session, brand_id: str | None) -> list[str]:
    """The event types the caller's events have, in name order."""
    statement = select(EpcisEvent.event_type).distinct()
    if brand_id is not None:
        statement = statement.where(EpcisEvent.brand_id == brand_id)
    return sorted(session.exec(statement))


# Roles of instance identifiers: what MATCH_anyEPC (and so /epcs/{epc}/events) finds. The
# quantity classes are EPC classes, not EPCs, and are left out.
EPC_ROLES = ("epc", "parent", "child", "input", "output")


def epcs_present(
    session: Session, brand_id: str | None, *, limit: int, after: str | None = None
) -> tuple[list[str], str | None]:
    """The EPCs (canonical keys) the caller's events name, in key order, ``limit`` at a
    time after the key ``after``; the key to continue after, when there are more."""
    statement = (
        select(EpcisEventEpc.epc)
        .distinct()
        .where(col(EpcisEventEpc.role).in_(EPC_ROLES))
        .order_by(col(EpcisEventEpc.epc))
        .limit(limit + 1)
    )
    if brand_id is not None:
        statement = statement.join(
            EpcisEvent, col(EpcisEvent.id) == col(EpcisEventEpc.event_id)
        ).where(EpcisEvent.brand_id == brand_id)
    if after is not None:
        statement = statement.where(col(EpcisEventEpc.epc) > after)
    keys = list(session.exec(statement))
    more = len(keys) > limit
    keys = keys[:limit]
    return keys, (keys[-1] if more and keys else None)
