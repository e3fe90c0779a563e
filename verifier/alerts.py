"""Alerts: raised by verification, deduplicated while open, worked through by people.

An alert is ``open`` when raised, ``acknowledged`` when someone has taken it
up and ``closed`` (with a comment) when dealt with; every transition writes an
``alert_event`` row (who, when, from, to, comment). A brand account sees and
works its own brand's alerts only (another brand's alert is "not found");
officers and admins see all. Anonymous callers see none.

How alerts are raised and deduplicated, and when the brand's webhook hears
of them, is :mod:`verifier.alert_raising`. Aggregated alerts (codes failing
the signature, a recalled lot) are shown with their places and units
(:mod:`verifier.alert_tally`).

The functions here are the service API used by the HTTP routes and the web
console: they take a session, the caller and ``now``, and commit their own
changes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import Session, col, select

from authn.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from verifier import alert_tally
from verifier.accounts import Caller, Role
from verifier.db.models import Account, Alert, AlertEvent

AlertStatus = Literal["open", "acknowledged", "closed"]
ALERT_STATUSES: tuple[str, ...] = ("open", "acknowledged", "closed")
MAX_PAGE = 500
MAX_COMMENT = 1000


# Shapes ---------------------------------------------------------------------------------------


class AlertEventOut(BaseModel):
    at: datetime
    account: str | None
    action: str
    before: str
    after: str
    comment: str | None


class PlaceOut(BaseModel):
    country: str
    count: int
    first_seen_at: datetime
    last_seen_at: datetime


class AlertView(BaseModel):
    """An alert as callers see it; ``kind`` is kept as the reason's older name.

    Aggregated alerts (codes failing the signature, a recalled lot) stand for ``count``
    scans of ``units`` distinct serials in ``places``; ``serial`` is the first one seen.
    """

    id: int
    reason: str
    kind: str
    severity: str
    status: str
    brand_id: str | None
    gtin: str
    serial: str
    key_id: str | None
    country: str | None
    scan_id: str | None
    count: int
    created_at: datetime
    last_seen_at: datetime
    detail: dict[str, Any]
    first_seen_at: datetime
    lot: str | None = None
    units: int | None = None
    places: list[PlaceOut] | None = None
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    close_comment: str | None = None
    events: list[AlertEventOut] | None = None  # only when one alert is read


@dataclass(frozen=True)
class AlertFilter:
    """What to list: every field narrows; ``before_id`` continues a page (newest first)."""

    brand_id: str | None = None
    reason: str | None = None
    country: str | None = None
    status: AlertStatus | None = None
    since: datetime | None = None
    before_id: int | None = None
    limit: int = 100


@dataclass(frozen=True)
class AlertPage:
    items: list[AlertView]
    next_before_id: int | None  # pass as ``before_id`` for the next page; None: no more


# Reading --------------------------------------------------------------------------------------


def _view(
    row: Alert,
    events: Sequence[AlertEventOut] | None = None,
    tallies: alert_tally.Tallies | None = None,
) -> AlertView:
    assert row.id is not None
    places = None
    if tallies is not None:
        places = [
            PlaceOut(country=p.country, count=p.count, first_seen_at=p.first_seen_at,
                     last_seen_at=p.last_seen_at)
            for p in tallies.places
        ]  # fmt: skip
    return AlertView(
        id=row.id, reason=row.kind, kind=row.kind, severity=row.severity, status=row.status,
        brand_id=row.brand_id, gtin=row.gtin, serial=row.serial, key_id=row.key_id,
        country=row.country, scan_id=row.scan_id, count=row.count, created_at=row.created_at,
        last_seen_at=row.last_seen_at or row.created_at, detail=json.loads(row.detail or "{}"),
        acknowledged_at=row.acknowledged_at, closed_at=row.closed_at,
        close_comment=row.close_comment, events=list(events) if events is not None else None,
        first_seen_at=row.created_at, lot=row.lot,
        units=tallies.units if tallies is not None else None, places=places,
    )  # fmt: skip


def _require_account(caller: Caller) -> None:
    """Officers and admins see every brand's alerts, a brand its own (see _visible)."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("alerts need a bearer token")
    if caller.role not in (Role.OFFICER, Role.BRAND, Role.ADMIN):
        raise PermissionDenied("alerts are for officers, admins and the brand concerned")


def _visible(caller: Caller, row: Alert | None) -> Alert:
    if row is None or (caller.role is Role.BRAND and row.brand_id != caller.brand_id):
        raise NotFound("no such alert")
    return row


