"""Alerts: raised by verification, deduplicated while open, worked through by people.

An alert is ``open`` when raised, ``acknowledged`` when someone has taken it
up and ``closed`` (with a comment) when dealt with; every transition writes an
``alert_event`` row (who, when, from, to, comment). A brand account sees and
works its own brand's alerts only (another brand's alert is "not found");
officers and admins see all. Anonymous callers see none.

Detection alerts are deduplicated per (code, reason) while not closed: a new
finding of the same reason on the same code bumps ``count`` and
``last_seen_at`` (one upsert in the verify transaction). A leaked signing key
gives one alert per (brand, key). Each new alert also writes an outbox row
for the brand's webhook, if the brand has one (see :mod:`verifier.outbox`).

The functions here are the service API used by the HTTP routes and the web
console: they take a session, the caller and ``now``, and commit their own
changes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Table, case, literal, update
from sqlalchemy import text as sql_text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from authn.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from detection.model import Finding
from storage.types import UTCDateTime
from verifier.accounts import Caller, Role
from verifier.api.metrics import ALERTS
from verifier.db.models import Account, Alert, AlertEvent, BrandWebhook, WebhookOutbox
from verifier.webhooks import new_event

AlertStatus = Literal["open", "acknowledged", "closed"]
ALERT_STATUSES: tuple[str, ...] = ("open", "acknowledged", "closed")
ALERTING_SEVERITIES = frozenset({"warning", "critical"})
ALERT_CREATED = "alert.created"
MAX_PAGE = 500
MAX_COMMENT = 1000
_OPEN_ONLY = sql_text("status <> 'closed'")


# Shapes ---------------------------------------------------------------------------------------


class AlertEventOut(BaseModel):
    at: datetime
    account: str | None
    action: str
    before: str
    after: str
    comment: str | None


class AlertView(BaseModel):
    """An alert as callers see it; ``kind`` is kept as the reason's older name."""

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


@dataclass(frozen=True)
class AlertSubject:
    """Where a verification's alerts point: the code scanned, its brand, key and scan."""

    brand_id: str | None
    gtin: str
    serial: str
    key_id: str | None
    scan_id: str | None
    country: str | None


# Reading --------------------------------------------------------------------------------------


