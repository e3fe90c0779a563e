"""The outbox rows that tell a brand's webhook about its alerts (:mod:`verifier.outbox`).

Written in the transaction that makes the alert, so an event is never lost nor sent for
an alert that was rolled back. Only a brand that has a webhook gets a row: one INSERT ...
SELECT on ``brand_webhook``, no read first.

Event types (docs/detection.md, "Webhooks"):

- ``alert.created``: a new alert (a detection finding, a code failing the signature, a
  recalled lot scanned);
- ``alert.grew``: an aggregated alert reached a new power of ten of scans (10, 100, ...)
  or was seen in a new country; not sent for every scan;
- ``report.received``: a consumer reported a suspected fake from the result page.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, literal
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.pipeline import Step, any_of
from storage.types import UTCDateTime
from verifier.db.models import BrandWebhook, WebhookOutbox
from verifier.webhooks import new_event

ALERT_CREATED = "alert.created"
ALERT_GREW = "alert.grew"
REPORT_RECEIVED = "report.received"


def enqueue(
    session: Session,
    event_type: str,
    brand_id: str | None,
    alert_id: int | None,
    data: Mapping[str, Any],
    *,
    now: datetime,
) -> None:
    """An outbox row for the brand's webhook, if the brand has one; does not commit."""
    if brand_id is None:
        return
    event = new_event(event_type, data, now=now)
    outbox: Table = WebhookOutbox.__table__  # type: ignore[attr-defined]
    source = select(  # type: ignore[call-overload]
        literal(event.event_id), literal(event.event_type), literal(brand_id),
        literal(alert_id), literal(now, UTCDateTime()), literal(event.body().decode("utf-8")),
        literal("pending"), literal(0), literal(now, UTCDateTime()),
    ).where(col(BrandWebhook.brand_id) == brand_id)  # fmt: skip
    session.execute(
        outbox.insert().from_select(
            [
                "event_id", "event_type", "brand_id", "alert_id", "created_at", "payload",
                "status", "attempts", "next_attempt_at",
            ],
            source,
        )
    )  # fmt: skip


@dataclass(frozen=True)
class Pending:
    """One event to enqueue with :func:`enqueue_many`."""

    event_type: str
    brand_id: str | None
    alert_id: int | None
    data: Mapping[str, Any]


_WEBHOOK: Table = BrandWebhook.__table__  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=4)
def _webhook_brands(dialect: str) -> Select[Any]:
    return sa_select(_WEBHOOK.c.brand_id).where(any_of(_WEBHOOK.c.brand_id, "brands", dialect))


def webhook_brands_step(dialect: str, brands: Sequence[str]) -> Step:
    """Which of ``brands`` have a webhook, as a read for a pipeline (:mod:`storage.pipeline`)."""
    return Step(_webhook_brands(dialect), {"brands": list(brands)})


def enqueue_many(
    session: Session,
    events: Sequence[Pending],
    *,
    now: datetime,
    hooked: Collection[str] | None = None,
) -> int:
    """Outbox rows for a batch's events, for the brands that have a webhook; does not commit.

    Two statements however many events: which of the brands have a webhook (unless the
    caller read it: ``hooked``), then one ``executemany`` of the rows. Returns how many rows
    were queued."""
    brands = sorted({e.brand_id for e in events if e.brand_id is not None})
    if not brands:
        return 0
    if hooked is None:
        hooked = set(
            session.exec(
                select(BrandWebhook.brand_id).where(col(BrandWebhook.brand_id).in_(brands))
            )
        )
    rows = []
    for pending in events:
        if pending.brand_id not in hooked:
            continue
        event = new_event(pending.event_type, pending.data, now=now)
        rows.append(
            {
                "event_id": event.event_id, "event_type": event.event_type,
                "brand_id": pending.brand_id, "alert_id": pending.alert_id, "created_at": now,
                "payload": event.body().decode("utf-8"), "status": "pending", "attempts": 0,
                "next_attempt_at": now,
            }
        )  # fmt: skip
    if rows:
        outbox: Table = WebhookOutbox.__table__  # type: ignore[attr-defined]
        session.execute(outbox.insert(), rows)
    return len(rows)
