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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, literal
from sqlmodel import Session, col, select

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