def list_alerts(
    session: Session, caller: Caller, filters: AlertFilter, *, now: datetime
) -> AlertPage:
    """Newest first: a brand sees its own brand's alerts only, officers and admins all."""
    _require_account(caller)
    if not 1 <= filters.limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    if filters.status is not None and filters.status not in ALERT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(ALERT_STATUSES)}")
    if filters.since is not None and filters.since.tzinfo is None:
        raise InvalidInput("since must carry a time zone")
    query = select(Alert)
    if caller.role is Role.BRAND:
        query = query.where(Alert.brand_id == caller.brand_id)
    if filters.brand_id is not None:
        query = query.where(Alert.brand_id == filters.brand_id)
    if filters.reason is not None:
        query = query.where(Alert.kind == filters.reason)
    if filters.country is not None:
        query = query.where(Alert.country == filters.country)
    if filters.status is not None:
        query = query.where(Alert.status == filters.status)
    if filters.since is not None:
        query = query.where(col(Alert.created_at) >= filters.since)
    if filters.before_id is not None:
        query = query.where(col(Alert.id) < filters.before_id)
    rows = session.exec(query.order_by(col(Alert.id).desc()).limit(filters.limit + 1)).all()
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    tallies = alert_tally.read(session, (r.id for r in rows if r.id is not None))
    return AlertPage(
        items=[_view(r, tallies=tallies.get(r.id or 0)) for r in rows],
        next_before_id=rows[-1].id if more and rows else None,
    )


def get_alert(session: Session, caller: Caller, alert_id: int, *, now: datetime) -> AlertView:
    """One alert with its transitions, oldest first."""
    _require_account(caller)
    row = _visible(caller, session.get(Alert, alert_id))
    events = session.exec(
        select(AlertEvent, Account.name)
        .join(Account, col(Account.id) == col(AlertEvent.account_id), isouter=True)
        .where(AlertEvent.alert_id == alert_id)
        .order_by(col(AlertEvent.at), col(AlertEvent.id))
    ).all()
    return _view(
        row,
        tallies=alert_tally.read(session, [alert_id]).get(alert_id),
        events=[
            AlertEventOut(
                at=e.at, account=name, action=e.action, before=e.before, after=e.after,
                comment=e.comment,
            )
            for e, name in events
        ],
    )  # fmt: skip


# Transitions ----------------------------------------------------------------------------------


def _transition(
    session: Session,
    caller: Caller,
    alert_id: int,
    *,
    allowed_from: tuple[str, ...],
    to: AlertStatus,
    comment: str | None,
    now: datetime,
) -> AlertView:
    _require_account(caller)
    row = _visible(caller, session.get(Alert, alert_id))
    before = row.status
    if before == to and to == "acknowledged":
        return get_alert(session, caller, alert_id, now=now)  # acknowledging twice: no-op
    if before not in allowed_from:
        raise Conflict(f"this alert is {before}; it cannot become {to}")
    values: dict[str, Any] = {"status": to}
    if to == "acknowledged":
        values.update(acknowledged_at=now, acknowledged_by=caller.account_id)
    else:
        values.update(closed_at=now, closed_by=caller.account_id, close_comment=comment)
    # Conditional on the status read: two people closing at once, one wins, one gets 409.
    changed = session.execute(
        update(Alert).where(col(Alert.id) == alert_id, col(Alert.status) == before).values(**values)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict("this alert changed meanwhile; reload it")
    action = "alert.acknowledge" if to == "acknowledged" else "alert.close"
    session.add(
        AlertEvent(
            alert_id=alert_id, at=now, account_id=caller.account_id, action=action,
            before=before, after=to, comment=comment,
        )
    )  # fmt: skip
    session.commit()
    session.expire_all()
    return get_alert(session, caller, alert_id, now=now)


def acknowledge_alert(
    session: Session, caller: Caller, alert_id: int, *, now: datetime, comment: str | None = None
) -> AlertView:
    """open -> acknowledged (acknowledging an acknowledged alert changes nothing)."""
    if comment is not None and len(comment) > MAX_COMMENT:
        raise InvalidInput(f"a comment is at most {MAX_COMMENT} characters")
    return _transition(
        session, caller, alert_id, allowed_from=("open",), to="acknowledged",
        comment=comment, now=now,
    )  # fmt: skip


def close_alert(
    session: Session, caller: Caller, alert_id: int, comment: str, *, now: datetime
) -> AlertView:
    """open or acknowledged -> closed, with a comment saying what was done."""
    comment = comment.strip()
    if not comment or len(comment) > MAX_COMMENT:
        raise InvalidInput(f"closing an alert needs a comment of 1-{MAX_COMMENT} characters")
    return _transition(
        session, caller, alert_id, allowed_from=("open", "acknowledged"), to="closed",
        comment=comment, now=now,
    )  # fmt: skip
