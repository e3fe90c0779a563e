"""Tables of the EPCIS event store, on the same ``SQLModel.metadata`` as ``verifier.db.models``.

Sizing: ``epcis_event`` grows by one row per event and ``epcis_event_epc`` by
one per identifier an event names (a case of 24 packed: 25 rows). Reads go
through ``ix_epcis_epc_key`` (query by code), ``ix_epcis_event_brand_time``
(a brand's events by time) and ``ix_epcis_event_time`` (officers, admins).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class EpcisEvent(SQLModel, table=True):
    """One captured event: the JSON as captured and the fields queries filter on."""

    __tablename__ = "epcis_event"
    __table_args__ = (
        Index("ix_epcis_event_brand_time", "brand_id", "event_time", "id"),
        Index("ix_epcis_event_time", "event_time", "id"),
        Index("ix_epcis_event_event_id", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_hash: str = Field(max_length=100, unique=True)
    brand_id: str = Field(max_length=64)
    event_type: str = Field(max_length=32)
    event_time: datetime = Field(sa_type=UTCDateTime)
    record_time: datetime = Field(sa_type=UTCDateTime)
    action: str | None = Field(default=None, max_length=8)
    biz_step: str | None = Field(default=None, max_length=300)
    disposition: str | None = Field(default=None, max_length=300)
    read_point: str | None = Field(default=None, max_length=300)
    biz_location: str | None = Field(default=None, max_length=300)
    capture_id: str = Field(max_length=36, index=True)
    captured_by: int | None = Field(default=None, foreign_key="account.id")
    namespaces: str = Field(default="{}", sa_type=Text)
    document: str = Field(sa_type=Text)
    # The partner's eventID, else the hash (what the export shows); not unique, as
    # partners may reuse one. Queried by EQ_eventID and /events/{eventID}.
    event_id: str | None = Field(default=None, max_length=300)
    declared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error_reason: str | None = Field(default=None, max_length=300)


class EpcisEventEpc(SQLModel, table=True):
    """Which identifier (canonical key) an event names, and in which role."""

    __tablename__ = "epcis_event_epc"
    __table_args__ = (
        UniqueConstraint("event_id", "epc", "role", name="uq_epcis_epc_event_key_role"),
        Index("ix_epcis_epc_key", "epc", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="epcis_event.id")
    epc: str = Field(max_length=300)
    role: str = Field(max_length=8)


class EpcisLocation(SQLModel, table=True):
    """A brand's location master data: the country a location (SGLN, GLN) lies in."""

    __tablename__ = "epcis_location"
    __table_args__ = (
        UniqueConstraint("brand_id", "location", name="uq_epcis_location_brand_location"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: str = Field(max_length=64)
    location: str = Field(max_length=300)
    country: str = Field(max_length=2)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class EpcisCaptureJob(SQLModel, table=True):
    """One capture job of the EPCIS 2.0 REST binding: its state, its errors, its events.

    ``brand_id`` is the brand the events were captured for, or ``REGISTRY_SCOPE``.
    While it runs, the row keeps the document and the prefixes it was accepted under
    (so another worker can run it again) and a lease: ``lease_owner`` is the run that
    holds it, renewed until ``lease_until``; past that, another worker may take over.
    """

    __tablename__ = "epcis_capture_job"
    __table_args__ = (Index("ix_epcis_capture_job_running", "running", "lease_until"),)

    id: int | None = Field(default=None, primary_key=True)
    capture_id: str = Field(max_length=36, unique=True)
    brand_id: str = Field(max_length=64)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    running: bool = True
    success: bool = True
    behaviour: str = Field(default="rollback", max_length=8)
    errors: str = Field(default="[]", sa_type=Text)  # JSON list of problem bodies
    event_ids: str = Field(default="[]", sa_type=Text)  # JSON list of stored event hashes
    document: str | None = Field(default=None, sa_type=Text)  # dropped once finished
    prefixes: str | None = Field(default=None, sa_type=Text)  # JSON list; None: unscoped
    lease_owner: str | None = Field(default=None, max_length=36)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
