"""The log's tables: entries (the leaves and the nodes they complete), the head, checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, BigInteger, Column, Index, LargeBinary, Text, event
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class LogEntry(SQLModel, table=True):
    """Leaf ``idx`` of the tree: ``body`` is the entry's canonical JSON, ``leaf`` its hash."""

    __tablename__ = "log_entry"
    __table_args__ = (Index("ix_log_entry_ref", "kind", "ref", "idx"),)

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=32)
    ref: str = Field(max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    # The inner nodes this leaf completes, levels 1, 2, ... (32 bytes each): appending
    # leaf i completes one node per trailing 1 bit of i, the node of level L covering
    # leaves i - 2**L + 1 .. i. Kept in the leaf's own row: one insert per append.
    nodes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    logged_at: datetime = Field(sa_type=UTCDateTime)


class LogHead(SQLModel, table=True):
    """One row: the tree's size and frontier; every append locks and updates it."""

    __tablename__ = "log_head"

    id: int = Field(default=1, primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False, default=0))
    frontier: str = Field(sa_column=Column(Text, nullable=False, default="[]"))


# Databases made from the models (tests) get the head row the migration inserts.
event.listen(
    LogHead.__table__,  # type: ignore[attr-defined]
    "after_create",
    DDL("INSERT INTO log_head (id, size, frontier) VALUES (1, 0, '[]')"),  # type: ignore[no-untyped-call]
)


class LogCheckpoint(SQLModel, table=True):
    """A signed tree head, as served, kept so that older ones can be shown and proved."""

    __tablename__ = "log_checkpoint"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    signed_at: datetime = Field(sa_type=UTCDateTime)
