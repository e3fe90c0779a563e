"""Replay a simulation through ``detection.assess`` alone: no app, no database.

This is not the evaluation of the service (``service.run`` is): it shows what
the detection rules would decide when fed as the service stores and loads
scans (consumers' locations rounded to 0.1 degree with at least 10 km
accuracy, the 50 most recent scans by scan time within 180 days), so that
thresholds can be compared quickly, and before the service calls ``assess``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.clone_eval.geography import MARKETS
from bench.clone_eval.model import START, ScanEvent, Simulation, StatusEvent
from bench.clone_eval.service import EXPIRY, GTIN, Verdicts
from detection import (
    RULES,
    CodeRecord,
    CodeStatus,
    DetectionSettings,
    Rule,
    Scan,
    assess,
)

HISTORY_LIMIT = 50  # verifier.settings.Settings.history_limit
HISTORY_DAYS = 180  # verifier.settings.Settings.history_days
ANONYMOUS_ACCURACY_M = 10_000.0  # what the service stores for a consumer's location
COARSE_DEGREES = 1


@dataclass
class _Unit:
    lot: str
    status: CodeStatus = "active"
    changed_at: dt.datetime | None = None
    history: list[Scan] = field(default_factory=list)


def stored_scan(event: ScanEvent) -> Scan:
    """The scan as the service records it: consumers' whereabouts coarsened."""
    lat, lon, accuracy = event.lat, event.lon, event.accuracy_m
    device = event.device_id
    if event.role == "anonymous":
        lat, lon = round(lat, COARSE_DEGREES), round(lon, COARSE_DEGREES)
        accuracy = max(accuracy, ANONYMOUS_ACCURACY_M)
    return Scan(
        scan_id=event.scan_id, scanned_at=event.scanned_at, received_at=event.received_at,
        role="consumer" if event.role == "anonymous" else event.role, lat=lat, lon=lon,
        accuracy_m=accuracy, country=event.country, device_id=device,
    )  # fmt: skip


def replay(
    sim: Simulation, settings: DetectionSettings, *, rules: Sequence[Rule] = RULES
) -> Verdicts:
    """Every scan's verdict from ``assess``, also after its serial is detected (the rules
    alone keep no flagged state: each scan is judged on its history).

    ``rules`` leaves rules out, to measure what each one adds.
    """
    units = {serial: _Unit(lot) for lot, serials in sim.lots.items() for serial in serials}
    recalled: set[str] = set()
    verdicts: Verdicts = {}
    for event in sim.events:
        if isinstance(event, StatusEvent):
            _apply(event, units, recalled)
            continue
        unit = units[event.serial]
        scan = stored_scan(event)
        oldest = event.scanned_at - dt.timedelta(days=HISTORY_DAYS)
        window = sorted(
            (s for s in unit.history if s.scanned_at >= oldest),
            key=lambda s: s.scanned_at,
            reverse=True,
        )[:HISTORY_LIMIT]
        record = CodeRecord(
            gtin=GTIN, serial=event.serial, registered=True, status=unit.status,
            lot=unit.lot, expiry=EXPIRY, registered_at=START - dt.timedelta(days=1),
            status_changed_at=unit.changed_at, lot_recalled=unit.lot in recalled,
            intended_markets=frozenset(MARKETS),
        )  # fmt: skip
        result = assess(record, window, scan, settings, now=event.received_at, rules=rules)
        unit.history.append(scan)
        verdicts[event.scan_id] = (result.verdict, result.reasons)
    return verdicts


def _apply(event: StatusEvent, units: dict[str, _Unit], recalled: set[str]) -> None:
    """The registry's status rules: only an active unit is sold; undo restores active."""
    if event.kind == "lot_recall" and event.lot is not None:
        recalled.add(event.lot)
    elif event.serial is not None:
        unit = units[event.serial]
        if event.kind == "sold" and unit.status == "active":
            unit.status, unit.changed_at = "sold", event.received_at
        elif event.kind == "undo" and unit.status == "sold":
            unit.status, unit.changed_at = "active", None
