"""API shapes (requests and answers), separate from the table models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import pycountry
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from verifier.text import Line, Text

COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)


def _country(value: str) -> str:
    if value not in COUNTRIES:
        raise ValueError(f"{value!r} is not an assigned ISO 3166-1 alpha-2 country code")
    return value


Country = Annotated[
    str,
    Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2, upper case", examples=["DE"]),
    AfterValidator(_country),
]
# Times before this are refused: no real scan happened then, and year 1 breaks date math.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    if value < EARLIEST:
        raise ValueError("must be in the year 2000 or later")
    return value


ScanTime = Annotated[AwareDatetime, AfterValidator(_plausible)]
GTIN14 = Annotated[str, Field(pattern=r"^\d{14}$", description="GTIN in its 14-digit form")]
VerdictName = Literal["authentic", "suspect", "counterfeit", "unverifiable"]
StatusName = Literal[
    "active", "sold", "destroyed", "stolen", "exported", "sample", "locked", "recalled",
    "expired", "unknown", "withheld",
]  # fmt: skip

EXAMPLE_CODE = (
    "https://id.example.com/01/09506000134352/10/L2611/21/7F3KQ9XW2M8R4T?17=271231"
    "&8030=AbCd" + "x" * 86
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Location(Strict):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    accuracy_m: float | None = Field(default=None, ge=0, le=20_000_000, allow_inf_nan=False)


class VerifyIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"code": EXAMPLE_CODE},
                {
                    "code": EXAMPLE_CODE,
                    "scanned_at": "2026-11-20T09:30:00Z",
                    "location": {"lat": 50.94, "lon": 6.96, "accuracy_m": 25},
                    "country": "DE",
                    "device_id": "handheld-17",
                    "scan_id": "3f1c6a52-1d0b-4f7e-9a51-2d4a8c0e7b11",
                    "record": True,
                },
            ]
        },
    )

    # Not Line: a raw scan separates GS1 fields with GS (0x1D); the code parser refuses
    # anything else (400) and nothing unparsed reaches the database.
    code: str = Field(
        min_length=1,
        max_length=2048,
        description="What the scanner read: Digital Link URI, element string, or raw AIM scan.",
    )
    scanned_at: ScanTime | None = Field(
        default=None, description="When the scan happened (ISO 8601 with zone); default now."
    )
    location: Location | None = None
    country: Country | None = None
    device_id: Line | None = Field(default=None, min_length=1, max_length=128)
    scan_id: UUID | None = Field(
        default=None, description="Client-chosen id; repeating it returns the stored answer."
    )
    record: bool = Field(default=True, description="false (officers only) records nothing.")


class ReasonOut(BaseModel):
    code: str = Field(examples=["TRUST_OK"])
    message: str


PRODUCT_DATA = ("productName", "brandName", "availableStrength", "netContent", "image")


def product_label(name: str, strength: str | None, net_content: str | None) -> str:
    """A product as one line: name, strength and pack size, as printed on the pack."""
    return " · ".join(p for p in (name, strength, net_content) if p)


class ProductOut(BaseModel):
    gtin: str
    serial: str
    lot: str | None = None
    expiry: date | None = None
    brand: str | None = Field(default=None, description="The right holder's name.")
    # The brand's product data (PUT /v1/products/{gtin}), for codes the trust list vouches
    # for; absent (null) when the brand gave none: then the GTIN is all there is to show.
    productName: str | None = Field(default=None, description="gs1:productName.")
    brandName: str | None = Field(default=None, description="gs1:brandName, as on the pack.")
    availableStrength: str | None = None
    netContent: str | None = Field(default=None, description="gs1:netContent: the pack size.")
    image: str | None = Field(
        default=None, description="gs1:image: https URL, or the uploaded image's path here."
    )

    def label(self) -> str | None:
        """What a person compares with the pack: name, strength, pack size (None: unknown)."""
        if self.productName is None:
            return None
        return product_label(self.productName, self.availableStrength, self.netContent)


class CoarseLocation(BaseModel):
    lat: float
    lon: float


class HistoryEntry(BaseModel):
    scanned_at: datetime
    country: str | None = None
    location: CoarseLocation | None = Field(default=None, description="Rounded to 0.1 degree.")
    role: str
    device_id: str | None = None
    verdict: str | None = None


class FindingOut(BaseModel):
    """One finding as officers and the owning brand see it."""

    code: str
    message: str
    # info/warning/critical come from clone detection; "suspect" from signature and
    # trust checks and the offline verifier's state rules.
    severity: Literal["info", "warning", "critical", "suspect"]
    score: int = Field(ge=0, le=100, description="Contribution to the risk score.")
    related_scan_ids: list[str] = Field(
        default_factory=list, description="Earlier scans this finding is about (e.g. a travel leg)."
    )


class RiskOut(BaseModel):
    score: int = Field(ge=0, le=100)
    findings: list[FindingOut]


class RightHolderOut(BaseModel):
    brand_id: str
    name: str
    contact: dict[str, str]


class VerifyOut(BaseModel):
    verdict: VerdictName
    status: StatusName
    reasons: list[ReasonOut]
    product: ProductOut
    scan_id: str | None = Field(default=None, description="Id of the recorded scan, if recorded.")
    scanned_at: datetime
    history: list[HistoryEntry] | None = Field(
        default=None, description="Officers and the owning brand only: recent scans."
    )
    risk: RiskOut | None = Field(default=None, description="Officers and the owning brand only.")
    right_holder: RightHolderOut | None = Field(
        default=None, description="Officers and the owning brand only."
    )
    flagged: FlagOut | None = Field(
        default=None,
        description="Officers and the owning brand only: the code is flagged as cloned.",
    )

    def to_json(self) -> dict[str, Any]:
        """The answer without the sections this caller may not see (absent, not null)."""
        return self.model_dump(mode="json", exclude=self._hidden())

    def to_json_bytes(self) -> bytes:
        """:meth:`to_json` encoded, by pydantic-core in one pass: no dict built in Python
        (a third of the cost of ``to_json`` then ``json.dumps``; docs/performance.md)."""
        return self.model_dump_json(exclude=self._hidden()).encode()

    def _hidden(self) -> dict[str, Any]:
        hidden: dict[str, Any] = {
            k: True
            for k in ("history", "risk", "right_holder", "flagged")
            if getattr(self, k) is None
        }
        # Product data the brand did not give is absent too: the GTIN is then all there is.
        unset = {k for k in PRODUCT_DATA if getattr(self.product, k) is None}
        if unset:
            hidden["product"] = unset
        return hidden


class RegistrationIn(Strict):
    batch_id: Line = Field(min_length=1, max_length=64)
    gtin: GTIN14
    lot: Line | None = Field(default=None, min_length=1, max_length=20)
    expiry: str | None = Field(default=None, pattern=r"^\d{6}$")
    key_id: str = Field(pattern=r"^[A-Za-z0-9_-]{4}$")
    intended_markets: list[Country] = Field(default_factory=list, max_length=300)
    serials: list[Annotated[Line, Field(max_length=100)]] = Field(min_length=1, max_length=10_000)


class RejectedSerial(BaseModel):
    serial: str
    reason: str


class RegistrationOut(BaseModel):
    batch_id: str
    registered: int
    already_registered: int
    rejected: list[RejectedSerial]


CodeStatusName = Literal[
    "sold", "dispensed", "destroyed", "stolen", "exported", "sample", "locked", "recalled"
]


class CodeStatusIn(Strict):
    status: CodeStatusName = Field(description="'dispensed' is stored as 'sold'.")
    comment: Text | None = Field(default=None, max_length=500)


class LotStatusIn(Strict):
    status: Literal["recalled", "active"]
    comment: Text | None = Field(default=None, max_length=500)


class FlagResolveIn(Strict):
    comment: Text = Field(min_length=1, max_length=500, description="Why the flag is resolved.")


class FlagResolutionOut(BaseModel):
    gtin: str
    serial: str
    flagged_at: datetime
    resolved_at: datetime
    comment: str


class FlagOut(BaseModel):
    """The code's own state: flagged as cloned, since when, why, by which scan."""

    since: datetime | None = Field(
        default=None, description="When the code was flagged (this scan's time if it did)."
    )
    reasons: list[str]
    scan_id: str | None = None


