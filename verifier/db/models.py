"""Table models. API shapes live in ``verifier.schemas``: a table is never an answer.

Sizing notes: ``scan`` grows with every verification, so it is read only
through the (gtin, serial, scanned_at) index and only a bounded recent window;
``code`` grows with every issued unit and is read by its unique (gtin, serial).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class Account(SQLModel, table=True):
    """A caller with a role; anonymous consumers have none."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    role: str = Field(max_length=16)
    brand_id: str | None = Field(default=None, max_length=64)
    contact: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token, stored as HMAC-SHA256(pepper, token); the token itself is never kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    prefix: str = Field(max_length=16, index=True)
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: never


class CodeRecord(SQLModel, table=True):
    """One registered unit and its current status."""

    __tablename__ = "code"
    __table_args__ = (UniqueConstraint("gtin", "serial", name="uq_code_gtin_serial"),)

    id: int | None = Field(default=None, primary_key=True)
    gtin: str = Field(max_length=14)
    serial: str = Field(max_length=20)
    lot: str | None = Field(default=None, max_length=20)
    expiry: str | None = Field(default=None, max_length=6)
    key_id: str = Field(max_length=4)
    batch_id: str = Field(max_length=64, index=True)
    brand_id: str = Field(max_length=64)
    registered_at: datetime = Field(sa_type=UTCDateTime)
    registered_by: int = Field(foreign_key="account.id")
    status: str = Field(default="active", max_length=16)
    status_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Flagged as cloned (docs/detection.md, "A code's state"): set with the scan that showed
    # it, cleared by a resolution, which sets flag_resolved_at.
    flagged_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    flag_reasons: str | None = Field(default=None, sa_type=Text)  # JSON list of reason codes
    flag_scan_id: str | None = Field(default=None, max_length=36)
    flag_resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class IntendedMarket(SQLModel, table=True):
    """Where a GTIN (``batch_id`` empty) or one batch of it is meant to be sold."""

    __tablename__ = "intended_market"
    __table_args__ = (UniqueConstraint("gtin", "batch_id", name="uq_market_gtin_batch"),)

    id: int | None = Field(default=None, primary_key=True)
    gtin: str = Field(max_length=14)
    batch_id: str = Field(default="", max_length=64)
    markets: str = Field(default="", max_length=1000)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: int = Field(foreign_key="account.id")


class LotStatus(SQLModel, table=True):
    """A status set on a whole lot (a recall)."""

    __tablename__ = "lot_status"
    __table_args__ = (UniqueConstraint("gtin", "lot", name="uq_lot_gtin_lot"),)

    id: int | None = Field(default=None, primary_key=True)
    gtin: str = Field(max_length=14)
    lot: str = Field(max_length=20)
    status: str = Field(max_length=16)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    changed_by: int = Field(foreign_key="account.id")


