"""The stable reason codes of the detection rules.

These strings are an interface: the service stores them, consoles filter on
them and alerts carry them. Add new ones; never rename or reuse one.
"""

from __future__ import annotations

SCANNED_AFTER_DECOMMISSION = "SCANNED_AFTER_DECOMMISSION"
LOT_RECALLED = "LOT_RECALLED"
UNIT_RECALLED = "UNIT_RECALLED"
CODE_EXPIRED = "CODE_EXPIRED"
CODE_NOT_REGISTERED = "CODE_NOT_REGISTERED"
IMPOSSIBLE_TRAVEL = "IMPOSSIBLE_TRAVEL"
CONCURRENT_SCANS = "CONCURRENT_SCANS"
TOO_MANY_DEVICES = "TOO_MANY_DEVICES"
OUTSIDE_INTENDED_MARKET = "OUTSIDE_INTENDED_MARKET"
# From track-and-trace events (verifier.epcis.aggregation).
UNIT_IN_SEALED_CASE_ELSEWHERE = "UNIT_IN_SEALED_CASE_ELSEWHERE"
ROUTE_IMPLAUSIBLE = "ROUTE_IMPLAUSIBLE"

ALL_REASONS: frozenset[str] = frozenset(
    {
        SCANNED_AFTER_DECOMMISSION,
        LOT_RECALLED,
        UNIT_RECALLED,
        CODE_EXPIRED,
        CODE_NOT_REGISTERED,
        IMPOSSIBLE_TRAVEL,
        CONCURRENT_SCANS,
        TOO_MANY_DEVICES,
        OUTSIDE_INTENDED_MARKET,
        UNIT_IN_SEALED_CASE_ELSEWHERE,
        ROUTE_IMPLAUSIBLE,
    }
)
