"""EPCIS event store: events, the identifier index, location master data.

Revision ID: 0002_epcis
Revises: 0001
Create Date: 2026-11-21 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0002_epcis"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "epcis_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_hash", sa.String(length=100), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("event_time", UTCDateTime(), nullable=False),
        sa.Column("record_time", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=True),
        sa.Column("biz_step", sa.String(length=300), nullable=True),
        sa.Column("disposition", sa.String(length=300), nullable=True),
        sa.Column("read_point", sa.String(length=300), nullable=True),
        sa.Column("biz_location", sa.String(length=300), nullable=True),
        sa.Column("capture_id", sa.String(length=36), nullable=False),
        sa.Column("captured_by", sa.Integer(), nullable=True),
        sa.Column("namespaces", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["captured_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_hash"),
    )
    with op.batch_alter_table("epcis_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_epcis_event_brand_time", ["brand_id", "event_time", "id"], unique=False
        )
        batch_op.create_index("ix_epcis_event_time", ["event_time", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_epcis_event_capture_id"), ["capture_id"], unique=False)

    op.create_table(
        "epcis_event_epc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("epc", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["epcis_event.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "epc", "role", name="uq_epcis_epc_event_key_role"),
    )
    with op.batch_alter_table("epcis_event_epc", schema=None) as batch_op:
        batch_op.create_index("ix_epcis_epc_key", ["epc", "event_id"], unique=False)

    op.create_table(
        "epcis_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand_id", "location", name="uq_epcis_location_brand_location"),
    )


def downgrade() -> None:
    op.drop_table("epcis_location")
    with op.batch_alter_table("epcis_event_epc", schema=None) as batch_op:
        batch_op.drop_index("ix_epcis_epc_key")
    op.drop_table("epcis_event_epc")
    with op.batch_alter_table("epcis_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_epcis_event_capture_id"))
        batch_op.drop_index("ix_epcis_event_time")
        batch_op.drop_index("ix_epcis_event_brand_time")
    op.drop_table("epcis_event")
