"""Rules about the sites of organisations that handled the code: how many, how often.

A site is where customs or a trade partner scans: a border post, a warehouse,
a pharmacy. Located scans of these roles within ``session_radius_km`` of a
site's first scan belong to that site, whatever handheld made them, so one
organisation's devices never look like many holders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from detection import reasons
from detection.common import by_time, earlier_scans, place, same_site, site_of, when
from detection.model import SITE_ROLES, CodeRecord, DetectionSettings, Finding, Scan

_SITES_WEIGHT = 0.7
# Graded like TOO_MANY_DEVICES: the first read past the limit is a warning, each
# further one adds to it.
_REPEAT_BASE = 0.5
_REPEAT_PER_EXCESS = 0.15
_REPEAT_MAX = 0.95


def too_many_trade_sites(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """TOO_MANY_TRADE_SITES: more trade sites than one unit passes on its way to a shelf.

    A unit goes from a wholesaler (perhaps a second one) to a shop or
    pharmacy: ``max_trade_sites`` (3). Returns go back to a site already
    counted. Trade accounts are accountable and their premises fixed, so the
    evidence weighs as trade, not as anonymous.
    """
    settings = settings.for_record(record)
    sites: list[Scan] = []
    for s in by_time([*earlier_scans(history, scan), scan]):
        if s.role == "trade" and s.located and site_of(s, sites, settings) is None:
            sites.append(s)
    limit = settings.max_trade_sites
    if len(sites) <= limit:
        return []
    names = ", ".join(place(s) for s in sites)
    message = (
        f"Handled by trade partners at {len(sites)} sites far apart ({names}) since "
        f"{when(sites[0].effective_at)}, more than the {limit} one unit passes."
    )
    related = tuple(sorted(s.scan_id for s in sites if s.scan_id != scan.scan_id))
    weight = _SITES_WEIGHT * settings.trade_weight
    return [Finding(reasons.TOO_MANY_TRADE_SITES, "warning", message, weight, related)]


def repeated_at_site(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """REPEATED_AT_SITE: one site read the code more often than one unit is read.

    A warehouse reads a unit at goods-in and goods-out, days apart; customs
    reads it once. More than ``max_scans_per_site`` (3) reads at the new
    scan's site within ``site_window`` (12 h) of it, by any of its handhelds,
    mean several labels in one shipment: copies arrive together.
    """
    settings = settings.for_record(record)
    if scan.role not in SITE_ROLES or not scan.located:
        return []
    window = settings.site_window
    here = [
        s
        for s in earlier_scans(history, scan)
        if s.role in SITE_ROLES
        and s.located
        and abs(s.effective_at - scan.effective_at) <= window
        and same_site(s, scan, settings)
    ]
    count = len(here) + 1
    limit = settings.max_scans_per_site
    if count <= limit:
        return []
    hours = window.total_seconds() / 3600
    message = (
        f"Read {count} times within {hours:g} h at {place(scan)} (up to "
        f"{when(scan.effective_at)}), more than the {limit} reads one unit gets there: "
        f"several labels carry this code."
    )
    grade = min(_REPEAT_MAX, _REPEAT_BASE + _REPEAT_PER_EXCESS * (count - limit - 1))
    weight = grade * settings.role_weight(scan.role)
    related = tuple(sorted(s.scan_id for s in here))
    return [Finding(reasons.REPEATED_AT_SITE, "warning", message, weight, related)]
