"""A code's own state: flagged as cloned, until the brand or an officer resolves it.

A scan's verdict is about one scan; once accountable scans have shown two
physical items carrying one code, every later answer must say so, whatever the
next scan carries. ``flagged_at`` is set in the transaction that records the
scan which showed it (``flag_scan_id``) with its reasons; a resolution clears
it and sets ``flag_resolved_at`` (the offline bundle's deltas need both).

Revision ID: 0010_code_flag
Revises: 0009_scan_code
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0010_code_flag"
down_revision: str | None = "0009_scan_code"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("code") as batch:
        batch.add_column(sa.Column("flagged_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("flag_reasons", sa.Text(), nullable=True))
        batch.add_column(sa.Column("flag_scan_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("flag_resolved_at", UTCDateTime(), nullable=True))
    op.create_index("ix_code_flagged_at", "code", ["flagged_at"])
    op.create_index("ix_code_flag_resolved_at", "code", ["flag_resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_code_flag_resolved_at", table_name="code")
    op.drop_index("ix_code_flagged_at", table_name="code")
    with op.batch_alter_table("code") as batch:
        batch.drop_column("flag_resolved_at")
        batch.drop_column("flag_scan_id")
        batch.drop_column("flag_reasons")
        batch.drop_column("flagged_at")
