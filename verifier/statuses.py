"""Statuses: the EMVS set on single units, recalls of whole lots, and undo.

Only an active unit changes status; setting the status it has is a no-op.
Undo reverts the latest change, by the account that made it, within the
undo window. Every change and every undo writes an audit event; a unit's
status change also emits its EPCIS event (``status_event``) in the same
transaction. Undo and lot recalls emit none: EPCIS has no event that takes a
decommissioning back, and a lot recall names no units.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from authn.ai import validate_value
from authn.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from detection.common import NETWORK_SEPARATOR
from epcis.documents import status_event
from epcis.store import record_own_events
from epcis.vocabulary import STATUS_EVENTS
from keys.trust import TrustList
from verifier.accounts import Caller, Role
from verifier.db.models import AuditEvent, CodeRecord, LotStatus, Scan
from verifier.registry import account_id_of, gtin14, require_writer
from verifier.schemas import StatusChangeOut
from verifier.verification.rules import ACTIVE
from verifier.verification.views import coarse_position

CODE_STATUS = "code.status"
LOT_STATUS = "lot.status"


def recorded_by(recorded: str | None, browser: str) -> bool:
    """Whether a scan recorded under ``recorded`` came from the browser ``browser``: the
    same id, or a network id ("net:<network>/<browser>") that ends in it."""
    if recorded is None:
        return False
    return recorded == browser or recorded.endswith(NETWORK_SEPARATOR + browser)


def load_code_for_update(session: Session, gtin: str, serial: str) -> CodeRecord:
    record = session.exec(
        select(CodeRecord)
        .where(CodeRecord.gtin == gtin, CodeRecord.serial == serial)
        .with_for_update()
    ).first()
    if record is None:
        raise NotFound("no such code")
    return record


def change_code_status(
    session: Session,
    caller: Caller,
    trust: TrustList,
    gtin: str,
    serial: str,
    status: str,
    comment: str | None,
    *,
    now: datetime,
    undo_window: timedelta,
) -> StatusChangeOut:
    gtin = gtin14(gtin)
    require_writer(caller, trust, gtin)
    requested = status  # "dispensed" has its own EPCIS event, though it is stored as sold
    status = "sold" if status == "dispensed" else status
    record = load_code_for_update(session, gtin, serial)
    if record.status == status:
        return StatusChangeOut(
            gtin=gtin, serial=serial, status=status, previous=status, changed=False
        )
    if record.status != ACTIVE:
        raise Conflict(
            f"this unit is already {record.status}; undo that change first "
            f"(possible within {undo_window.days} days, by the account that made it)"
        )
    record.status, record.status_changed_at = status, now
    session.add(record)
    session.add(
        AuditEvent(
            at=now, account_id=account_id_of(caller), action=CODE_STATUS, gtin=gtin,
            serial=serial, before=ACTIVE, after=status, comment=comment,
        )
    )  # fmt: skip
    if requested in STATUS_EVENTS:
        # Commits the change together with its EPCIS event.
        record_own_events(
            session, [status_event(gtin, serial, requested, at=now)], brand_id=record.brand_id,
            now=now, account_id=caller.account_id,
        )  # fmt: skip
    session.commit()
    return StatusChangeOut(
        gtin=gtin, serial=serial, status=status, previous=ACTIVE, changed=True,
        changed_at=now, undo_until=now + undo_window,
    )  # fmt: skip


def _undoable_event(
    caller: Caller, event: AuditEvent | None, now: datetime, window: timedelta
) -> AuditEvent:
    if event is None:
        raise Conflict("there is no status change left to undo")
    if event.account_id != caller.account_id:
        raise PermissionDenied("only the account that made a status change may undo it")
    if now - event.at > window:
        raise Conflict(
            f"the change of {event.at.date().isoformat()} can no longer be undone: "
            f"undo is possible within {window.days} days only"
        )
    return event


def _latest_change(session: Session, action: str, *where: Any) -> AuditEvent | None:
    """The newest change of ``action`` matching ``where`` that has not been undone."""
    return session.exec(
        select(AuditEvent)
        .where(AuditEvent.action == action, col(AuditEvent.undone_at).is_(None), *where)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(1)
    ).first()


def undo_code_status(
    session: Session,
    caller: Caller,
    trust: TrustList,
    gtin: str,
    serial: str,
    *,
    now: datetime,
    undo_window: timedelta,
) -> StatusChangeOut:
    gtin = gtin14(gtin)
    require_writer(caller, trust, gtin)
    record = load_code_for_update(session, gtin, serial)
    latest = _latest_change(
        session, CODE_STATUS, AuditEvent.gtin == gtin, AuditEvent.serial == serial
    )
    event = _undoable_event(caller, latest, now, undo_window)
    if event.after != record.status or event.before is None:
        raise Conflict("the unit's status changed since; it cannot be undone automatically")
    record.status, record.status_changed_at = event.before, now
    event.undone_at = now
    session.add_all([record, event])
    session.add(
        AuditEvent(
            at=now, account_id=caller.account_id, action=CODE_STATUS + ".undo", gtin=gtin,
            serial=serial, before=event.after, after=event.before,
        )
    )  # fmt: skip
    session.commit()
    return StatusChangeOut(
        gtin=gtin, serial=serial, status=event.before, previous=event.after, changed=True,
        changed_at=now,
    )  # fmt: skip


# Lot status ------------------------------------------------------------------------------------


def change_lot_status(
    session: Session,
    caller: Caller,
    trust: TrustList,
    gtin: str,
    lot: str,
    status: str,
    comment: str | None,
    *,
    now: datetime,
    undo_window: timedelta,
) -> StatusChangeOut:
    gtin = gtin14(gtin)
    validate_value("10", lot)
    require_writer(caller, trust, gtin)
    row = session.exec(
        select(LotStatus).where(LotStatus.gtin == gtin, LotStatus.lot == lot).with_for_update()
    ).first()
    if row is None and not lot_registered(session, gtin, lot):
        raise NotFound("no code of this lot was ever registered")
    before = row.status if row is not None else ACTIVE
    if before == status:
        return StatusChangeOut(gtin=gtin, lot=lot, status=status, previous=before, changed=False)
    account_id = account_id_of(caller)
    if row is None:
        row = LotStatus(gtin=gtin, lot=lot, status=status, changed_at=now, changed_by=account_id)
    else:
        row.status, row.changed_at, row.changed_by = status, now, account_id
    session.add(row)
    session.add(
        AuditEvent(
            at=now, account_id=account_id, action=LOT_STATUS, gtin=gtin, lot=lot,
            before=before, after=status, comment=comment,
        )
    )  # fmt: skip
    session.commit()
    return StatusChangeOut(
        gtin=gtin, lot=lot, status=status, previous=before, changed=True, changed_at=now,
        undo_until=now + undo_window,
    )  # fmt: skip


def lot_registered(session: Session, gtin: str, lot: str) -> bool:
    found = session.exec(
        select(CodeRecord.id).where(CodeRecord.gtin == gtin, CodeRecord.lot == lot).limit(1)
    ).first()
    return found is not None


def undo_lot_status(
    session: Session,
    caller: Caller,
    trust: TrustList,
    gtin: str,
    lot: str,
    *,
    now: datetime,
    undo_window: timedelta,
) -> StatusChangeOut:
    gtin = gtin14(gtin)
    require_writer(caller, trust, gtin)
    row = session.exec(
        select(LotStatus).where(LotStatus.gtin == gtin, LotStatus.lot == lot).with_for_update()
    ).first()
    if row is None:
        raise NotFound("no status was ever set on this lot")
    latest = _latest_change(session, LOT_STATUS, AuditEvent.gtin == gtin, AuditEvent.lot == lot)
    event = _undoable_event(caller, latest, now, undo_window)
    if event.after != row.status or event.before is None:
        raise Conflict("the lot's status changed since; it cannot be undone automatically")
    row.status, row.changed_at = event.before, now
    event.undone_at = now
    session.add_all([row, event])
    session.add(
        AuditEvent(
            at=now, account_id=caller.account_id, action=LOT_STATUS + ".undo", gtin=gtin,
            lot=lot, before=event.after, after=event.before,
        )
    )  # fmt: skip
    session.commit()
    return StatusChangeOut(
        gtin=gtin, lot=lot, status=event.before, previous=event.after, changed=True,
        changed_at=now,
    )  # fmt: skip


# Scan locations --------------------------------------------------------------------------------


def set_scan_location(
    session: Session,
    scan_id: str,
    *,
    device_id: str,
    lat: float,
    lon: float,
    accuracy_m: float | None,
    window: timedelta,
    now: datetime,
) -> bool:
    """Add a location to an anonymous scan just made by ``device_id``, once, coarsened.

    The scan must be an anonymous scan of that device recorded within ``window``
    before ``now`` (otherwise ``NotFound``: no oracle about other scans). Returns
    False when the scan already had a location (nothing changes). The location is
    kept at 0.1 degree (about 10 km) with an accuracy of at least 10 km, as for any
    anonymous scan. This alone does not re-judge the scan; the consumer route uses
    :func:`verifier.verification.rejudge.rejudge_with_location`, which does.
    """
    scan = locate_scan(
        session, scan_id, device_id=device_id, lat=lat, lon=lon, accuracy_m=accuracy_m,
        window=window, now=now,
    )  # fmt: skip
    if scan is None:
        return False
    session.commit()
    return True


def own_recent_scan(
    session: Session, scan_id: str, device_id: str, *, window: timedelta, now: datetime
) -> Scan:
    """The anonymous scan ``scan_id`` if ``device_id`` recorded it within ``window`` before
    ``now``; else NotFound, the same whether the scan exists or not (no oracle of other
    browsers' scans)."""
    scan = (
        session.exec(select(Scan).where(Scan.scan_id == scan_id[:36])).first()
        if scan_id and device_id
        else None
    )
    if (
        scan is None
        or scan.role != Role.ANONYMOUS.value
        or not recorded_by(scan.device_id, device_id)
        or now - scan.recorded_at > window
    ):
        raise NotFound("no such scan of this browser session")
    return scan


def locate_scan(
    session: Session,
    scan_id: str,
    *,
    device_id: str,
    lat: float,
    lon: float,
    accuracy_m: float | None,
    window: timedelta,
    now: datetime,
) -> Scan | None:
    """:func:`set_scan_location` without the commit: the scan row with its new (coarsened)
    location, or None when it already had one. Raises as that function does."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise InvalidInput("lat must be within ±90 and lon within ±180")
    scan = own_recent_scan(session, scan_id, device_id, window=window, now=now)
    if scan.lat is not None:
        return None
    scan.lat, scan.lon, scan.accuracy_m = coarse_position(lat, lon, accuracy_m)
    session.add(scan)
    return scan
