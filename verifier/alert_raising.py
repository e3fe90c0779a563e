"""Raising alerts: from a verification's findings, and from a consumer's report.

Runs in the verify transaction (see :func:`raise_batch_alerts`); the workflow that follows
(list, acknowledge, close) is :mod:`verifier.alerts`. Codes failing the signature give
one alert per (brand, GTIN, key id, reason) for the brand owning the GTIN's prefix, and a
recalled lot one alert per lot, with their places and units (:mod:`verifier.alert_tally`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case
from sqlalchemy import text as sql_text
from sqlmodel import Session, select

from detection.model import Finding
from storage.pipeline import Step, pipelined
from storage.upsert import dialect_insert
from verifier import alert_events, alert_tally
from verifier.db.models import Alert
from verifier.metrics import ALERTS

ALERTING_SEVERITIES = frozenset({"warning", "critical"})
REPORT_KIND = "CONSUMER_REPORT"
_OPEN_ONLY = sql_text("status <> 'closed'")


@dataclass(frozen=True)
class AlertSubject:
    """Where a verification's alerts point: the code scanned, its brand, key and scan."""

    brand_id: str | None
    gtin: str
    serial: str
    key_id: str | None
    scan_id: str | None
    country: str | None
    lot: str | None = None  # the code's lot, for a recalled lot's alert


# Raising (the verify transaction) -------------------------------------------------------------

# The trust decision's reasons for a counterfeit: a code failing the signature (bad, missing
# or malformed signature, unknown, uncertified or revoked key, a key signing outside its
# prefixes or window). One alert per (brand, GTIN, key id, reason), with its places and units.
SIGNATURE_FAILURES = frozenset(
    {
        "SIGNATURE_MISSING", "SIGNATURE_MALFORMED", "KEY_UNKNOWN", "SIGNATURE_INVALID",
        "CERTIFICATE_INVALID", "GTIN_OUTSIDE_KEY_PREFIXES", "OUTSIDE_SIGNING_WINDOW",
        "KEY_REVOKED",
    }
)  # fmt: skip
# A recall is the brand's own act: one alert per recalled lot scanned, not one per unit.
LOT_RECALLED = "LOT_RECALLED"
_AGGREGATED = ("sig:", "lot:")


def dedup_key(subject: AlertSubject, finding: Finding) -> str:
    if finding.reason in SIGNATURE_FAILURES:
        kid = subject.key_id or "-"
        return f"sig:{subject.brand_id or '-'}:{subject.gtin}:{kid}:{finding.reason}"
    if finding.reason == LOT_RECALLED and subject.lot:
        return f"lot:{subject.gtin}:{subject.lot}:{finding.reason}"
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
    all the batch's alerts go in one round trip, and the aggregated alerts' tallies in one
    more. A new alert gets an outbox row when its brand has a webhook (all the batch's in
    two statements: :func:`verifier.alert_events.enqueue_many`); an aggregated one
    gets another only when it grows meaningfully (:func:`verifier.alert_tally.crossed_threshold`
    or a first country), never for every scan.
    """
    rows: dict[str, dict[str, Any]] = {}
    raised_by: dict[str, tuple[AlertSubject, Finding]] = {}
    last_scan: dict[str, str | None] = {}
    seen: dict[str, alert_tally.Seen] = {}
    for subject, findings in scans:
        for finding in findings:
            if finding.severity not in ALERTING_SEVERITIES:
                continue
            key = dedup_key(subject, finding)
            row = rows.get(key)
            if row is None:
                rows[key] = _alert_row(subject, finding, key, now=now)
                raised_by[key] = (subject, finding)
            elif last_scan[key] == subject.scan_id:
                continue  # two findings of one scan with one key count once
            else:
                row["count"] += 1
                if finding.severity == "critical":
                    row["severity"] = "critical"
            last_scan[key] = subject.scan_id
            if key.startswith(_AGGREGATED):
                seen.setdefault(key, alert_tally.Seen()).add(subject.country, subject.serial)
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    session.flush()  # the pipeline goes past the ORM: what it holds is written first
    # Which of the alerts' brands have a webhook needs no answer from the upsert: on
    # PostgreSQL the two go in one round trip (storage.pipeline); SQLite asks only when a
    # new alert is to be announced, as before.
    steps = [Step(_upsert_statement(dialect), list(rows.values()), many=True, returning=True)]
    if dialect == "postgresql":
        brands = sorted({row["brand_id"] for row in rows.values() if row["brand_id"]})
        steps.append(alert_events.webhook_brands_step(dialect, brands))
    upserted, *hooks = pipelined(session.connection(), steps)
    created: list[int] = []
    grown: dict[int, tuple[str, int, int]] = {}  # alert id -> key, count before, count after
    ids: dict[str, int] = {}
    announced: list[alert_events.Pending] = []
    for returned in upserted:
        alert_id, count, key = returned["id"], returned["count"], returned["dedup_key"]
        ids[key] = alert_id
        added = rows[key]["count"]
        if count == added:  # nothing was there to add to: a new alert
            created.append(alert_id)
            subject, finding = raised_by[key]
            ALERTS.labels(finding.reason).inc()  # counted before commit: a rollback over-counts
            announced.append(
                alert_events.Pending(
                    alert_events.ALERT_CREATED, subject.brand_id, alert_id,
                    _event_data(alert_id, subject, finding, count, seen.get(key)),
                )
            )  # fmt: skip
        elif key in seen:
            grown[alert_id] = (key, count - added, count)
    hooked = {row["brand_id"] for row in hooks[0]} if hooks else None
    alert_events.enqueue_many(session, announced, now=now, hooked=hooked)  # one statement
    new_place = alert_tally.record(session, {ids[k]: v for k, v in seen.items()}, now=now)
    for alert_id, (key, before, after) in grown.items():
        if alert_tally.crossed_threshold(before, after) or alert_id in new_place:
            _announce_growth(session, alert_id, raised_by[key], before, after, now=now)
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
        "key_id": subject.key_id, "lot": subject.lot if key.startswith("lot:") else None,
    }  # fmt: skip


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (open alert with that key) DO UPDATE, built once per dialect."""
    table: Table = Alert.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(dialect, table)
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


