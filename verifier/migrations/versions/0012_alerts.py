"""Aggregated alerts: a recalled lot's alert names its lot; places and units are tallied.

Codes failing the signature are alerted once per (GTIN, key id, reason) and a recalled
lot once per lot (not once per unit); each such alert keeps, per country and per serial,
how often and when it was seen.

Revision ID: 0012_alerts
Revises: 0011_productdata
Create Date: 2026-12-03 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0012_alerts"
down_revision: str | None = "0011_productdata"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("lot", sa.String(length=20), nullable=True))
    op.create_table(
        "alert_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "dimension", "value", name="uq_alert_tally"),
    )


def downgrade() -> None:
    op.drop_table("alert_tally")
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("lot")