class StatusChangeOut(BaseModel):
    gtin: str
    serial: str | None = None
    lot: str | None = None
    status: str
    previous: str
    changed: bool
    changed_at: datetime | None = None
    undo_until: datetime | None = None


class MarketsIn(Strict):
    markets: list[Country] = Field(max_length=300)
    batch_id: Line | None = Field(default=None, min_length=1, max_length=64)


class MarketsOut(BaseModel):
    gtin: str
    batch_id: str | None
    markets: list[str]


class AuditOut(BaseModel):
    at: datetime
    action: str
    account: str | None
    before: str | None
    after: str | None
    comment: str | None
    undone_at: datetime | None


class CodePublic(BaseModel):
    gtin: str
    serial: str
    lot: str | None
    expiry: str | None
    key_id: str
    batch_id: str
    brand_id: str
    registered_at: datetime
    status: str = Field(description="The stored status.")
    effective_status: str = Field(description="Stored, or derived from lot recall and expiry.")
    status_changed_at: datetime | None
    lot_status: str | None
    intended_markets: list[str]
    changes: list[AuditOut]


class TrustListInstalled(BaseModel):
    version: int
    installed: bool


class ThresholdsIn(BaseModel):
    """A brand's clone-detection thresholds for one GTIN; ``None`` keeps the service default."""

    model_config = ConfigDict(extra="forbid")

    max_distinct_devices: int | None = Field(default=None, ge=1, le=10_000)
    max_sessions_after_sale: int | None = Field(default=None, ge=0, le=10_000)
    max_speed_kmh: float | None = Field(default=None, gt=0, le=10_000)


class ThresholdsOut(ThresholdsIn):
    gtin: str
    updated_at: datetime | None = None
