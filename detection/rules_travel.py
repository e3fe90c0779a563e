"""Rules about where and when the code was scanned: impossible travel, concurrent scans.

Both compare the new scan with every earlier placed scan (not only the
latest one: a clone scanned between two genuine scans must still be caught),
so each is linear in the history. A scan is placed by its coordinates, or,
when the service passes country data (``settings.countries``), by its country
alone: then the distance is the least one between the two countries (or the
country and the other scan's point), so travel is impossible only if even the
nearest points are too far apart; border neighbours are 0 km apart and never
count, and a country without data is never compared. A leg between two anonymous
scans with a country-only end counts only under the independence rule
(:mod:`detection.independence`): one far-away view must not make the next
consumer's page say "Check advised".
Two scans by one device are never compared: a device is in one place at a
time, so its own jumps are location errors, not copies.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from detection import reasons
from detection.common import (
    duration,
    earlier_scans,
    least_distance_km,
    place,
    same_device,
    when,
    who,
)
from detection.independence import independent_sources
from detection.model import (
    TRUSTED_ROLES,
    CodeRecord,
    DetectionSettings,
    Finding,
    Scan,
    Severity,
)

_TRAVEL_WEIGHT = 0.9
_CONCURRENT_WEIGHT = 0.95


@dataclass(frozen=True)
class _Leg:
    earlier: Scan
    distance_km: float  # widened: the least the two scans can be apart
    interval: dt.timedelta  # without the clock-skew allowance
    speed_kmh: float  # with the allowance
    by_country: bool  # an end placed by its country only (a page view)


def _placed(scan: Scan, settings: DetectionSettings) -> bool:
    return scan.located or (
        settings.countries is not None and settings.countries.knows(scan.country)
    )


def _legs(history: Sequence[Scan], scan: Scan, settings: DetectionSettings) -> list[_Leg]:
    """Every earlier placed scan paired with the new one, as a leg of a journey."""
    if not _placed(scan, settings):
        return []
    legs: list[_Leg] = []
    for earlier in earlier_scans(history, scan):
        if not _placed(earlier, settings) or same_device(earlier, scan):
            continue
        least = least_distance_km(scan, earlier, settings)
        if least is None:
            continue
        distance = least
        interval = abs(scan.effective_at - earlier.effective_at)
        hours = (interval + settings.clock_skew).total_seconds() / 3600
        speed = distance / hours if hours > 0 else math.inf
        by_country = not (scan.located and earlier.located)
        legs.append(_Leg(earlier, distance, interval, speed, by_country))
    if any(_anonymous_by_country(scan, leg) for leg in legs) and (
        independent_sources(history, scan, settings) is None
    ):
        # Two anonymous views placed by their networks' countries are one griefer's VPN
        # as easily as two items: such a leg counts only under the independence rule.
        legs = [leg for leg in legs if not _anonymous_by_country(scan, leg)]
    return legs


def _anonymous_by_country(scan: Scan, leg: _Leg) -> bool:
    return leg.by_country and not ({scan.role, leg.earlier.role} & TRUSTED_ROLES)


def _evidence(
    scan: Scan, legs: list[_Leg], base: float, settings: DetectionSettings
) -> tuple[Severity, float]:
    """Severity and weight over ``legs``: a trusted scan at either end makes it critical."""
    roles = {scan.role, *(leg.earlier.role for leg in legs)}
    weight = base * max(settings.role_weight(role) for role in roles)
    return ("critical" if roles & TRUSTED_ROLES else "warning"), weight


def _and_others(count: int) -> str:
    if count <= 1:
        return ""
    others = "scan conflicts" if count == 2 else "scans conflict"
    return f" ({count - 1} other earlier {others} in the same way.)"


def impossible_travel(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """IMPOSSIBLE_TRAVEL: no aircraft could carry the unit between two scans.

    Distance is the great-circle distance minus both scans' stated accuracy;
    time is the interval plus the clock-skew allowance. Pairs closer than
    ``min_distance_km`` are location noise and never count.
    """
    settings = settings.for_record(record)
    offending = [
        leg
        for leg in _legs(history, scan, settings)
        if leg.distance_km >= settings.min_distance_km and leg.speed_kmh > settings.max_speed_kmh
    ]
    if not offending:
        return []
    worst = max(offending, key=lambda leg: (leg.speed_kmh, leg.earlier.scan_id))
    first, second = sorted((worst.earlier, scan), key=lambda s: (s.effective_at, s.scan_id))
    message = (
        f"Scanned by {who(first)} in {place(first)} at {when(first.effective_at)} and by "
        f"{who(second)} in {place(second)} at {when(second.effective_at)}: at least "
        f"{worst.distance_km:,.0f} km in {duration(worst.interval)} would need "
        f"{_speed(worst.speed_kmh)}, above the {settings.max_speed_kmh:,.0f} km/h "
        f"of air freight.{_and_others(len(offending))}"
    )
    severity, weight = _evidence(scan, offending, _TRAVEL_WEIGHT, settings)
    related = tuple(sorted(leg.earlier.scan_id for leg in offending))
    return [Finding(reasons.IMPOSSIBLE_TRAVEL, severity, message, weight, related)]


def _speed(kmh: float) -> str:
    return "an infinite speed" if math.isinf(kmh) else f"{kmh:,.0f} km/h"


def concurrent_scans(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """CONCURRENT_SCANS: the code was scanned in two far-apart places at nearly the same time.

    Symmetric by construction (absolute interval, symmetric distance), so when
    two workers judge two such scans at the same instant and the service puts
    each in the other's history, whichever is judged second flags it.
    """
    settings = settings.for_record(record)
    offending = [
        leg
        for leg in _legs(history, scan, settings)
        if leg.interval <= settings.concurrency_window
        and leg.distance_km >= settings.concurrency_min_distance_km
    ]
    if not offending:
        return []
    worst = max(offending, key=lambda leg: (leg.distance_km, leg.earlier.scan_id))
    message = (
        f"Scanned in {place(worst.earlier)} at {when(worst.earlier.effective_at)} and in "
        f"{place(scan)} at {when(scan.effective_at)}, at least {worst.distance_km:,.0f} km "
        f"apart within {duration(worst.interval)}: two labels carry this code."
        f"{_and_others(len(offending))}"
    )
    severity, weight = _evidence(scan, offending, _CONCURRENT_WEIGHT, settings)
    related = tuple(sorted(leg.earlier.scan_id for leg in offending))
    return [Finding(reasons.CONCURRENT_SCANS, severity, message, weight, related)]