def _event_data(
    alert_id: int,
    subject: AlertSubject,
    finding: Finding,
    count: int,
    seen: alert_tally.Seen | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "alert_id": alert_id, "reason": finding.reason, "severity": finding.severity,
        "message": finding.message, "brand_id": subject.brand_id, "gtin": subject.gtin,
        "serial": subject.serial, "key_id": subject.key_id, "country": subject.country,
        "scan_id": subject.scan_id, "related_scan_ids": list(finding.related_scan_ids),
    }  # fmt: skip
    if seen is not None:
        data.update(
            count=count, lot=subject.lot, countries=sorted(seen.countries),
            units=len(seen.serials),
        )  # fmt: skip
    return data


def _announce_growth(
    session: Session,
    alert_id: int,
    raised: tuple[AlertSubject, Finding],
    before: int,
    after: int,
    *,
    now: datetime,
) -> None:
    """``alert.grew``: the alert's totals as they stand now, read in this transaction."""
    subject, finding = raised
    row = session.get(Alert, alert_id, populate_existing=True)
    assert row is not None
    tallies = alert_tally.read(session, [alert_id]).get(alert_id, alert_tally.Tallies())
    alert_events.enqueue(
        session, alert_events.ALERT_GREW, row.brand_id, alert_id,
        {
            "alert_id": alert_id, "reason": row.kind, "severity": row.severity,
            "brand_id": row.brand_id, "gtin": row.gtin, "lot": row.lot, "key_id": row.key_id,
            "count": after, "count_before": before, "units": tallies.units,
            "countries": [p.country for p in tallies.places],
            "first_seen_at": row.created_at.isoformat(),
            "last_seen_at": (row.last_seen_at or now).isoformat(),
            "scan_id": subject.scan_id, "message": finding.message,
        },
        now=now,
    )  # fmt: skip


# Consumer reports -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerReport:
    """What a consumer said about a scan they made: where they bought it and what they saw."""

    scan_id: str
    gtin: str
    serial: str
    verdict: str
    country: str | None
    where: str
    what: str


def record_consumer_report(
    session: Session, report: ConsumerReport, brand_id: str | None, *, now: datetime
) -> int | None:
    """One CONSUMER_REPORT alert per scan for the brand owning the GTIN, and its signed
    ``report.received`` webhook event; a repeat of the same scan's report changes nothing.

    Returns the new alert's id (None for a repeat). Commits.
    """
    already = session.exec(
        select(Alert.id).where(Alert.kind == REPORT_KIND, Alert.scan_id == report.scan_id)
    ).first()
    if already is not None:
        return None
    detail = {"where": report.where, "what": report.what, "verdict": report.verdict}
    row = Alert(
        created_at=now, kind=REPORT_KIND, brand_id=brand_id, gtin=report.gtin,
        serial=report.serial, scan_id=report.scan_id, country=report.country,
        last_seen_at=now, detail=json.dumps(detail)[:2000],
    )  # fmt: skip
    session.add(row)
    session.flush()
    assert row.id is not None
    alert_events.enqueue(
        session, alert_events.REPORT_RECEIVED, brand_id, row.id,
        {
            "alert_id": row.id, "reason": REPORT_KIND, "brand_id": brand_id,
            "gtin": report.gtin, "serial": report.serial, "scan_id": report.scan_id,
            "country": report.country, "verdict": report.verdict, "where": report.where,
            "what": report.what, "reported_at": now.isoformat(),
        },
        now=now,
    )  # fmt: skip
    session.commit()
    return row.id
