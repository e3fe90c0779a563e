"""What a producer does daily beside registering: many statuses at once, its webhook, seizures.

Bulk statuses follow the single-unit rules of ``verifier.statuses`` (only an
active unit changes; its current status again changes nothing; the caller
must own the GTIN) and answer per item, so one bad item never fails its
neighbours. Items are handled in chunks of ``CHUNK`` units: one query loads
the chunk's records, one transaction stores its changes, audit events and
EPCIS events. A repeated request changes nothing and says so item by item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select, tuple_

from authn.errors import Conflict, NotFound, PermissionDenied, SealtraceError, Unauthenticated
from epcis.documents import status_event
from epcis.store import record_own_events
from epcis.vocabulary import STATUS_EVENTS
from keys.canonical import expect_list, open_envelope, parse_json
from keys.model import Brand
from keys.trust import TrustList
from verifier.accounts import Caller, Role
from verifier.db.models import AuditEvent, BrandWebhook, CodeRecord, Inspection, TrustListDoc
from verifier.registry import account_id_of, gtin14, require_writer
from verifier.statuses import CODE_STATUS
from verifier.verification.rules import ACTIVE

CHUNK = 500
MAX_ITEMS = 10_000


class ItemError(BaseModel):
    status: int = Field(description="The HTTP status the single-unit call would have answered.")
    detail: str


class BulkItemOut(BaseModel):
    gtin: str
    serial: str
    status: str | None = None
    previous: str | None = None
    changed: bool = False
    error: ItemError | None = None


class BulkStatusOut(BaseModel):
    changed: int
    unchanged: int
    failed: int
    undo_until: datetime
    results: list[BulkItemOut]


@dataclass(frozen=True)
class BulkItem:
    gtin: str
    serial: str
    status: str
    comment: str | None = None


def error_status(exc: SealtraceError) -> int:
    # The same statuses http_api.problems gives these classes; kept to the four
    # a per-item check can raise so that the API layer stays the one full mapping.
    for cls, status in ((NotFound, 404), (Conflict, 409), (PermissionDenied, 403)):
        if isinstance(exc, cls):
            return status
    return 400


def change_statuses(
    session: Session,
    caller: Caller,
    trust: TrustList,
    items: Sequence[BulkItem],
    *,
    now: datetime,
    undo_window: timedelta,
) -> BulkStatusOut:
    """Apply many unit status changes; one result per item, in the order given."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("changing statuses needs a brand account's bearer token")
    if caller.role not in (Role.BRAND, Role.ADMIN):
        raise PermissionDenied("only brand accounts and admins change statuses")
    account_id = account_id_of(caller)
    results: list[BulkItemOut] = []
    for start in range(0, len(items), CHUNK):
        results += _chunk(session, caller, trust, items[start : start + CHUNK], account_id, now)
    changed = sum(r.changed for r in results)
    failed = sum(r.error is not None for r in results)
    return BulkStatusOut(
        changed=changed, unchanged=len(results) - changed - failed, failed=failed,
        undo_until=now + undo_window, results=results,
    )  # fmt: skip


def _chunk(
    session: Session,
    caller: Caller,
    trust: TrustList,
    items: Sequence[BulkItem],
    account_id: int,
    now: datetime,
) -> list[BulkItemOut]:
    checked: list[tuple[BulkItem, str] | BulkItemOut] = []
    for item in items:
        try:
            gtin = gtin14(item.gtin)
            require_writer(caller, trust, gtin)
            checked.append((item, gtin))
        except SealtraceError as exc:
            checked.append(_failed(item, exc))
    keys = {(entry[1], entry[0].serial) for entry in checked if isinstance(entry, tuple)}
    records: dict[tuple[str, str], CodeRecord] = {}
    if keys:
        rows = session.exec(
            select(CodeRecord)
            .where(tuple_(col(CodeRecord.gtin), col(CodeRecord.serial)).in_(list(keys)))
            .with_for_update()
        ).all()
        records = {(r.gtin, r.serial): r for r in rows}
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    out: list[BulkItemOut] = []
    for entry in checked:
        if isinstance(entry, BulkItemOut):
            out.append(entry)
            continue
        item, gtin = entry
        try:
            record = records.get((gtin, item.serial))
            out.append(_apply(session, record, item, gtin, account_id, now, events))
        except SealtraceError as exc:
            out.append(_failed(item, exc))
    for brand_id, brand_events in events.items():
        # Commits the chunk's changes together with their EPCIS events.
        record_own_events(session, brand_events, brand_id=brand_id, now=now, account_id=account_id)
    session.commit()
    return out


