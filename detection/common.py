"""Helpers the rules share: distances, the history as the rules see it, sessions, wording."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from authn.errors import InvalidInput
from detection.model import INTERNAL_ROLES, SITE_ROLES, DetectionSettings, Scan

# Mean Earth radius (IUGG); the haversine error against the ellipsoid is
# under 0.5 %, far below the location uncertainty of a phone.
EARTH_RADIUS_KM = 6371.0088


# An anonymous page view is recorded as "net:<network>/<browser>": the network it came
# from, then its browser session. Device rules count the network (docs/detection.md).
NETWORK_DEVICE_PREFIX = "net:"
NETWORK_SEPARATOR = "/"
# A browser's session cookie as the /scan page records it (mobile_api.web).
BROWSER_DEVICE_PREFIX = "web:"
# What every anonymous browser view becomes when browsers are counted as one.
_BROWSERS_AS_ONE = "browsers"


def device_key(device_id: str) -> str:
    """What device-count rules count for a device id: a network id's network part."""
    if device_id.startswith(NETWORK_DEVICE_PREFIX):
        return device_id.split(NETWORK_SEPARATOR, 1)[0]
    return device_id


def is_browser_view(scan: Scan) -> bool:
    """An anonymous consumer scan from a web browser: a label page view (recorded as its
    network) or the /scan page (recorded as its session cookie)."""
    return (
        scan.role == "consumer"
        and scan.device_id is not None
        and scan.device_id.startswith((NETWORK_DEVICE_PREFIX, BROWSER_DEVICE_PREFIX))
    )


def rests_on_browsers(scans: Sequence[Scan], settings: DetectionSettings, *, limit: int) -> bool:
    """Whether ``scans`` exceed ``limit`` sessions only by counting browsers apart.

    Counted again with every anonymous browser view as one session: if that count is
    within the limit, the excess is made of distinct networks and cookies alone, which
    one household's phones (each on its carrier's changing addresses, on home Wi-Fi,
    with cleared cookies) make as easily as copies do (docs/detection.md,
    "Browser evidence")."""
    merged = [
        dataclasses.replace(s, device_id=_BROWSERS_AS_ONE) if is_browser_view(s) else s
        for s in scans
    ]
    return len(session_starts(merged, settings, cap=limit + 1)) <= limit


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points in degrees, in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    # min() guards asin against rounding just above 1 for antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def accuracy_km(scan: Scan, settings: DetectionSettings) -> float:
    metres = settings.assumed_accuracy_m if scan.accuracy_m is None else scan.accuracy_m
    return metres / 1000.0


def distance_km(a: Scan, b: Scan) -> float:
    """Distance between two located scans (callers check ``located`` first)."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        raise InvalidInput("both scans need a location to measure a distance")
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


def widened_distance_km(a: Scan, b: Scan, settings: DetectionSettings) -> float:
    """The least distance the two scans can be apart, given their stated accuracy."""
    return max(0.0, distance_km(a, b) - accuracy_km(a, settings) - accuracy_km(b, settings))


def least_distance_km(a: Scan, b: Scan, settings: DetectionSettings) -> float | None:
    """The least distance the two scans can be apart, or None when it cannot be bounded.

    Points widen by their stated accuracy; a scan placed only by its country (a page
    view) is anywhere in that country, so the bound is the least distance between the
    country and the other scan's point or country (detection.countries)."""
    if a.located and b.located:
        return widened_distance_km(a, b, settings)
    countries = settings.countries
    if countries is None:
        return None
    if a.located or b.located:
        point, other = (a, b) if a.located else (b, a)
        assert point.lat is not None
        assert point.lon is not None
        reach = countries.to_point(other.country, point.lat, point.lon)
        return None if reach is None else max(0.0, reach - accuracy_km(point, settings))
    return countries.between(a.country, b.country)


def same_site(a: Scan, b: Scan, settings: DetectionSettings) -> bool:
    """Whether two located scans may have been made at one site (within ``session_radius_km``)."""
    return widened_distance_km(a, b, settings) <= settings.session_radius_km


def far_apart(a: Scan, b: Scan, settings: DetectionSettings) -> bool:
    """Whether two located scans are surely in different places (``min_distance_km`` or more)."""
    return widened_distance_km(a, b, settings) >= settings.min_distance_km


