"""What the console pages show, read from the verifier's tables; role checks included.

Every reader takes the signed-in :class:`Caller` and refuses what the role
may not see: a brand owner reading another brand's code gets ``NotFound``
(the same answer as a code that does not exist), officer-only actions raise
``PermissionDenied``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from sqlmodel import Session, col, select

import detection
from authn.errors import InvalidInput, NotFound, PermissionDenied, SealtraceError, Unavailable
from authn.scan import parse_scan
from console.journey import Journey, build_journey
from detection import DetectionSettings
from keys.trust import TrustList
from verifier import inspections
from verifier.accounts import Caller, Role
from verifier.db.models import (
    Alert,
    AuditEvent,
    CodeRecord,
    Inspection,
    IntendedMarket,
    LotStatus,
    ProductThreshold,
    Scan,
)
from verifier.geography import country_places
from verifier.inspections import InspectionIn, InspectionOut, InspectionOutcome
from verifier.product_images import image_urls_for
from verifier.products import products_for
from verifier.registry import require_reader
from verifier.schemas import product_label
from verifier.trust import TrustStore

SCAN_LIMIT = 200  # scans drawn on one code's page (the newest ones)
OUTCOMES = get_args(InspectionOutcome)


def held_trust_list(trust_store: TrustStore, session: Session) -> TrustList | None:
    """The trust list the service holds, or None before one is installed."""
    try:
        trust_store.refresh(session)
        return trust_store.current()
    except SealtraceError:
        return None


def check_code_access(
    caller: Caller, trust: TrustList | None, gtin: str, brand_id: str | None
) -> None:
    """Officers and admins read every code; a brand owner only its own (else NotFound)."""
    if caller.role is Role.BRAND:
        if trust is not None:
            require_reader(caller, trust, gtin)
        elif brand_id is None or brand_id != caller.brand_id:
            raise NotFound("no such code")
    elif caller.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("the console is for officers, brand owners and admins")


def detection_scan(row: Scan) -> detection.Scan | None:
    """A stored scan as detection sees it (None for a row detection cannot read)."""
    role = "consumer" if row.role == "anonymous" else row.role
    try:
        return detection.Scan(
            scan_id=row.scan_id, scanned_at=row.scanned_at, received_at=row.recorded_at,
            role=role,  # type: ignore[arg-type]
            lat=row.lat, lon=row.lon, accuracy_m=row.accuracy_m, country=row.country,
            device_id=row.device_id or None, verdict_at_scan=row.verdict,
        )  # fmt: skip
    except SealtraceError:
        return None


def detection_record(
    session: Session, gtin: str, serial: str, row: CodeRecord | None
) -> detection.CodeRecord:
    if row is None:
        return detection.CodeRecord(gtin=gtin, serial=serial, registered=False)
    lot_recalled = False
    if row.lot is not None:
        lot = session.exec(
            select(LotStatus.status).where(LotStatus.gtin == gtin, LotStatus.lot == row.lot)
        ).first()
        lot_recalled = lot == "recalled"
    markets = session.exec(
        select(IntendedMarket.markets)
        .where(IntendedMarket.gtin == gtin, col(IntendedMarket.batch_id).in_([row.batch_id, ""]))
        .order_by(col(IntendedMarket.batch_id).desc())
        .limit(1)
    ).first()
    threshold = session.exec(select(ProductThreshold).where(ProductThreshold.gtin == gtin)).first()
    thresholds = None
    if threshold is not None:
        thresholds = detection.ProductThresholds(
            threshold.max_distinct_devices, threshold.max_sessions_after_sale,
            threshold.max_speed_kmh,
        )  # fmt: skip
    status = row.status if row.status in detection.model.CODE_STATUSES else "active"
    try:
        return detection.CodeRecord(
            gtin=gtin, serial=serial, registered=True, status=status,  # type: ignore[arg-type]
            lot=row.lot, expiry=row.expiry, registered_at=row.registered_at,
            status_changed_at=row.status_changed_at, lot_recalled=lot_recalled,
            intended_markets=frozenset(m for m in (markets or "").split(",") if m),
            thresholds=thresholds,
        )  # fmt: skip
    except SealtraceError:
        return detection.CodeRecord(gtin=gtin, serial=serial, registered=True)


@dataclass(frozen=True)
class CodePage:
    gtin: str
    serial: str
    record: CodeRecord | None
    brand_name: str | None
    scans: list[Scan]  # time order
    journey: Journey
    alerts: list[Alert]
    inspections: list[Inspection]
    audit: list[AuditEvent]
    product_name: str | None = None  # the brand's name, strength and pack size of the GTIN
    # The uploaded image's URL (/v1/product-images/...): same origin, so the console's CSP
    # (img-src 'self') lets it load; a brand's own https image URL would not, and is not shown.
    product_image: str | None = None


def code_page(
    session: Session, caller: Caller, trust: TrustList | None, gtin: str, serial: str
) -> CodePage:
    record = session.exec(
        select(CodeRecord).where(CodeRecord.gtin == gtin, CodeRecord.serial == serial)
    ).first()
    brand = trust.brand_owning(gtin) if trust is not None else None
    brand_id = record.brand_id if record is not None else (brand.id if brand else None)
    check_code_access(caller, trust, gtin, brand_id)
    newest = session.exec(
        select(Scan)
        .where(Scan.gtin == gtin, Scan.serial == serial)
        .order_by(col(Scan.scanned_at).desc())
        .limit(SCAN_LIMIT)
    ).all()
    if record is None and not newest:
        raise NotFound("no such code: never registered and never scanned")
    scans = sorted(newest, key=lambda s: (s.scanned_at, s.scan_id))
    seen = [s for s in (detection_scan(row) for row in scans if row.verdict != "pending") if s]
    # The same country data as the live verdicts, so page views judged by country replay too.
    settings = DetectionSettings(countries=country_places())
    journey = build_journey(detection_record(session, gtin, serial, record), seen, settings)
    alerts = list(
        session.exec(
            select(Alert)
            .where(Alert.gtin == gtin, Alert.serial == serial)
            .order_by(col(Alert.id).desc())
        ).all()
    )
    inspections = list(
        session.exec(
            select(Inspection)
            .where(Inspection.gtin == gtin, Inspection.serial == serial)
            .order_by(col(Inspection.at).desc())
        ).all()
    )
    audit = list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.gtin == gtin, AuditEvent.serial == serial)
            .order_by(col(AuditEvent.at).desc())
            .limit(50)
        ).all()
    )
    product = products_for(session, [gtin]).get(gtin)
    return CodePage(
        gtin, serial, record, brand.name if brand else None, scans, journey, alerts,
        inspections, audit,
        product_label(product.product_name, product.strength, product.net_content)
        if product else None,
        image_urls_for(session, [gtin]).get(gtin),
    )  # fmt: skip


def record_inspection(
    session: Session,
    caller: Caller,
    trust: TrustList | None,
    page: CodePage,
    *,
    scan_id: str,
    form: InspectionIn,
    now: datetime,
) -> InspectionOut:
    """An officer's outcome for one of this code's scans, through ``verifier.inspections``."""
    if trust is None:
        raise Unavailable("the verifier holds no trust list yet")
    if not any(s.scan_id == scan_id for s in page.scans):
        raise InvalidInput("choose a scan of this code")
    return inspections.record_inspection(session, caller, trust, scan_id, form, now=now)


def scans_of_brand(
    session: Session, trust: TrustList | None, brand_id: str, since: datetime
) -> list[Scan]:
    """Scans since ``since`` of GTINs the brand owns (by trust list prefixes or registration)."""
    gtins = set(
        session.exec(
            select(CodeRecord.gtin).where(CodeRecord.brand_id == brand_id).distinct()
        ).all()
    )
    brand = trust.brand_for(brand_id) if trust is not None else None
    if brand is not None:
        scanned = session.exec(
            select(Scan.gtin).where(col(Scan.scanned_at) >= since).distinct()
        ).all()
        gtins.update(g for g in scanned if brand.owns(g))
    if not gtins:
        return []
    return list(
        session.exec(
            select(Scan)
            .where(col(Scan.gtin).in_(sorted(gtins)), col(Scan.scanned_at) >= since)
            .order_by(col(Scan.scanned_at))
            .limit(50_000)
        ).all()
    )


def alerts_of_brand(session: Session, brand_id: str, since: datetime) -> list[Alert]:
    return list(
        session.exec(
            select(Alert)
            .where(Alert.brand_id == brand_id, col(Alert.created_at) >= since)
            .order_by(col(Alert.created_at))
            .limit(50_000)
        ).all()
    )


def lots_of(
    session: Session, codes: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    if not codes:
        return {}
    gtins = sorted({g for g, _ in codes})
    rows = session.exec(
        select(CodeRecord.gtin, CodeRecord.serial, CodeRecord.lot).where(
            col(CodeRecord.gtin).in_(gtins)
        )
    ).all()
    wanted = set(codes)
    return {(g, s): lot for g, s, lot in rows if (g, s) in wanted}


def audit_of_brand(session: Session, brand_id: str, limit: int = 20) -> list[AuditEvent]:
    gtins = sorted(
        set(
            session.exec(
                select(CodeRecord.gtin).where(CodeRecord.brand_id == brand_id).distinct()
            ).all()
        )
    )
    if not gtins:
        return []
    return list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.gtin).in_(gtins))
            .order_by(col(AuditEvent.at).desc())
            .limit(limit)
        ).all()
    )


def code_from_text(text: str) -> tuple[str, str]:
    """(GTIN, serial) from a Digital Link, an element string (raw or bracketed) or 'GTIN serial'.

    Parsed by authn's scan parser, as the verifier parses a scan; InvalidInput otherwise.
    """
    words = text.split()
    if len(words) == 2 and words[0].isdigit() and len(words[0]) in (8, 12, 13, 14):
        return words[0].zfill(14), words[1]
    found = dict(parse_scan(text, check_associations=False).ais)
    if "01" not in found or "21" not in found:
        raise InvalidInput("the code needs a GTIN (01) and a serial number (21)")
    return found["01"], found["21"]
