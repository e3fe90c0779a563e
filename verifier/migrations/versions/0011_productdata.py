"""Product master data: a brand's name, strength, pack size, image and markets per GTIN.

The consumer page, the officer's answer and the console show the product's name, so a
person can tell whether a code belongs to the product in hand.

Revision ID: 0011_productdata
Revises: 0010_code_flag
Create Date: 2026-12-03 23:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0011_productdata"
down_revision: str | None = "0010_code_flag"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("brand_name", sa.String(length=100), nullable=True),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("strength", sa.String(length=100), nullable=True),
        sa.Column("net_content", sa.String(length=100), nullable=True),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("target_market", sa.String(length=1000), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gtin"),
    )
    with op.batch_alter_table("product") as batch_op:
        batch_op.create_index("ix_product_brand_id", ["brand_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("product") as batch_op:
        batch_op.drop_index("ix_product_brand_id")
    op.drop_table("product")
