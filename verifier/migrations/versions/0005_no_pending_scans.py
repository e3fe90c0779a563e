"""Scans are stored finished, in one transaction: drop the ones a crash left pending.

Earlier versions stored a scan as ``pending`` before judging it and completed it
in a second transaction; a process killed between the two left a row that no
caller was ever answered for, and that refused a retry of its scan_id for ever.
Such rows are removed, so the retry is judged normally.

Revision ID: 0005_no_pending_scans
Revises: 0004_console
Create Date: 2026-11-21 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_no_pending_scans"
down_revision: str | None = "0004_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM scan WHERE verdict = 'pending'")


def downgrade() -> None:
    pass  # nothing to restore: the removed rows were never answered
