"""Uploaded product images: one re-encoded picture per GTIN, served by its digest.

Revision ID: 0013_product_image
Revises: 0012_alerts
Create Date: 2026-12-04 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0013_product_image"
down_revision: str | None = "0012_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_image",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gtin"),
    )
    with op.batch_alter_table("product_image") as batch_op:
        batch_op.create_index("ix_product_image_brand_id", ["brand_id"], unique=False)
        batch_op.create_index("ix_product_image_digest", ["digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("product_image") as batch_op:
        batch_op.drop_index("ix_product_image_digest")
        batch_op.drop_index("ix_product_image_brand_id")
    op.drop_table("product_image")
