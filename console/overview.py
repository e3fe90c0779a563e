"""The brand overview's figures, computed from rows already read (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from keys.trust import TrustList
from verifier.db.models import Alert, Scan

WEEKS = 12
# The brand's own safety notices, not suspicion: they never rank a code or lot "suspicious".
SAFETY_NOTICES = frozenset({"LOT_RECALLED", "UNIT_RECALLED"})


@dataclass(frozen=True)
class KeyEvent:
    at: datetime
    what: str


@dataclass(frozen=True)
class Overview:
    scans_by_country: list[tuple[str, int]]
    alerts_by_country: list[tuple[str, int]]
    scans_by_week: list[tuple[str, int]]
    alerts_by_week: list[tuple[str, int]]
    top_codes: list[tuple[str, str, int]]  # gtin, serial, alerts
    top_lots: list[tuple[str, str, int]]  # gtin, lot, alerts
    places: list[tuple[float, float, int]]  # lat, lon (rounded to 1 degree), scans


def week_start(moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def by_week(moments: Sequence[datetime], now: datetime) -> list[tuple[str, int]]:
    """Counts per ISO week (Monday first), the last ``WEEKS`` weeks, oldest first, zeros kept."""
    first = week_start(now) - timedelta(weeks=WEEKS - 1)
    counts = Counter(week_start(m) for m in moments if m >= first)
    return [
        (f"{(first + timedelta(weeks=i)):%d %b}", counts.get(first + timedelta(weeks=i), 0))
        for i in range(WEEKS)
    ]


def by_country(countries: Sequence[str | None], top: int = 12) -> list[tuple[str, int]]:
    counts = Counter(c or "unknown" for c in countries)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def overview(
    scans: Sequence[Scan],
    alerts: Sequence[Alert],
    lots: dict[tuple[str, str], str | None],
    now: datetime,
) -> Overview:
    suspicious = [a for a in alerts if a.kind not in SAFETY_NOTICES]
    code_alerts = Counter((a.gtin, a.serial) for a in suspicious)
    lot_alerts: Counter[tuple[str, str]] = Counter()
    for a in suspicious:
        lot = a.lot or lots.get((a.gtin, a.serial))
        if lot:
            lot_alerts[(a.gtin, lot)] += 1
    places = Counter(
        (float(round(s.lat)), float(round(s.lon)))
        for s in scans
        if s.lat is not None and s.lon is not None
    )
    return Overview(
        scans_by_country=by_country([s.country for s in scans]),
        alerts_by_country=by_country([a.country for a in alerts]),
        scans_by_week=by_week([s.scanned_at for s in scans], now),
        alerts_by_week=by_week([a.created_at for a in alerts], now),
        top_codes=[
            (g, s, n) for (g, s), n in sorted(code_alerts.items(), key=lambda i: (-i[1], i[0]))[:10]
        ],
        top_lots=[
            (g, lot, n)
            for (g, lot), n in sorted(lot_alerts.items(), key=lambda i: (-i[1], i[0]))[:10]
        ],
        places=[(lat, lon, n) for (lat, lon), n in sorted(places.items())][:500],
    )


def key_events(trust: TrustList | None, brand_id: str) -> list[KeyEvent]:
    """Certificates issued, root rotations and revocations of the brand's keys, newest first."""
    if trust is None:
        return []
    events: list[KeyEvent] = []
    brand = trust.brand_for(brand_id)
    if brand is not None:
        events.append(KeyEvent(brand.registered_at, f"brand registered by {brand.registered_by}"))
        for rotation in brand.rotations:
            events.append(KeyEvent(rotation.rotated_at, "root key rotated"))
    own = [c for c in trust.line_keys if c.brand_id == brand_id]
    for cert in own:
        events.append(KeyEvent(cert.issued_at, f"line key {cert.key_id} ({cert.name}) certified"))
    own_keys = {c.public_key.public_bytes_raw() for c in own}
    for revocation in trust.revocations:
        if revocation.public_key.public_bytes_raw() in own_keys:
            events.append(
                KeyEvent(
                    revocation.revoked_at,
                    f"line key {revocation.key_id} revoked ({revocation.reason}); codes registered "
                    f"after {revocation.compromised_since:%Y-%m-%d %H:%M} UTC are not genuine",
                )
            )
    return sorted(events, key=lambda e: e.at, reverse=True)
