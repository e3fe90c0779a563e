"""Scans keep the code as scanned (bracketed, with its signature and lot).

A seizure report is evidence and must show the code itself, not only its GTIN
and serial. Scans stored before this revision have none (NULL).

Revision ID: 0009_scan_code
Revises: 0008_epcis_query
Create Date: 2026-12-03 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_scan_code"
down_revision: str | None = "0008_epcis_query"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scan") as batch:
        batch.add_column(sa.Column("code", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scan") as batch:
        batch.drop_column("code")
