"""The registry of issued codes: access rules, registration, markets, thresholds, reading codes.

Access rules: brand accounts act on GTINs inside their brand's prefixes (a
GTIN of another brand is "not found", so nothing leaks about it); registry
admins act on every GTIN; officers may read but not change; anonymous
callers may do none of it. Every change writes an audit event. Statuses and
undo live in :mod:`verifier.statuses`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from authn.ai import validate_value
from authn.errors import GS1SyntaxError, NotFound, PermissionDenied, Unauthenticated
from authn.gs1 import normalise_gtin
from epcis.documents import commissioning_event
from epcis.store import record_own_events
from keys.model import Brand
from keys.trust import TrustList
from verifier.accounts import Caller, Role
from verifier.db.models import (
    Account,
    AuditEvent,
    CodeRecord,
    IntendedMarket,
    LotStatus,
    ProductThreshold,
)
from verifier.schemas import (
    AuditOut,
    CodePublic,
    MarketsOut,
    RegistrationIn,
    RegistrationOut,
    RejectedSerial,
    ThresholdsIn,
    ThresholdsOut,
)
from verifier.verification.rules import ACTIVE
from verifier.verification.state import code_facts, effective_status_of

LOOKUP_CHUNK = 500
EVENT_SERIALS = 1000  # serials per commissioning event: keeps each stored event small


def caller_brand(caller: Caller, trust: TrustList) -> Brand | None:
    """The trust list's brand of a brand account (None for other roles or unknown brands)."""
    if caller.role is not Role.BRAND or caller.brand_id is None:
        return None
    return trust.brand_for(caller.brand_id)


def caller_owns(caller: Caller, trust: TrustList, gtin14: str) -> bool:
    brand = caller_brand(caller, trust)
    return brand is not None and brand.owns(gtin14)


def require_reader(caller: Caller, trust: TrustList, gtin14: str) -> None:
    """Officers and admins read any code's record, a brand its own products' only."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("this needs a bearer token")
    if caller.role is Role.BRAND:
        if not caller_owns(caller, trust, gtin14):
            raise NotFound("no such code")
    elif caller.role not in (Role.OFFICER, Role.ADMIN):
        # An allow-list: a role added later sees nothing until it is given something.
        raise PermissionDenied("code records are for officers, admins and the owning brand")


def require_writer(caller: Caller, trust: TrustList, gtin14: str) -> None:
    """Only the owning brand and admins change a code's or a lot's status."""
    require_reader(caller, trust, gtin14)
    if caller.role not in (Role.BRAND, Role.ADMIN):
        raise PermissionDenied("officers may read codes but not change them")


def gtin14(text: str) -> str:
    gtin = normalise_gtin(text)
    if gtin != text:
        raise GS1SyntaxError("give the GTIN in its 14-digit form", ai="01")
    return gtin


def account_id_of(caller: Caller) -> int:
    if caller.account_id is None:
        raise Unauthenticated("this needs a bearer token")
    return caller.account_id


# Registration ----------------------------------------------------------------------------------


def register_batch(
    session: Session, caller: Caller, trust: TrustList, body: RegistrationIn, *, now: datetime
) -> RegistrationOut:
    """Store a batch of issued serials; idempotent, one retry on a concurrent duplicate."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("registering codes needs a brand account's bearer token")
    if caller.role is not Role.BRAND:
        raise PermissionDenied("only brand accounts register codes")
    brand = caller_brand(caller, trust)
    if brand is None:
        raise PermissionDenied(f"brand {caller.brand_id!r} is not in the current trust list")
    gtin = gtin14(body.gtin)
    if not brand.owns(gtin):
        raise PermissionDenied(f"GTIN {gtin} is outside the prefixes of brand {brand.id}")
    if body.lot is not None:
        validate_value("10", body.lot)
    if body.expiry is not None:
        validate_value("17", body.expiry)
    try:
        return _register(session, caller, brand, gtin, body, now)
    except IntegrityError:
        session.rollback()  # another request stored some of these serials first: look again
        return _register(session, caller, brand, gtin, body, now)


