"""OUT_OF_SEQUENCE: one unit moves forward through its supply chain, never back.

A unit is cleared by customs, carried by trade partners (distributor,
pharmacy, shop) to a shelf and sold to a consumer (``STAGES``). Once it has
moved on, it does not turn up again upstream somewhere else, nor back at a
warehouse it has left, nor in a shop far from where it was sold: when that
happens, two labels carry the code. The rule is what gives a copy away days
or weeks after the genuine unit was seen, in a place it could have reached,
where the travel rules see nothing.

Only located scans take part, and only scans made at or before the new one
(by ``effective_at``): a scan is judged against what had happened by then.
A site is where scans fall within ``session_radius_km`` of its first scan,
whichever handheld made them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from detection import reasons
from detection.common import (
    by_time,
    earlier_scans,
    far_apart,
    place,
    same_device,
    session_starts,
    site_of,
    when,
    who,
)
from detection.model import (
    SITE_ROLES,
    STAGES,
    CodeRecord,
    DetectionSettings,
    Finding,
    Scan,
)

# Base weights, multiplied by the weaker role weight of the scans involved.
_UPSTREAM_WEIGHT = 0.7  # scanned upstream, elsewhere, after a later stage
_UPSTREAM_MANY_CONSUMERS_WEIGHT = 0.9  # ... after two or more consumers had it elsewhere
_RETURN_WEIGHT = 0.7  # back at a site it had left, or in trade far from its sale
# A recall sends units back up the chain: one return trip is expected then.
_RETURNS_ALLOWED_IN_RECALL = 1


@dataclass(frozen=True)
class _Evidence:
    weight: float
    message: str
    related: tuple[str, ...]


def out_of_sequence(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """OUT_OF_SEQUENCE: the unit went back up its chain, or back to a site it had left.

    Three forms, the strongest reported:

    - **upstream**: a customs or trade scan far (``min_distance_km``) from an
      earlier scan of a later stage: customs after a trade partner or a
      consumer had the unit elsewhere, a trade partner after a consumer did;
    - **back at a site**: a customs or trade scan at a site the unit had left
      for another one (one such return is expected while the unit or its lot
      is recalled);
    - **sold elsewhere**: a trade scan far from the shop where the unit was
      sold (the trade scans within ``sale_window`` before the sale was
      recorded).
    """
    settings = settings.for_record(record)
    if not scan.located or scan.role not in SITE_ROLES:
        return []
    before = [
        s for s in earlier_scans(history, scan) if s.located and s.effective_at <= scan.effective_at
    ]
    found = [
        evidence
        for evidence in (
            _upstream(scan, before, settings),
            _back_at_site(record, scan, before, settings),
            _sold_elsewhere(record, scan, before, settings),
        )
        if evidence is not None
    ]
    if not found:
        return []
    best = max(found, key=lambda e: e.weight)
    return [Finding(reasons.OUT_OF_SEQUENCE, "warning", best.message, best.weight, best.related)]


def _upstream(scan: Scan, before: list[Scan], settings: DetectionSettings) -> _Evidence | None:
    later_stage = [
        s
        for s in before
        if STAGES[s.role] > STAGES[scan.role]
        and far_apart(s, scan, settings)
        and not same_device(s, scan)
    ]
    if not later_stage:
        return None
    consumers = [s for s in later_stage if s.role == "consumer"]
    # Two people far away each holding the unit is harder to explain than one.
    many = len(session_starts(consumers, settings, cap=2)) >= 2

    def weight(earlier: Scan) -> float:
        base = _UPSTREAM_WEIGHT
        if earlier.role == "consumer" and many:
            base = _UPSTREAM_MANY_CONSUMERS_WEIGHT
        return base * min(settings.role_weight(scan.role), settings.role_weight(earlier.role))

    strongest = max(later_stage, key=lambda s: (weight(s), s.effective_at, s.scan_id))
    others = f" ({len(later_stage) - 1} more such scans)" if len(later_stage) > 1 else ""
    message = (
        f"Scanned by {who(scan)} in {place(scan)} at {when(scan.effective_at)}, after "
        f"{who(strongest)} had it in {place(strongest)} at {when(strongest.effective_at)}"
        f"{others}: a unit does not go back up its supply chain somewhere else."
    )
    related = tuple(sorted(s.scan_id for s in later_stage))
    return _Evidence(weight(strongest), message, related)


def _back_at_site(
    record: CodeRecord, scan: Scan, before: list[Scan], settings: DetectionSettings
) -> _Evidence | None:
    recalled = record.lot_recalled or record.status == "recalled"
    allowed = _RETURNS_ALLOWED_IN_RECALL if recalled else 0
    sites: list[Scan] = []  # the first scan at each site
    current: int | None = None
    returns: list[tuple[Scan, Scan]] = []  # (the site left, the scan back at an earlier site)
    for s in by_time([*(b for b in before if b.role in SITE_ROLES), scan]):
        index = site_of(s, sites, settings)
        if index is None:
            sites.append(s)
            current = len(sites) - 1
        elif index != current:
            if current is not None:
                returns.append((sites[current], s))
            current = index
    # Judged on the scan that comes back: it is the last one on the path.
    if len(returns) <= allowed or returns[-1][1] is not scan or current is None:
        return None
    left, _ = returns[-1]
    earlier = sites[current]
    message = (
        f"Scanned by {who(scan)} in {place(scan)} at {when(scan.effective_at)}, back at a site "
        f"that handled it on {when(earlier.effective_at)}, after it had moved on to "
        f"{place(left)}: a unit that moved on does not come back."
    )
    weight = _RETURN_WEIGHT * settings.role_weight(scan.role)
    return _Evidence(weight, message, tuple(sorted({left.scan_id, earlier.scan_id})))


def _sold_elsewhere(
    record: CodeRecord, scan: Scan, before: list[Scan], settings: DetectionSettings
) -> _Evidence | None:
    sold_at = record.status_changed_at
    if record.status != "sold" or sold_at is None or scan.role != "trade":
        return None
    if scan.effective_at < sold_at:
        return None
    at_sale = [
        s
        for s in before
        if s.role == "trade" and sold_at - settings.sale_window <= s.effective_at <= sold_at
    ]
    if not at_sale or not all(far_apart(s, scan, settings) for s in at_sale):
        return None
    shop = max(at_sale, key=lambda s: (s.effective_at, s.scan_id))
    message = (
        f"Scanned by {who(scan)} in {place(scan)} at {when(scan.effective_at)}, after it was "
        f"sold in {place(shop)} on {when(sold_at)}: a sold unit comes back, if at all, to "
        f"where it was sold."
    )
    weight = _RETURN_WEIGHT * settings.role_weight(scan.role)
    return _Evidence(weight, message, tuple(sorted(s.scan_id for s in at_sale)))
