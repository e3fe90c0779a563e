"""What the simulator produces and the evaluation consumes: parameters, scans, status changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from authn.errors import InvalidInput

CallerRole = Literal["brand", "officer", "trade", "anonymous"]
Injection = Literal["import_customs", "distributor", "online_consumer", "local_seller"]
Timing = Literal["fast", "medium", "late"]
StatusKind = Literal["sold", "undo", "lot_recall"]

INJECTIONS: tuple[Injection, ...] = ("import_customs", "distributor", "online_consumer")
# The standard chain, and the hard scenario families (docs/detection.md, "The hard
# scenarios"): two where codes are copied, four of ordinary life where none is.
Family = Literal[
    "standard", "same_city", "shelf_photo", "resale", "family_phones", "travellers",
    "online_far",
]  # fmt: skip
FAMILIES: tuple[Family, ...] = (
    "standard", "same_city", "shelf_photo", "resale", "family_phones", "travellers",
    "online_far",
)  # fmt: skip
# Families in which nothing is copied, whatever ``clone_fraction`` says.
GENUINE_ONLY: frozenset[Family] = frozenset({"resale", "family_phones", "travellers", "online_far"})
START = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
# Days from a code's harvest until its copies are on sale.
TIMING_DELAY_DAYS: dict[Timing, tuple[float, float]] = {
    "fast": (0.0, 2.0),  # copies on sale while the genuine unit is still in the chain
    "medium": (3.0, 20.0),
    "late": (20.0, 60.0),  # copies long after the genuine unit was sold
}


@dataclass(frozen=True)
class Params:
    """Everything that shapes one simulated supply chain; the seed makes it repeatable."""

    serials: int = 4_000
    seed: int = 1
    # Share of units a professional node (factory, customs, distributor, retailer) scans.
    pro_coverage: float = 0.83
    # Share of buyers who scan their purchase with a phone.
    consumer_coverage: float = 0.10
    # Share of serials a counterfeiter copies, and how many copies (count, weight).
    clone_fraction: float = 0.03
    copy_counts: tuple[tuple[int, float], ...] = (
        (1, 0.35), (2, 0.20), (5, 0.20), (20, 0.15), (100, 0.07), (1_000, 0.03),
    )  # fmt: skip
    # Share of retailers that decommission a unit as sold at the till (EMVS-style).
    sale_reporting: float = 0.5
    return_rate: float = 0.02
    recalled_lots: int = 1
    # Customs handhelds work offline at a post and upload hours later.
    customs_offline_rate: float = 0.3
    # Consumer fixes that are tens of kilometres off while claiming GPS accuracy.
    bad_fix_rate: float = 0.005
    production_days: int = 28
    family: Family = "standard"

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise InvalidInput(f"unknown scenario family {self.family!r}")
        if self.serials < 10:
            raise InvalidInput("simulate at least 10 serials")
        for name in (
            "pro_coverage", "consumer_coverage", "clone_fraction", "sale_reporting",
            "return_rate", "customs_offline_rate", "bad_fix_rate",
        ):  # fmt: skip
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidInput(f"{name} must be between 0 and 1, got {value}")
        if not self.copy_counts or any(c < 1 or w <= 0 for c, w in self.copy_counts):
            raise InvalidInput("copy_counts needs (count >= 1, weight > 0) pairs")


@dataclass(frozen=True)
class ScanEvent:
    """One scan as a device sends it. ``label`` 0 is the genuine unit, 1.. are copies."""

    scan_id: str
    serial: str
    label: int
    node: str  # factory, customs, distributor, retailer, sale, return, consumer
    caller: str  # account name; "" for an anonymous consumer
    role: CallerRole
    happened_at: dt.datetime  # the true moment
    scanned_at: dt.datetime  # the device's clock
    received_at: dt.datetime  # when the upload reaches the service
    lat: float
    lon: float
    accuracy_m: float
    country: str
    device_id: str | None
    # The line a phone is on when it opens a page: None is its own mobile data. A
    # household's Wi-Fi is one key for every phone at home; ``network_country`` is where
    # the line is registered when that is not where the phone is (roaming mobile data).
    network: str | None = None
    network_country: str | None = None


@dataclass(frozen=True)
class StatusEvent:
    """A registry change the brand makes: a sale reported at the till, its undo, a lot recall."""

    kind: StatusKind
    received_at: dt.datetime
    serial: str | None = None
    lot: str | None = None


@dataclass(frozen=True)
class CloneInfo:
    injection: Injection
    copies: int
    timing: Timing
    market: str  # where the copies are sold


@dataclass
class Simulation:
    params: Params
    lots: dict[str, list[str]]  # lot -> serials
    clones: dict[str, CloneInfo]
    events: list[ScanEvent | StatusEvent] = field(default_factory=list)  # in received order
    accounts: dict[str, CallerRole] = field(default_factory=dict)

    @property
    def scans(self) -> list[ScanEvent]:
        return [e for e in self.events if isinstance(e, ScanEvent)]

    @property
    def end(self) -> dt.datetime:
        return max((e.received_at for e in self.events), default=START)
