"""Clone detection: pure rules over one code's scan history.

No database, network or clock: the service passes the code's record, a
bounded slice of its history, the new scan and ``now``, and gets back an
:class:`Assessment`. docs/detection.md describes every rule.
"""

from detection import reasons
from detection.common import haversine_km
from detection.model import (
    CodeRecord,
    CodeStatus,
    DetectionSettings,
    Finding,
    ProductThresholds,
    Role,
    Scan,
    Severity,
)
from detection.rules_custody import out_of_sequence
from detection.rules_sites import repeated_at_site, too_many_trade_sites
from detection.rules_spread import (
    consumers_far_apart,
    outside_intended_market,
    too_many_devices,
)
from detection.rules_state import (
    code_expired,
    code_not_registered,
    expiry_date,
    is_expired,
    recalled,
    scanned_after_decommission,
)
from detection.rules_travel import concurrent_scans, impossible_travel
from detection.verdict import RULES, Assessment, Rule, assess, risk_score

__all__ = [
    "RULES",
    "Assessment",
    "CodeRecord",
    "CodeStatus",
    "DetectionSettings",
    "Finding",
    "ProductThresholds",
    "Role",
    "Rule",
    "Scan",
    "Severity",
    "assess",
    "code_expired",
    "code_not_registered",
    "concurrent_scans",
    "consumers_far_apart",
    "expiry_date",
    "haversine_km",
    "impossible_travel",
    "is_expired",
    "out_of_sequence",
    "outside_intended_market",
    "reasons",
    "recalled",
    "repeated_at_site",
    "risk_score",
    "scanned_after_decommission",
    "too_many_devices",
    "too_many_trade_sites",
]