def _apply(
    session: Session,
    record: CodeRecord | None,
    item: BulkItem,
    gtin: str,
    account_id: int,
    now: datetime,
    events: dict[str, list[dict[str, Any]]],
) -> BulkItemOut:
    if record is None:
        raise NotFound("no such code: it was never registered")
    status = "sold" if item.status == "dispensed" else item.status
    if record.status == status:
        return BulkItemOut(gtin=gtin, serial=item.serial, status=status, previous=status)
    if record.status != ACTIVE:
        raise Conflict(f"this unit is already {record.status}; undo that change first")
    record.status, record.status_changed_at = status, now
    session.add(record)
    session.add(
        AuditEvent(
            at=now, account_id=account_id, action=CODE_STATUS, gtin=gtin, serial=item.serial,
            before=ACTIVE, after=status, comment=item.comment,
        )
    )  # fmt: skip
    if item.status in STATUS_EVENTS:
        events[record.brand_id].append(status_event(gtin, item.serial, item.status, at=now))
    return BulkItemOut(gtin=gtin, serial=item.serial, status=status, previous=ACTIVE, changed=True)


def _failed(item: BulkItem, exc: SealtraceError) -> BulkItemOut:
    return BulkItemOut(
        gtin=item.gtin,
        serial=item.serial,
        error=ItemError(status=error_status(exc), detail=str(exc)),
    )


# Webhook settings, read back --------------------------------------------------------------------


class WebhookShown(BaseModel):
    brand_id: str
    url: str | None
    secret_set: bool = Field(
        description="The secret is never read back; set a new one to change it."
    )
    updated_at: datetime | None


def show_webhook(session: Session, caller: Caller, brand_id: str) -> WebhookShown:
    """The brand's webhook endpoint (brand's own accounts, admins); never the secret."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("this needs a bearer token")
    if caller.role is Role.BRAND and caller.brand_id != brand_id:
        raise NotFound("no such brand")
    if caller.role not in (Role.BRAND, Role.ADMIN):
        raise PermissionDenied("only the brand's own accounts and admins read its webhook")
    row = session.exec(select(BrandWebhook).where(BrandWebhook.brand_id == brand_id)).first()
    if row is None:
        return WebhookShown(brand_id=brand_id, url=None, secret_set=False, updated_at=None)
    return WebhookShown(brand_id=brand_id, url=row.url, secret_set=True, updated_at=row.updated_at)


# Seizures, listed ---------------------------------------------------------------------------------


class SeizureLine(BaseModel):
    id: int
    gtin: str
    serial: str
    seized_at: datetime
    quantity: int | None
    country: str | None
    report_url: str


def list_seizures(session: Session, caller: Caller, *, limit: int = 100) -> list[SeizureLine]:
    """Seizures, newest first: a brand its own products' only; officers and admins all."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("seizures need a bearer token")
    if caller.role not in (Role.OFFICER, Role.BRAND, Role.ADMIN):
        raise PermissionDenied("seizures are for officers, admins and the brand concerned")
    query = select(Inspection).where(Inspection.outcome == "seized")
    if caller.role is Role.BRAND:
        query = query.where(Inspection.brand_id == caller.brand_id)
    rows = session.exec(query.order_by(col(Inspection.at).desc()).limit(limit)).all()
    lines = []
    for row in rows:
        assert row.id is not None
        lines.append(
            SeizureLine(
                id=row.id,
                gtin=row.gtin,
                serial=row.serial,
                seized_at=row.at,
                quantity=row.quantity,
                country=row.country,
                report_url=f"/v1/seizures/{row.id}/report",
            )
        )
    return lines


# Brand ids the service knows ----------------------------------------------------------------


def held_brand_ids(session: Session) -> set[str] | None:
    """The brand ids of the newest trust list stored, or None when none is stored yet.

    Stored lists were verified when they were installed, so their envelope is
    only opened here, not verified again (that would need the registry key).
    """
    stored = session.exec(
        select(TrustListDoc).order_by(col(TrustListDoc.version).desc()).limit(1)
    ).first()
    if stored is None:
        return None
    signed, _ = open_envelope(parse_json(stored.data, "trust list"), "trust list")
    return {Brand.from_json(b).id for b in expect_list(signed["brands"], "brands")}