class AuditEvent(SQLModel, table=True):
    """Who changed what, when, from what to what. Undo marks the event it reverts."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_code", "gtin", "serial", "at"),
        Index("ix_audit_lot", "gtin", "lot", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    action: str = Field(max_length=32)
    gtin: str | None = Field(default=None, max_length=14)
    serial: str | None = Field(default=None, max_length=20)
    lot: str | None = Field(default=None, max_length=20)
    batch_id: str | None = Field(default=None, max_length=64)
    before: str | None = Field(default=None, max_length=2000)
    after: str | None = Field(default=None, max_length=2000)
    comment: str | None = Field(default=None, max_length=500)
    undone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Scan(SQLModel, table=True):
    """One verification as recorded; ``answer`` is what the caller got (for scan_id replay)."""

    __table_args__ = (Index("ix_scan_code_time", "gtin", "serial", "scanned_at"),)

    id: int | None = Field(default=None, primary_key=True)
    scan_id: str = Field(max_length=36, unique=True)
    gtin: str = Field(max_length=14)
    serial: str = Field(max_length=20)
    scanned_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    role: str = Field(max_length=16)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    device_id: str | None = Field(default=None, max_length=128)
    country: str | None = Field(default=None, max_length=2)
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    verdict: str = Field(max_length=16)
    reasons: str = Field(max_length=2000)
    answer: str
    # The code as scanned, in GS1 bracketed form with its signature (AI 8030) and lot:
    # what a seizure report must show. None for scans stored before it was kept.
    code: str | None = Field(default=None, sa_type=Text)


class Alert(SQLModel, table=True):
    """Something a brand should look at, e.g. a signed code that was never registered.

    ``kind`` is the finding's reason code. Detection alerts carry a ``dedup_key``
    (``code:<gtin>:<serial>:<reason>``, ``key:<brand>:<key id>:<reason>``,
    ``sig:<gtin>:<key id>:<reason>`` for codes failing the signature, or
    ``lot:<gtin>:<lot>:<reason>`` for a recalled lot), unique among alerts that are not
    closed: a repeat finding bumps ``count`` and ``last_seen_at`` instead of adding a row.
    The ``sig`` and ``lot`` alerts also keep their places and units (:class:`AlertTally`).
    Other alerts (consumer reports) have none.
    """

    __table_args__ = (
        Index("ix_alert_brand_time", "brand_id", "created_at"),
        Index(
            "uq_alert_open_dedup",
            "dedup_key",
            unique=True,
            sqlite_where=text("status <> 'closed'"),
            postgresql_where=text("status <> 'closed'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=40)
    brand_id: str | None = Field(default=None, max_length=64)
    gtin: str = Field(max_length=14)
    serial: str = Field(max_length=20)
    scan_id: str | None = Field(default=None, max_length=36)
    detail: str = Field(max_length=2000)
    severity: str = Field(default="warning", max_length=16)
    status: str = Field(default="open", max_length=16)
    dedup_key: str | None = Field(default=None, max_length=200)
    count: int = Field(default=1)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    country: str | None = Field(default=None, max_length=2)
    key_id: str | None = Field(default=None, max_length=4)
    lot: str | None = Field(default=None, max_length=20)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: int | None = Field(default=None)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: int | None = Field(default=None)
    close_comment: str | None = Field(default=None, max_length=1000)


class AlertTally(SQLModel, table=True):
    """How often one value was seen by an aggregated alert: a country (its places) or a
    serial (its units), with when it was first and last seen."""

    __tablename__ = "alert_tally"
    __table_args__ = (UniqueConstraint("alert_id", "dimension", "value", name="uq_alert_tally"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id")
    dimension: str = Field(max_length=8)  # "country" or "serial"
    value: str = Field(max_length=20)
    count: int = Field(default=1)
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)


class AlertEvent(SQLModel, table=True):
    """One transition of an alert (acknowledge, close): who, when, from, to, comment."""

    __tablename__ = "alert_event"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    action: str = Field(max_length=32)
    before: str = Field(max_length=16)
    after: str = Field(max_length=16)
    comment: str | None = Field(default=None, max_length=1000)


class BrandWebhook(SQLModel, table=True):
    """Where a brand wants its alerts posted, and the HMAC secret that signs them.

    The secret is stored as given: signing needs it, so it cannot be hashed.
    """

    __tablename__ = "brand_webhook"

    id: int | None = Field(default=None, primary_key=True)
    brand_id: str = Field(max_length=64, unique=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="account.id")


class WebhookOutbox(SQLModel, table=True):
    """An event waiting to be posted to a brand's webhook, written with the alert it announces.

    ``status``: pending -> delivering (claimed by one worker until ``claimed_until``)
    -> delivered | failed, or back to pending with a later ``next_attempt_at``.
    """

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=200, unique=True)
    event_type: str = Field(max_length=64)
    brand_id: str = Field(max_length=64)
    alert_id: int | None = Field(default=None, foreign_key="alert.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    payload: str = Field(sa_type=Text)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)


class ProductThreshold(SQLModel, table=True):
    """A brand's own detection thresholds for one GTIN (``None``: the service default)."""

    __tablename__ = "product_threshold"

    id: int | None = Field(default=None, primary_key=True)
    gtin: str = Field(max_length=14, unique=True)
    max_distinct_devices: int | None = Field(default=None)
    max_sessions_after_sale: int | None = Field(default=None)
    max_speed_kmh: float | None = Field(default=None)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="account.id")


class Inspection(SQLModel, table=True):
    """An officer's outcome for one scanned unit; ``seized`` ones are reported as seizures."""

    __table_args__ = (Index("ix_inspection_code", "gtin", "serial", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    scan_id: str = Field(max_length=36, index=True)
    gtin: str = Field(max_length=14)
    serial: str = Field(max_length=20)
    brand_id: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=16)
    notes: str | None = Field(default=None, max_length=4000)
    quantity: int | None = Field(default=None)
    account_id: int = Field(foreign_key="account.id")
    at: datetime = Field(sa_type=UTCDateTime)
    country: str | None = Field(default=None, max_length=2)
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None


class TrustListDoc(SQLModel, table=True):
    """Every trust list the service accepted; the highest version is the current one."""

    __tablename__ = "trust_list"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(unique=True)
    data: bytes = Field(sa_type=LargeBinary)
    installed_at: datetime = Field(sa_type=UTCDateTime)
    installed_by: int | None = Field(default=None, foreign_key="account.id")


class Product(SQLModel, table=True):
    """A brand's master data for one GTIN, as the producer gives it (GS1 Web Vocabulary terms
    in the API: productName, brandName, productDescription, netContent, image, targetMarket).

    ``brand_id`` is the brand owning the GTIN's prefix when the row was written; reads check
    ownership against the current trust list again.
    """

    id: int | None = Field(default=None, primary_key=True)
    gtin: str = Field(max_length=14, unique=True)
    brand_id: str = Field(max_length=64, index=True)
    product_name: str = Field(max_length=200)
    brand_name: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    strength: str | None = Field(default=None, max_length=100)
    net_content: str | None = Field(default=None, max_length=100)
    image_url: str | None = Field(default=None, max_length=500)
    target_market: str = Field(default="", max_length=1000)  # ISO 3166 alpha-2, comma-separated
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="account.id")


class ProductImage(SQLModel, table=True):
    """A picture of a GTIN's pack that its brand uploaded, as re-encoded on upload (no
    metadata). Served by content (``digest``), so its URL changes when the image does."""

    __tablename__ = "product_image"

    id: int | None = Field(default=None, primary_key=True)
    gtin: str = Field(max_length=14, unique=True)
    brand_id: str = Field(max_length=64, index=True)
    digest: str = Field(max_length=64, index=True)  # SHA-256 of ``data``, hex
    media_type: str = Field(max_length=16)
    width: int
    height: int
    data: bytes = Field(sa_type=LargeBinary)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="account.id")
