"""Rules about how widely the code travels: how many devices, which consumers, which markets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from detection import reasons
from detection.common import (
    earlier_scans,
    is_browser_view,
    place,
    session_starts,
    when,
    who,
    widened_distance_km,
)
from detection.independence import BROWSERS_NOTE, only_browsers_apart
from detection.model import CodeRecord, DetectionSettings, Finding, Scan

# How far past the limit the device count is followed: enough to grade the
# excess, few enough that counting stays linear in the history.
_EXCESS_TRACKED = 5
_DEVICES_BASE = 0.5
_DEVICES_PER_EXCESS = 0.15
_DEVICES_MAX = 0.95
_MARKET_WEIGHT = 0.4
# One place away from the shop is what an online order or a move looks like; two or
# more different places are two or more units.
_ONE_PLACE_WEIGHT = 0.3
_MANY_PLACES_WEIGHT = 0.9
# Enough consumer sessions to find the places, few enough to keep the work linear.
_SESSIONS_TRACKED = 20


def too_many_devices(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """TOO_MANY_DEVICES: more distinct devices or sessions than one unit meets.

    One device is one session however often it scans (a buyer checking a
    purchase ten times is one). Device-less scans are separate sessions only
    when far apart in space, or, without a location, in time (see
    :func:`~detection.common.session_starts`). Device ids are
    cheap to invent, so the evidence always weighs as anonymous; when the
    excess is made of anonymous browser views alone, not independent, the
    finding is ``browsers_only`` (a warning the verdict caps).
    """
    settings = settings.for_record(record)
    limit = settings.max_distinct_devices
    scans = [*earlier_scans(history, scan), scan]
    starts = session_starts(scans, settings, cap=limit + _EXCESS_TRACKED)
    if len(starts) <= limit:
        return []
    excess = len(starts) - limit
    at_least = "at least " if len(starts) == limit + _EXCESS_TRACKED else ""
    first = starts[0]
    message = (
        f"Scanned by {at_least}{len(starts)} different devices or sessions since "
        f"{when(first.effective_at)}, more than the {limit} expected for one unit."
    )
    weight = settings.anonymous_weight * min(
        _DEVICES_MAX, _DEVICES_BASE + _DEVICES_PER_EXCESS * excess
    )
    related = tuple(sorted(s.scan_id for s in starts if s.scan_id != scan.scan_id))
    browsers_only = only_browsers_apart(history, scans, scan, settings, limit=limit)
    if browsers_only:
        message += BROWSERS_NOTE
    return [
        Finding(
            reasons.TOO_MANY_DEVICES, "warning", message, weight, related,
            browsers_only=browsers_only,
        )
    ]  # fmt: skip


def outside_intended_market(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """OUTSIDE_INTENDED_MARKET: scanned in a country the unit was not made for.

    Judged only when both the scan's country and the intended markets are
    known. Diversion (grey market) is the commoner cause than copying, so
    the weight is modest; on an anonymous browser view it is information for
    the brand (``info``, weight 0), since its country is only the network's.
    """
    markets = record.intended_markets
    if not markets or scan.country is None or scan.country in markets:
        return []
    if is_browser_view(scan):
        # A page view's country is its network's: where the person is, not where the
        # unit was sold, and travellers carry what they bought. The brand learns of it;
        # the consumer's verdict does not change.
        message = (
            f"Viewed in a browser from a network in {scan.country} at "
            f"{when(scan.effective_at)}, outside its intended markets "
            f"({', '.join(sorted(markets))})."
        )
        return [Finding(reasons.OUTSIDE_INTENDED_MARKET, "info", message, 0.0)]
    settings = settings.for_record(record)
    related = tuple(
        sorted(
            s.scan_id
            for s in earlier_scans(history, scan)
            if s.country is not None and s.country not in markets
        )
    )
    message = (
        f"Scanned by {who(scan)} in {place(scan)} at {when(scan.effective_at)}, outside its "
        f"intended markets ({', '.join(sorted(markets))})."
    )
    weight = _MARKET_WEIGHT * settings.role_weight(scan.role)
    return [Finding(reasons.OUTSIDE_INTENDED_MARKET, "warning", message, weight, related)]


def consumers_far_apart(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """CONSUMERS_FAR_APART: consumers hold the unit in places far apart.

    A unit is bought near its shop and checked by its buyer (and perhaps a
    giftee) in one place. Each consumer session (see
    :func:`~detection.common.session_starts`) is placed where it
    first scanned; places at least ``holder_spread_km`` (150 km, after
    accuracy widening) from the shop (the latest located trade scan) and from
    each other are counted. One such place is a weak sign (an online order, a
    move); two or more are strong. Judged on consumer scans; the weight is
    always anonymous.
    """
    settings = settings.for_record(record)
    if scan.role != "consumer" or not scan.located:
        return []
    at = scan.effective_at
    earlier = [s for s in earlier_scans(history, scan) if s.effective_at <= at]
    shops = [s for s in earlier if s.role == "trade" and s.located]
    anchors = [max(shops, key=lambda s: (s.effective_at, s.scan_id))] if shops else []
    consumers = [s for s in earlier if s.role == "consumer"]
    places: list[Scan] = []
    for start in session_starts([*consumers, scan], settings, cap=_SESSIONS_TRACKED):
        if not start.located:
            continue
        if all(
            widened_distance_km(start, other, settings) >= settings.holder_spread_km
            for other in (*anchors, *places)
        ):
            places.append(start)
    away = len(places) if anchors else len(places) - 1
    if away <= 0:
        return []
    base = _ONE_PLACE_WEIGHT if away == 1 else _MANY_PLACES_WEIGHT
    where = ", ".join(place(s) for s in places)
    since = f"after it was last in trade in {place(anchors[0])}, " if anchors else ""
    message = (
        f"Held by consumers in {len(places)} places at least "
        f"{settings.holder_spread_km:,.0f} km apart ({where}), {since}as of "
        f"{when(at)}; one unit is kept in one place."
    )
    related = tuple(sorted(s.scan_id for s in (*anchors, *places) if s.scan_id != scan.scan_id))
    weight = base * settings.anonymous_weight
    return [Finding(reasons.CONSUMERS_FAR_APART, "warning", message, weight, related)]
