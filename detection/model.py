"""Input and output types of clone detection, independent of the database.

Every type validates itself on construction (raising
:class:`~authn.errors.InvalidInput`), so a rule never has to wonder whether a
latitude is in range or a datetime carries its zone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from authn.errors import InvalidInput
from authn.gs1 import check_yymmdd

if TYPE_CHECKING:
    from detection.countries import CountryBounds

Role = Literal["consumer", "trade", "officer", "brand", "admin"]
CodeStatus = Literal[
    "active", "sold", "destroyed", "stolen", "exported", "sample", "locked", "recalled"
]
Severity = Literal["info", "warning", "critical"]

ROLES: frozenset[str] = frozenset(get_args(Role))
CODE_STATUSES: frozenset[str] = frozenset(get_args(CodeStatus))
SEVERITIES: frozenset[str] = frozenset(get_args(Severity))
# Roles whose scans are made by accountable people with calibrated devices at known premises.
TRUSTED_ROLES: frozenset[str] = frozenset({"officer", "trade", "brand", "admin"})
# Roles that handle a code for the right holder, not as part of its market life.
INTERNAL_ROLES: frozenset[str] = frozenset({"brand", "admin"})
# Where in its life a unit is when each role scans it: customs clears it into a market,
# trade partners (distributors, pharmacies, shops) carry it to the shelf, a consumer buys
# it. One unit moves forward through these; brand and admin scans stand outside (0).
STAGES: dict[str, int] = {"brand": 0, "admin": 0, "officer": 1, "trade": 2, "consumer": 3}
# Roles that scan a unit at a site of an organisation: customs posts and trade premises.
SITE_ROLES: frozenset[str] = frozenset({"officer", "trade"})


def _require_aware(name: str, value: dt.datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, dt.datetime):
        raise InvalidInput(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must carry a time zone (an aware datetime)")


def _require_country(name: str, value: str) -> None:
    if len(value) != 2 or not value.isascii() or not value.isalpha() or not value.isupper():
        raise InvalidInput(f"{name} must be an ISO 3166-1 alpha-2 code such as 'DE', got {value!r}")


def _require_finite(name: str, value: float, low: float, high: float) -> None:
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Scan:
    """One verification of one code, as the service recorded it.

    ``scanned_at`` is the scanning device's clock (an offline handheld syncs
    later); ``received_at`` is the server's. A location is either complete
    (``lat`` and ``lon``) or absent; ``accuracy_m`` is the radius the device
    states for it.
    """

    scan_id: str
    scanned_at: dt.datetime
    received_at: dt.datetime
    role: Role
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    country: str | None = None
    device_id: str | None = None
    verdict_at_scan: str | None = None

    def __post_init__(self) -> None:
        if not self.scan_id:
            raise InvalidInput("scan_id must not be empty")
        _require_aware("scanned_at", self.scanned_at)
        _require_aware("received_at", self.received_at)
        if self.role not in ROLES:
            raise InvalidInput(f"role must be one of {sorted(ROLES)}, got {self.role!r}")
        if (self.lat is None) != (self.lon is None):
            raise InvalidInput("lat and lon must be given together")
        if self.lat is not None and self.lon is not None:
            _require_finite("lat", self.lat, -90.0, 90.0)
            _require_finite("lon", self.lon, -180.0, 180.0)
        if self.accuracy_m is not None:
            _require_finite("accuracy_m", self.accuracy_m, 0.0, 20_037_509.0)
        if self.country is not None:
            _require_country("country", self.country)
        if self.device_id == "":
            raise InvalidInput("device_id must be None or a non-empty string")

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def effective_at(self) -> dt.datetime:
        """When the scan happened, as far as the rules are concerned.

        The device's clock, but never later than the server received it: a
        device whose clock runs ahead cannot push a scan into the future.
        """
        return min(self.scanned_at, self.received_at)


@dataclass(frozen=True)
class ProductThresholds:
    """Per-product overrides of :class:`DetectionSettings`; ``None`` keeps the default."""

    max_distinct_devices: int | None = None
    max_sessions_after_sale: int | None = None
    max_speed_kmh: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_distinct_devices", "max_sessions_after_sale"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidInput(f"{name} must be at least 1, got {value}")
        if self.max_speed_kmh is not None:
            _require_finite("max_speed_kmh", self.max_speed_kmh, 1.0, 100_000.0)


@dataclass(frozen=True, kw_only=True)
class CodeRecord:
    """What the verifier knows about one unit, independent of its storage."""

    gtin: str
    serial: str
    registered: bool
    status: CodeStatus = "active"
    lot: str | None = None
    expiry: str | None = None
    registered_at: dt.datetime | None = None
    status_changed_at: dt.datetime | None = None
    lot_recalled: bool = False
    intended_markets: frozenset[str] = field(default_factory=frozenset)
    thresholds: ProductThresholds | None = None

    def __post_init__(self) -> None:
        if self.status not in CODE_STATUSES:
            raise InvalidInput(
                f"status must be one of {sorted(CODE_STATUSES)}, got {self.status!r}"
            )
        if self.expiry is not None:
            check_yymmdd(self.expiry, zero_day=True, ai="17")
        _require_aware("registered_at", self.registered_at)
        _require_aware("status_changed_at", self.status_changed_at)
        if not isinstance(self.intended_markets, frozenset):
            raise InvalidInput("intended_markets must be a frozenset of alpha-2 codes")
        for market in self.intended_markets:
            _require_country("intended market", market)


def _positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput(f"{name} must be a positive number, got {value!r}")


def _fraction(name: str, value: float) -> None:
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"{name} must be between 0 and 1, got {value!r}")


@dataclass(frozen=True)
class DetectionSettings:
    """Thresholds of the rules; docs/detection.md says why each default is what it is."""

    # Travel: a wide-body freighter cruises at 850-900 km/h; nothing that
    # carries a parcel goes faster between two airports.
    max_speed_kmh: float = 900.0
    # Pairs closer than this (after accuracy widening) never count as travel:
    # GPS, Wi-Fi and cell locations are off by kilometres, never by 50 km.
    min_distance_km: float = 50.0
    # Added to every interval between two scans: device clocks drift.
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    # A located scan that states no accuracy is assumed to be this rough.
    assumed_accuracy_m: float = 5_000.0
    # Two scans this close in time and this far apart are concurrent copies.
    concurrency_window: dt.timedelta = dt.timedelta(minutes=10)
    concurrency_min_distance_km: float = 100.0
    # Sessions: distinct devices, plus clusters of device-less scans.
    max_distinct_devices: int = 5
    session_gap: dt.timedelta = dt.timedelta(minutes=30)
    session_radius_km: float = 25.0
    # After a sale, the buyer (and perhaps one giftee) checks the unit.
    max_sessions_after_sale: int = 2
    # A unit passes a wholesaler, perhaps a second one, and a shop or pharmacy.
    max_trade_sites: int = 3
    # The same code read more often than this at one site within the window: several labels
    # in one shipment (a unit is read at goods-in and goods-out, days apart).
    max_scans_per_site: int = 3
    site_window: dt.timedelta = dt.timedelta(hours=12)
    # Trade scans this long before a sale was recorded show where the unit was sold.
    sale_window: dt.timedelta = dt.timedelta(hours=1)
    # Consumers farther than this from each other and from the shop are in different places.
    holder_spread_km: float = 150.0
    # Evidence weights by who scanned.
    officer_weight: float = 1.0
    trade_weight: float = 0.9
    anonymous_weight: float = 0.7
    # The risk score from which the verdict is "suspect".
    suspect_score: float = 0.6
    # The most that findings resting on anonymous browser views alone (distinct networks
    # and cookies, no independent sources) add to the score together: below
    # suspect_score, so they warn but never make a verdict on their own.
    browser_evidence_cap: float = 0.3
    # Where countries' people live, for scans placed only by country (page views): the
    # travel rules use the least distance between two countries. None: such scans are
    # never compared (docs/detection.md, "Page views by country").
    countries: CountryBounds | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in (
            "max_speed_kmh",
            "min_distance_km",
            "assumed_accuracy_m",
            "concurrency_min_distance_km",
            "session_radius_km",
            "holder_spread_km",
        ):
            _positive(name, getattr(self, name))
        for name in (
            "clock_skew",
            "concurrency_window",
            "session_gap",
            "site_window",
            "sale_window",
        ):
            value = getattr(self, name)
            if not isinstance(value, dt.timedelta) or value < dt.timedelta(0):
                raise InvalidInput(f"{name} must be a non-negative timedelta")
        for name in (
            "max_distinct_devices",
            "max_sessions_after_sale",
            "max_trade_sites",
            "max_scans_per_site",
        ):
            if getattr(self, name) < 1:
                raise InvalidInput(f"{name} must be at least 1")
        for name in ("officer_weight", "trade_weight", "anonymous_weight"):
            _fraction(name, getattr(self, name))
        _fraction("suspect_score", self.suspect_score)
        _fraction("browser_evidence_cap", self.browser_evidence_cap)
        if self.browser_evidence_cap >= self.suspect_score:
            raise InvalidInput("browser_evidence_cap must stay below suspect_score")
        if self.suspect_score == 0.0:
            raise InvalidInput("suspect_score must be above 0, or every code is suspect")

    def for_record(self, record: CodeRecord) -> DetectionSettings:
        """These settings with the product's own thresholds applied."""
        override = record.thresholds
        if override is None:
            return self
        changes = {
            name: value for name, value in dataclasses.asdict(override).items() if value is not None
        }
        return dataclasses.replace(self, **changes) if changes else self

    def role_weight(self, role: str) -> float:
        """How much a scan by ``role`` counts as evidence: officer > trade > anonymous."""
        if role == "trade":
            return self.trade_weight
        return self.officer_weight if role in TRUSTED_ROLES else self.anonymous_weight


@dataclass(frozen=True)
class Finding:
    """One rule's conclusion about the new scan.

    ``weight`` is the finding's contribution in [0, 1] to the risk score;
    ``related_scan_ids`` names the earlier scans it concerns (sorted), so a
    console can mark the offending leg; ``key_alert`` asks the service to
    raise an alert about the signing key, not only about this code;
    ``browsers_only`` marks a finding that rests on anonymous browser views alone
    (distinct networks and cookies), whose weight the verdict caps together with
    others like it (``DetectionSettings.browser_evidence_cap``).
    """

    reason: str
    severity: Severity
    message: str
    weight: float
    related_scan_ids: tuple[str, ...] = ()
    key_alert: bool = False
    browsers_only: bool = False

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise InvalidInput(f"severity must be one of {sorted(SEVERITIES)}")
        _fraction("weight", self.weight)
