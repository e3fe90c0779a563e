"""Crash-safe capture jobs: the job keeps its document and a lease until it finishes.

A job whose worker died mid-capture stayed ``running`` for ever. The job row now
holds what it needs to be run again (the document as accepted, the brand's GS1
company prefixes at that moment) and a lease (owner, expiry, attempts) that the
running worker renews; another worker takes over a job whose lease has expired.
Jobs left running by an older version have neither document nor lease: the first
worker that looks at them marks them failed with an error the client can read.

Revision ID: 0014_capture_lease
Revises: 0013_product_image
Create Date: 2026-12-04 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0014_capture_lease"
down_revision: str | None = "0013_product_image"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("epcis_capture_job") as batch:
        batch.add_column(sa.Column("document", sa.Text(), nullable=True))
        batch.add_column(sa.Column("prefixes", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))
        batch.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_index("ix_epcis_capture_job_running", "epcis_capture_job", ["running", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_epcis_capture_job_running", table_name="epcis_capture_job")
    with op.batch_alter_table("epcis_capture_job") as batch:
        batch.drop_column("attempts")
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
        batch.drop_column("prefixes")
        batch.drop_column("document")
