"""The independence rule: when anonymous page views are independent sources, pure.

Anonymous evidence alone says "two items" only when it comes from independent
sources: at least three distinct networks, one source each however many views or
addresses it sends, within a day, with places (their countries, or shared points)
that no one could travel between in the time between their views, and no single
source that every such impossible pair rests on (it alone could be misplaced). Only page
views the service placed itself count (device id ``net:<network>/<browser>``): their
network and country come from the client address, not from the request.

Two rules use it: a code is flagged by anonymous evidence only under it
(:mod:`detection.flagging`), and the travel rules count a leg between two anonymous
scans placed by country only under it (:mod:`detection.rules_travel`), so one
far-away view, or a flood from one network, cannot make the next consumer's page say
"Check advised". docs/detection.md, "A code's state", gives the reasoning.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from detection.common import (
    NETWORK_DEVICE_PREFIX,
    device_key,
    earlier_scans,
    least_distance_km,
    rests_on_browsers,
)
from detection.model import DetectionSettings, Scan

# This many distinct networks ...
INDEPENDENT_NETWORKS_TO_FLAG = 3
# ... whose views all fall within this window of the judged one.
INDEPENDENCE_WINDOW = dt.timedelta(hours=24)


def _network(scan: Scan) -> str | None:
    """The network an anonymous page view came from, or None for any other scan."""
    if scan.role != "consumer" or scan.device_id is None:
        return None
    if not scan.device_id.startswith(NETWORK_DEVICE_PREFIX):
        return None  # a device id the caller chose: not a network the service saw
    return device_key(scan.device_id)


def _apart(a: Scan, b: Scan, settings: DetectionSettings) -> bool:
    """Whether no one could have made both views: too far apart for the time between."""
    distance = least_distance_km(a, b, settings)
    if distance is None or distance < settings.min_distance_km:
        return False
    hours = (abs(a.effective_at - b.effective_at) + settings.clock_skew).total_seconds() / 3600
    speed = distance / hours if hours > 0 else math.inf
    return speed > settings.max_speed_kmh


def independent_sources(
    history: Sequence[Scan], scan: Scan, settings: DetectionSettings
) -> tuple[str, ...] | None:
    """The anonymous views that together flag the code, or None (the independence rule).

    Only page views the service placed itself count (device id ``net:<network>/...``):
    their network and country come from the client address, not from the request.
    Each network is one source, its first view in the window, so one address or one
    network never counts twice. The sources must span at least
    ``INDEPENDENT_NETWORKS_TO_FLAG`` networks within ``INDEPENDENCE_WINDOW`` of the judged
    view, and some pairs of them must be impossible to reach from one another in the time
    between them (least distance between their countries or points, the travel rule's
    speed), without any one source in every such pair: three far-apart places, or two
    places with two networks each. Returns the sources' scan ids, the judged one first.
    """
    if _network(scan) is None:
        return None
    first: dict[str, Scan] = {}
    for candidate in [scan, *earlier_scans(history, scan)]:
        network = _network(candidate)
        if network is None or abs(candidate.effective_at - scan.effective_at) > INDEPENDENCE_WINDOW:
            continue
        kept = first.get(network)
        if kept is None or (candidate.effective_at, candidate.scan_id) < (
            kept.effective_at, kept.scan_id,
        ):  # fmt: skip
            first[network] = candidate
    if len(first) < INDEPENDENT_NETWORKS_TO_FLAG:
        return None
    sources = sorted(first.values(), key=lambda s: (s.effective_at, s.scan_id))
    # No single source may decide: if one network is in every impossible pair, it alone
    # may be misplaced (a VPN exit, a corporate proxy, a rented server abroad).
    deciding: set[str] | None = None
    for i, a in enumerate(sources):
        for b in sources[i + 1 :]:
            if _apart(a, b, settings):
                pair = {a.scan_id, b.scan_id}
                deciding = pair if deciding is None else deciding & pair
                if not deciding:
                    return (
                        scan.scan_id,
                        *(s.scan_id for s in sources if s.scan_id != scan.scan_id),
                    )
    return None


BROWSERS_NOTE = (
    " They are anonymous browser views on distinct networks or cookies only, as one"
    " household's phones make: a warning, not a verdict."
)


def only_browsers_apart(
    history: Sequence[Scan],
    scans: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    limit: int,
) -> bool:
    """Whether a count of ``scans`` over ``limit`` rests on anonymous browser views alone
    (:func:`~detection.common.rests_on_browsers`) and those views are not independent
    sources (:func:`independent_sources`: networks in places too
    far apart for the time between them). Such evidence only warns (docs/detection.md,
    "Browser evidence")."""
    if not rests_on_browsers(scans, settings, limit=limit):
        return False
    return independent_sources(history, scan, settings) is None