def site_of(scan: Scan, sites: Sequence[Scan], settings: DetectionSettings) -> int | None:
    """The index of the first site (its first scan) ``scan`` may belong to, if any."""
    return next((i for i, site in enumerate(sites) if same_site(scan, site, settings)), None)


def by_time(scans: Iterable[Scan]) -> list[Scan]:
    return sorted(scans, key=lambda s: (s.effective_at, s.scan_id))


def same_device(a: Scan, b: Scan) -> bool:
    """One device is in one place at a time: its own jumps are location errors."""
    return a.device_id is not None and a.device_id == b.device_id


def earlier_scans(history: Iterable[Scan], scan: Scan) -> list[Scan]:
    """The history without the new scan itself, one entry per scan id, in a fixed order.

    The service may include the new scan in its history (it does, for
    concurrent scans); a scan never judges itself. Duplicated ids keep one
    entry chosen by content, so the result does not depend on history order.
    """
    by_id: dict[str, Scan] = {}
    for earlier in history:
        if earlier.scan_id == scan.scan_id:
            continue
        kept = by_id.get(earlier.scan_id)
        if kept is None or (earlier != kept and repr(earlier) < repr(kept)):
            by_id[earlier.scan_id] = earlier
    return by_time(by_id.values())


@dataclass
class _Cluster:
    last_at: dt.datetime
    anchor: Scan | None  # the first located scan of the cluster


def session_starts(scans: Sequence[Scan], settings: DetectionSettings, *, cap: int) -> list[Scan]:
    """The first scan of each distinct session (person, roughly), at most ``cap`` of them.

    A located customs or trade scan belongs to its site: one warehouse, post
    or shop is one session however many handhelds it uses. Otherwise a device
    id is one session however often it scans. Scans without a device id join
    an earlier device-less cluster when both are located within
    ``session_radius_km`` of its anchor, or, when either lacks a location,
    when they come within ``session_gap`` of its last scan; every other
    device-less scan starts a session of its own. Brand and admin scans are
    the right holder's own handling and are not counted. Counting stops at
    ``cap``, which keeps the work linear in the history.
    """
    devices: set[str] = set()
    clusters: list[_Cluster] = []
    sites: list[Scan] = []
    starts: list[Scan] = []
    for scan in by_time(scans):
        if len(starts) >= cap:
            break
        if scan.role in INTERNAL_ROLES:
            continue
        if scan.role in SITE_ROLES and scan.located:
            if site_of(scan, sites, settings) is None:
                sites.append(scan)
                starts.append(scan)
            continue
        if scan.device_id is not None:
            key = device_key(scan.device_id)
            if key not in devices:
                devices.add(key)
                starts.append(scan)
            continue
        joined = _join(clusters, scan, settings)
        if joined is None:
            clusters.append(_Cluster(scan.effective_at, scan if scan.located else None))
            starts.append(scan)
        else:
            joined.last_at = max(joined.last_at, scan.effective_at)
            if joined.anchor is None and scan.located:
                joined.anchor = scan
    return starts


def _join(clusters: list[_Cluster], scan: Scan, settings: DetectionSettings) -> _Cluster | None:
    for cluster in clusters:
        if scan.located and cluster.anchor is not None:
            if distance_km(scan, cluster.anchor) <= settings.session_radius_km:
                return cluster
        elif scan.effective_at - cluster.last_at <= settings.session_gap:
            return cluster
    return None


def place(scan: Scan) -> str:
    """A scan's whereabouts in words an officer can read off a map."""
    parts: list[str] = []
    if scan.country is not None:
        parts.append(scan.country)
    if scan.lat is not None and scan.lon is not None:
        ns = "N" if scan.lat >= 0 else "S"
        ew = "E" if scan.lon >= 0 else "W"
        parts.append(f"({abs(scan.lat):.2f}°{ns}, {abs(scan.lon):.2f}°{ew})")
    return " ".join(parts) if parts else "an unknown place"


def when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(delta: dt.timedelta) -> str:
    minutes = abs(delta.total_seconds()) / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def who(scan: Scan) -> str:
    return {"consumer": "a consumer", "officer": "an officer", "trade": "a trade partner"}.get(
        scan.role, f"the {scan.role}"
    )