def _register(
    session: Session, caller: Caller, brand: Brand, gtin: str, body: RegistrationIn, now: datetime
) -> RegistrationOut:
    rejected: list[RejectedSerial] = []
    wanted: list[str] = []
    seen: set[str] = set()
    for serial in body.serials:
        if serial in seen:
            rejected.append(RejectedSerial(serial=serial, reason="DUPLICATE_IN_REQUEST"))
            continue
        seen.add(serial)
        try:
            validate_value("21", serial)
        except GS1SyntaxError:
            rejected.append(RejectedSerial(serial=serial, reason="SERIAL_INVALID"))
            continue
        wanted.append(serial)

    existing: dict[str, CodeRecord] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        rows = session.exec(
            select(CodeRecord).where(CodeRecord.gtin == gtin, col(CodeRecord.serial).in_(chunk))
        ).all()
        existing.update((row.serial, row) for row in rows)

    account_id = account_id_of(caller)
    new_rows: list[dict[str, object]] = []
    already = 0
    for serial in wanted:
        stored = existing.get(serial)
        if stored is None:
            new_rows.append(
                {
                    "gtin": gtin, "serial": serial, "lot": body.lot, "expiry": body.expiry,
                    "key_id": body.key_id, "batch_id": body.batch_id, "brand_id": brand.id,
                    "registered_at": now, "registered_by": account_id, "status": ACTIVE,
                }
            )  # fmt: skip
        elif (stored.lot, stored.expiry, stored.key_id, stored.brand_id) == (
            body.lot, body.expiry, body.key_id, brand.id,
        ):  # fmt: skip
            already += 1
        else:
            rejected.append(RejectedSerial(serial=serial, reason="REGISTERED_WITH_OTHER_DATA"))

    if new_rows:
        session.execute(insert(CodeRecord), new_rows)
        session.add(
            AuditEvent(
                at=now, account_id=account_id, action="batch.register", gtin=gtin,
                lot=body.lot, batch_id=body.batch_id, after=f"{len(new_rows)} codes",
            )
        )  # fmt: skip
    if body.intended_markets:
        _upsert_markets(session, gtin, body.batch_id, body.intended_markets, account_id, now)
    if new_rows:
        # The units exist and are active: an EPCIS commissioning event, in this transaction
        # (record_own_events commits it together with the codes).
        serials = [str(r["serial"]) for r in new_rows]
        events = [
            commissioning_event(gtin, serials[i : i + EVENT_SERIALS], at=now)
            for i in range(0, len(serials), EVENT_SERIALS)
        ]
        record_own_events(session, events, brand_id=brand.id, now=now, account_id=account_id)
    session.commit()
    return RegistrationOut(
        batch_id=body.batch_id, registered=len(new_rows), already_registered=already,
        rejected=rejected,
    )  # fmt: skip


# Intended markets ------------------------------------------------------------------------------


def _upsert_markets(
    session: Session,
    gtin: str,
    batch_id: str | None,
    markets: Sequence[str],
    account_id: int,
    now: datetime,
) -> bool:
    """Set the markets of a GTIN (``batch_id`` None) or batch; False when nothing changed."""
    key = batch_id or ""
    value = ",".join(sorted(set(markets)))
    row = session.exec(
        select(IntendedMarket).where(IntendedMarket.gtin == gtin, IntendedMarket.batch_id == key)
    ).first()
    if row is not None and row.markets == value:
        return False
    before = row.markets if row is not None else None
    if row is None:
        row = IntendedMarket(
            gtin=gtin, batch_id=key, markets=value, updated_at=now, updated_by=account_id
        )
    else:
        row.markets, row.updated_at, row.updated_by = value, now, account_id
    session.add(row)
    session.add(
        AuditEvent(
            at=now, account_id=account_id, action="markets.set", gtin=gtin,
            batch_id=batch_id, before=before, after=value,
        )
    )  # fmt: skip
    return True


def set_markets(
    session: Session,
    caller: Caller,
    trust: TrustList,
    gtin: str,
    markets: Sequence[str],
    batch_id: str | None,
    *,
    now: datetime,
) -> MarketsOut:
    gtin = gtin14(gtin)
    require_writer(caller, trust, gtin)
    _upsert_markets(session, gtin, batch_id, markets, account_id_of(caller), now)
    session.commit()
    return MarketsOut(gtin=gtin, batch_id=batch_id, markets=sorted(set(markets)))


