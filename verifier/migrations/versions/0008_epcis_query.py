"""EPCIS 2.0 queries: eventID and error declaration columns, split quantity roles, capture jobs.

The standard's simple event query filters on ``eventID`` (EQ_eventID and
``/events/{eventID}``), on the error declaration (EXISTS_errorDeclaration,
GE_/LT_errorDeclarationTime, EQ_errorReason) and tells input from output
quantities (MATCH_inputEPCClass, MATCH_outputEPCClass); the store kept none of
these apart. Backfill: every stored event is read again, its CBV 1.x terms are
written bare (as capture now stores them), and the quantity classes of
TransformationEvents get the roles ``inclass`` and ``outclass``.

Revision ID: 0008_epcis_query
Revises: 0007_token_expiry
Create Date: 2026-12-03 11:00:00
"""

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from epcis.identifiers import identify
from epcis.vocabulary import bare_term, normalise_terms
from storage.types import UTCDateTime

revision: str = "0008_epcis_query"
down_revision: str | None = "0007_token_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_events = sa.table(
    "epcis_event",
    sa.column("id", sa.Integer()),
    sa.column("event_hash", sa.String()),
    sa.column("event_type", sa.String()),
    sa.column("document", sa.Text()),
    sa.column("event_id", sa.String()),
    sa.column("declared_at", UTCDateTime()),
    sa.column("error_reason", sa.String()),
)
_epcs = sa.table(
    "epcis_event_epc",
    sa.column("event_id", sa.Integer()),
    sa.column("epc", sa.String()),
    sa.column("role", sa.String()),
)


def _declaration(event: dict[str, Any]) -> tuple[dt.datetime | None, str | None]:
    declaration = event.get("errorDeclaration")
    if not isinstance(declaration, dict):
        return None, None
    declared = dt.datetime.fromisoformat(declaration["declarationTime"]).astimezone(dt.UTC)
    reason = declaration.get("reason")
    return declared, (bare_term("errorReason", reason) or reason) if reason else None


def _classes(event: dict[str, Any], list_name: str) -> list[str]:
    return list(dict.fromkeys(identify(q["epcClass"]).key for q in event.get(list_name) or []))


def upgrade() -> None:
    with op.batch_alter_table("epcis_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("declared_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("error_reason", sa.String(length=300), nullable=True))
        batch_op.create_index("ix_epcis_event_event_id", ["event_id"], unique=False)
    op.create_table(
        "epcis_capture_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.String(length=36), nullable=False),
        sa.Column("brand_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("behaviour", sa.String(length=8), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("capture_id"),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_events.c.id, _events.c.event_hash, _events.c.event_type, _events.c.document)
    ).all()
    for row_id, event_hash, event_type, document in rows:
        event = json.loads(document)
        declared, reason = _declaration(event)
        bind.execute(
            _events.update()
            .where(_events.c.id == row_id)
            .values(
                event_id=event.get("eventID") or event_hash,
                declared_at=declared,
                error_reason=reason,
                document=json.dumps(normalise_terms(event), separators=(",", ":")),
            )
        )
        if event_type != "TransformationEvent":
            continue
        bind.execute(_epcs.delete().where(_epcs.c.event_id == row_id, _epcs.c.role == "class"))
        for role, list_names in (
            ("class", ("quantityList", "childQuantityList")),
            ("inclass", ("inputQuantityList",)),
            ("outclass", ("outputQuantityList",)),
        ):
            keys = dict.fromkeys(k for name in list_names for k in _classes(event, name))
            for key in keys:
                bind.execute(_epcs.insert().values(event_id=row_id, epc=key, role=role))


def downgrade() -> None:
    op.execute(
        "UPDATE epcis_event_epc SET role = 'class' WHERE role IN ('inclass', 'outclass')"
        " AND NOT EXISTS (SELECT 1 FROM epcis_event_epc AS o WHERE o.event_id ="
        " epcis_event_epc.event_id AND o.epc = epcis_event_epc.epc AND o.role = 'class')"
    )
    op.execute("DELETE FROM epcis_event_epc WHERE role IN ('inclass', 'outclass')")
    op.drop_table("epcis_capture_job")
    with op.batch_alter_table("epcis_event", schema=None) as batch_op:
        batch_op.drop_index("ix_epcis_event_event_id")
        batch_op.drop_column("error_reason")
        batch_op.drop_column("declared_at")
        batch_op.drop_column("event_id")
