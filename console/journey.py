"""A code's journey: its scans in time order, the legs between them, and the offending ones.

Pure: takes the stored scans (as detection's :class:`Scan`) and the code's
record, replays clone detection over the history (each scan judged against
the scans before it, exactly as the service judges a new scan) and returns
what the code page draws and lists. Replaying, rather than reading stored
answers, gives every finding with the scan ids it concerns, whatever the
verify answer kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from detection import (
    CodeRecord,
    DetectionSettings,
    Finding,
    Scan,
    assess,
    haversine_km,
    reasons,
)

# Findings that say the label was copied; the first scan with one ends the legitimate journey.
COPY_REASONS = frozenset(
    {
        reasons.IMPOSSIBLE_TRAVEL,
        reasons.CONCURRENT_SCANS,
        reasons.TOO_MANY_DEVICES,
        reasons.SCANNED_AFTER_DECOMMISSION,
        reasons.CODE_NOT_REGISTERED,
        reasons.UNIT_IN_SEALED_CASE_ELSEWHERE,
        reasons.ROUTE_IMPLAUSIBLE,
    }
)
# Findings about a pair of places: the leg between the two scans is drawn as offending.
LEG_REASONS = frozenset({reasons.IMPOSSIBLE_TRAVEL, reasons.CONCURRENT_SCANS})


@dataclass(frozen=True)
class CodeFinding:
    """A finding of detection, on the scan it was raised for."""

    scan_id: str
    at: dt.datetime
    reason: str
    severity: str
    message: str
    related_scan_ids: tuple[str, ...]
    weight: float


@dataclass(frozen=True)
class Stop:
    """A located scan on the map, numbered in time order from 1."""

    number: int
    scan: Scan


@dataclass(frozen=True)
class Leg:
    start: Stop
    end: Stop
    distance_km: float
    hours: float
    reasons: tuple[str, ...]  # empty: an ordinary leg

    @property
    def offending(self) -> bool:
        return bool(self.reasons)

    @property
    def speed_kmh(self) -> float | None:
        return self.distance_km / self.hours if self.hours > 0 else None


@dataclass(frozen=True)
class Journey:
    stops: tuple[Stop, ...]
    legs: tuple[Leg, ...]  # consecutive stops, plus offending pairs that are not consecutive
    findings: tuple[CodeFinding, ...]
    first_offending: Scan | None
    last_legitimate: Scan | None
    risk: float  # the latest scan's score, 0..1


def replay_findings(
    record: CodeRecord, scans: Sequence[Scan], settings: DetectionSettings
) -> tuple[list[CodeFinding], float]:
    """Every scan judged against the ones before it; the findings and the last risk score."""
    ordered = sorted(scans, key=lambda s: (s.effective_at, s.scan_id))
    found: list[CodeFinding] = []
    risk = 0.0
    for index, scan in enumerate(ordered):
        assessment = assess(record, ordered[:index], scan, settings, now=scan.received_at)
        risk = assessment.score
        found.extend(_on_scan(scan, f) for f in assessment.findings)
    return found, risk


def _on_scan(scan: Scan, finding: Finding) -> CodeFinding:
    return CodeFinding(
        scan_id=scan.scan_id,
        at=scan.effective_at,
        reason=finding.reason,
        severity=finding.severity,
        message=finding.message,
        related_scan_ids=finding.related_scan_ids,
        weight=finding.weight,
    )


def build_journey(
    record: CodeRecord, scans: Sequence[Scan], settings: DetectionSettings | None = None
) -> Journey:
    settings = settings or DetectionSettings()
    ordered = sorted(scans, key=lambda s: (s.effective_at, s.scan_id))
    findings, risk = replay_findings(record, ordered, settings)
    stops = tuple(Stop(n, s) for n, s in enumerate((s for s in ordered if s.located), start=1))
    by_id = {stop.scan.scan_id: stop for stop in stops}

    # Offending pairs (earlier scan id, later scan id) -> reasons.
    offending: dict[tuple[str, str], set[str]] = {}
    for finding in findings:
        if finding.reason not in LEG_REASONS:
            continue
        for related in finding.related_scan_ids:
            offending.setdefault((related, finding.scan_id), set()).add(finding.reason)

    legs: list[Leg] = []
    consecutive: set[tuple[str, str]] = set()
    for start, end in pairwise(stops):
        pair = (start.scan.scan_id, end.scan.scan_id)
        consecutive.add(pair)
        legs.append(_leg(start, end, tuple(sorted(offending.get(pair, ())))))
    for (first_id, second_id), why in sorted(offending.items()):
        if (first_id, second_id) in consecutive:
            continue
        earlier, later = by_id.get(first_id), by_id.get(second_id)
        if earlier is not None and later is not None:
            legs.append(_leg(earlier, later, tuple(sorted(why))))

    first_bad_id = next((f.scan_id for f in findings if f.reason in COPY_REASONS), None)
    first_offending = next((s for s in ordered if s.scan_id == first_bad_id), None)
    last_legitimate = None
    if first_offending is not None:
        before = ordered[: ordered.index(first_offending)]
        last_legitimate = next((s for s in reversed(before) if s.located), None)
    return Journey(stops, tuple(legs), tuple(findings), first_offending, last_legitimate, risk)


def _leg(start: Stop, end: Stop, why: tuple[str, ...]) -> Leg:
    a, b = start.scan, end.scan
    hours = abs((b.effective_at - a.effective_at).total_seconds()) / 3600
    return Leg(start, end, haversine_km(*position(a), *position(b)), hours, why)


def position(scan: Scan) -> tuple[float, float]:
    """(lat, lon) of a located scan (stops are located by construction)."""
    if scan.lat is None or scan.lon is None:
        raise ValueError(f"scan {scan.scan_id} has no location")
    return scan.lat, scan.lon


def speed_words(leg: Leg) -> str:
    """'8,950 km in 1.0 h (8,950 km/h)', for labels and the table."""
    speed = leg.speed_kmh
    hours = f"{leg.hours * 60:.0f} min" if leg.hours < 1.5 else f"{leg.hours:,.1f} h"
    pace = "same instant" if speed is None else f"{speed:,.0f} km/h"
    return f"{leg.distance_km:,.0f} km in {hours} ({pace})"