# Reading ---------------------------------------------------------------------------------------

AUDIT_SHOWN = 50


def read_code(
    session: Session, caller: Caller, trust: TrustList, gtin: str, serial: str, *, now: datetime
) -> CodePublic:
    gtin = gtin14(gtin)
    require_reader(caller, trust, gtin)
    record = session.exec(
        select(CodeRecord).where(CodeRecord.gtin == gtin, CodeRecord.serial == serial)
    ).first()
    if record is None:
        raise NotFound("no such code")
    lot_status = None
    if record.lot is not None:
        lot_status = session.exec(
            select(LotStatus.status).where(LotStatus.gtin == gtin, LotStatus.lot == record.lot)
        ).first()
    markets = session.exec(
        select(IntendedMarket.markets)
        .where(IntendedMarket.gtin == gtin, col(IntendedMarket.batch_id).in_([record.batch_id, ""]))
        .order_by(col(IntendedMarket.batch_id).desc())
    ).first()
    events = session.exec(
        select(AuditEvent, Account.name)
        .join(Account, col(Account.id) == col(AuditEvent.account_id), isouter=True)
        .where(AuditEvent.gtin == gtin, AuditEvent.serial == serial)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(AUDIT_SHOWN)
    ).all()
    return CodePublic(
        gtin=record.gtin, serial=record.serial, lot=record.lot, expiry=record.expiry,
        key_id=record.key_id, batch_id=record.batch_id, brand_id=record.brand_id,
        registered_at=record.registered_at, status=record.status,
        effective_status=effective_status_of(code_facts(record), lot_status, now),
        status_changed_at=record.status_changed_at, lot_status=lot_status,
        intended_markets=markets.split(",") if markets else [],
        changes=[
            AuditOut(
                at=e.at, action=e.action, account=name, before=e.before, after=e.after,
                comment=e.comment, undone_at=e.undone_at,
            )
            for e, name in events
        ],
    )  # fmt: skip


def get_thresholds(
    session: Session, caller: Caller, trust: TrustList, gtin: str, *, now: datetime
) -> ThresholdsOut:
    gtin = gtin14(gtin)
    require_reader(caller, trust, gtin)
    row = session.exec(select(ProductThreshold).where(ProductThreshold.gtin == gtin)).first()
    if row is None:
        return ThresholdsOut(gtin=gtin)
    return ThresholdsOut(
        gtin=gtin, max_distinct_devices=row.max_distinct_devices,
        max_sessions_after_sale=row.max_sessions_after_sale, max_speed_kmh=row.max_speed_kmh,
        updated_at=row.updated_at,
    )  # fmt: skip


def set_thresholds(
    session: Session,
    caller: Caller,
    trust: TrustList,
    gtin: str,
    body: ThresholdsIn,
    *,
    now: datetime,
) -> ThresholdsOut:
    """Set the GTIN's thresholds (owning brand or admin); audited like every change."""
    gtin = gtin14(gtin)
    require_writer(caller, trust, gtin)
    account_id = account_id_of(caller)
    row = session.exec(select(ProductThreshold).where(ProductThreshold.gtin == gtin)).first()
    before = None
    if row is None:
        row = ProductThreshold(gtin=gtin, updated_at=now, updated_by=account_id)
    else:
        before = ThresholdsIn.model_validate(row, from_attributes=True).model_dump_json()
    row.max_distinct_devices = body.max_distinct_devices
    row.max_sessions_after_sale = body.max_sessions_after_sale
    row.max_speed_kmh = body.max_speed_kmh
    row.updated_at, row.updated_by = now, account_id
    session.add(row)
    session.add(
        AuditEvent(
            at=now, account_id=account_id, action="thresholds.set", gtin=gtin, before=before,
            after=body.model_dump_json(),
        )
    )  # fmt: skip
    session.commit()
    return ThresholdsOut(gtin=gtin, updated_at=now, **body.model_dump())