def _view(row: Alert, events: Sequence[AlertEventOut] | None = None) -> AlertView:
    assert row.id is not None
    return AlertView(
        id=row.id, reason=row.kind, kind=row.kind, severity=row.severity, status=row.status,
        brand_id=row.brand_id, gtin=row.gtin, serial=row.serial, key_id=row.key_id,
        country=row.country, scan_id=row.scan_id, count=row.count, created_at=row.created_at,
        last_seen_at=row.last_seen_at or row.created_at, detail=json.loads(row.detail or "{}"),
        acknowledged_at=row.acknowledged_at, closed_at=row.closed_at,
        close_comment=row.close_comment, events=list(events) if events is not None else None,
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
    return AlertPage(
        items=[_view(r) for r in rows], next_before_id=rows[-1].id if more and rows else None
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
        [
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


# Raising (the verify transaction) -------------------------------------------------------------


def dedup_key(subject: AlertSubject, finding: Finding) -> str:
    if finding.key_alert and subject.key_id is not None:
        return f"key:{subject.brand_id or '-'}:{subject.key_id}:{finding.reason}"
    return f"code:{subject.gtin}:{subject.serial}:{finding.reason}"


def raise_alerts(
    session: Session, subject: AlertSubject, findings: Sequence[Finding], *, now: datetime
) -> list[int]:
    """:func:`raise_batch_alerts` for one scan's findings."""
    return raise_batch_alerts(session, [(subject, findings)], now=now)


def raise_batch_alerts(
    session: Session,
    scans: Sequence[tuple[AlertSubject, Sequence[Finding]]],
    *,
    now: datetime,
) -> list[int]:
    """Upsert one alert per warning or critical finding; returns the ids of new alerts.

    Does not commit: it runs in the verify transaction. A batch of scans raising the same
    alert (one code scanned again and again) bumps its count once, by the number of scans;
    all the batch's alerts go in one round trip. A new alert also gets an outbox row when
    its brand has a webhook (one INSERT ... SELECT, no read first).
    """
    rows: dict[str, dict[str, Any]] = {}
    raised_by: dict[str, tuple[AlertSubject, Finding]] = {}
    last_scan: dict[str, str | None] = {}
    for subject, findings in scans:
        for finding in findings:
            if finding.severity not in ALERTING_SEVERITIES:
                continue
            key = dedup_key(subject, finding)
            row = rows.get(key)
            if row is None:
                rows[key] = _alert_row(subject, finding, key, now=now)
                raised_by[key] = (subject, finding)
                last_scan[key] = subject.scan_id
                continue
            if last_scan[key] == subject.scan_id:
                continue  # two findings of one scan with one key count once
            last_scan[key] = subject.scan_id
            row["count"] += 1
            if finding.severity == "critical":
                row["severity"] = "critical"
    if not rows:
        return []
    statement = _upsert_statement(session.get_bind().dialect.name)
    created: list[int] = []
    for alert_id, count, key in session.execute(statement, list(rows.values())):
        if count == rows[key]["count"]:  # nothing was there to add to: a new alert
            created.append(alert_id)
            subject, finding = raised_by[key]
            ALERTS.labels(finding.reason).inc()  # counted before commit: a rollback over-counts
            _enqueue(session, alert_id, subject, finding, now=now)
    return created


def _alert_row(
    subject: AlertSubject, finding: Finding, key: str, *, now: datetime
) -> dict[str, Any]:
    detail = {
        "message": finding.message[:800],
        "related_scan_ids": list(finding.related_scan_ids[:20]),
        "key_id": subject.key_id,
        "country": subject.country,
    }
    return {
        "created_at": now, "kind": finding.reason, "brand_id": subject.brand_id,
        "gtin": subject.gtin, "serial": subject.serial, "scan_id": subject.scan_id,
        "detail": json.dumps(detail)[:2000], "severity": finding.severity, "status": "open",
        "dedup_key": key, "count": 1, "last_seen_at": now, "country": subject.country,
        "key_id": subject.key_id,
    }  # fmt: skip


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (open alert with that key) DO UPDATE, built once per dialect."""
    table: Table = Alert.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["dedup_key"],
        index_where=_OPEN_ONLY,
        set_={
            "count": table.c.count + statement.excluded.count,
            "last_seen_at": statement.excluded.last_seen_at,
            "severity": case(
                (statement.excluded.severity == "critical", "critical"),
                else_=table.c.severity,
            ),
        },
    ).returning(table.c.id, table.c.count, table.c.dedup_key)


def _enqueue(
    session: Session, alert_id: int, subject: AlertSubject, finding: Finding, *, now: datetime
) -> None:
    if subject.brand_id is None:
        return
    event = new_event(
        ALERT_CREATED,
        {
            "alert_id": alert_id, "reason": finding.reason, "severity": finding.severity,
            "message": finding.message, "brand_id": subject.brand_id, "gtin": subject.gtin,
            "serial": subject.serial, "key_id": subject.key_id, "country": subject.country,
            "scan_id": subject.scan_id, "related_scan_ids": list(finding.related_scan_ids),
        },
        now=now,
    )  # fmt: skip
    outbox: Table = WebhookOutbox.__table__  # type: ignore[attr-defined]
    source = select(  # type: ignore[call-overload]
        literal(event.event_id), literal(event.event_type), literal(subject.brand_id),
        literal(alert_id), literal(now, UTCDateTime()), literal(event.body().decode("utf-8")),
        literal("pending"), literal(0), literal(now, UTCDateTime()),
    ).where(col(BrandWebhook.brand_id) == subject.brand_id)  # fmt: skip
    session.execute(
        outbox.insert().from_select(
            [
                "event_id", "event_type", "brand_id", "alert_id", "created_at", "payload",
                "status", "attempts", "next_attempt_at",
            ],
            source,
        )
    )  # fmt: skip
