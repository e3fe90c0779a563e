"""Loading what the rules need about one code: a fixed number of indexed queries.

The hot path reads the code's row, its lot's status, its intended markets, the
brand's detection thresholds for the GTIN and a bounded window of recent scans
(newest first), never the full history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from authn.code import ProductCode
from verifier.db.models import CodeRecord, IntendedMarket, LotStatus, ProductThreshold, Scan
from verifier.detection import ProductThresholds
from verifier.verification.rules import CodeFacts, ScanFacts, effective_status_of

__all__ = ["CodeState", "code_facts", "effective_status_of", "load_state", "scan_facts"]


@dataclass(frozen=True)
class CodeState:
    record: CodeFacts | None
    lot_status: str | None
    intended_markets: tuple[str, ...] | None
    recent: tuple[ScanFacts, ...]
    thresholds: ProductThresholds | None = None


def thresholds_of(row: ProductThreshold | None) -> ProductThresholds | None:
    if row is None:
        return None
    return ProductThresholds(
        max_distinct_devices=row.max_distinct_devices,
        max_sessions_after_sale=row.max_sessions_after_sale,
        max_speed_kmh=row.max_speed_kmh,
    )


def code_facts(row: CodeRecord) -> CodeFacts:
    return CodeFacts(
        gtin=row.gtin, serial=row.serial, lot=row.lot, expiry=row.expiry, key_id=row.key_id,
        batch_id=row.batch_id, brand_id=row.brand_id, registered_at=row.registered_at,
        status=row.status, status_changed_at=row.status_changed_at,
    )  # fmt: skip


def scan_facts(row: Scan) -> ScanFacts:
    return ScanFacts(
        scanned_at=row.scanned_at, role=row.role, device_id=row.device_id, country=row.country,
        lat=row.lat, lon=row.lon, accuracy_m=row.accuracy_m, verdict=row.verdict,
        scan_id=row.scan_id, recorded_at=row.recorded_at,
    )  # fmt: skip


def load_state(
    session: Session, code: ProductCode, *, now: datetime, history_limit: int, history_days: int
) -> CodeState:
    row = session.exec(
        select(CodeRecord).where(CodeRecord.gtin == code.gtin, CodeRecord.serial == code.serial)
    ).first()
    lot_status = None
    if code.lot is not None:
        lot_status = session.exec(
            select(LotStatus.status).where(LotStatus.gtin == code.gtin, LotStatus.lot == code.lot)
        ).first()
    markets: tuple[str, ...] | None = None
    thresholds = None
    if row is not None:
        thresholds = thresholds_of(
            session.exec(select(ProductThreshold).where(ProductThreshold.gtin == code.gtin)).first()
        )
        # A batch's own markets win over the GTIN-wide ones ('' sorts last descending).
        stored = session.exec(
            select(IntendedMarket.markets)
            .where(
                IntendedMarket.gtin == code.gtin,
                col(IntendedMarket.batch_id).in_([row.batch_id, ""]),
            )
            .order_by(col(IntendedMarket.batch_id).desc())
            .limit(1)
        ).first()
        markets = tuple(stored.split(",")) if stored else None
    recent = session.exec(
        select(Scan)
        .where(
            Scan.gtin == code.gtin,
            Scan.serial == code.serial,
            Scan.scanned_at >= now - timedelta(days=history_days),
        )
        .order_by(col(Scan.scanned_at).desc())
        .limit(history_limit)
    ).all()
    return CodeState(
        record=code_facts(row) if row is not None else None,
        lot_status=lot_status,
        intended_markets=markets,
        recent=tuple(scan_facts(s) for s in recent),
        thresholds=thresholds,
    )
