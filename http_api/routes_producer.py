"""A producer's daily work beyond registration: bulk statuses, its webhook read back, seizures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from http_api.deps import (
    CallerDep,
    NowDep,
    ReadSessionDep,
    ServicesDep,
    SessionDep,
    TrustListDep,
)
from verifier import producer
from verifier.schemas import CodeStatusName, Strict

router = APIRouter(prefix="/v1", tags=["registry"])
BULK_STATUS_PATH = "/v1/codes/status:batch"


class BulkStatusItemIn(Strict):
    gtin: str = Field(max_length=14, description="GTIN in its 14-digit form")
    serial: str = Field(min_length=1, max_length=20)
    status: CodeStatusName = Field(description="'dispensed' is stored as 'sold'.")
    comment: str | None = Field(default=None, max_length=500)


class BulkStatusIn(Strict):
    items: list[BulkStatusItemIn] = Field(min_length=1, max_length=producer.MAX_ITEMS)


@router.post("/codes/status:batch", response_model=producer.BulkStatusOut)
def change_statuses(
    body: BulkStatusIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    services: ServicesDep,
    now: NowDep,
) -> producer.BulkStatusOut:
    """Decommission up to 10,000 units in one call (owning brand, admin); one result per item.

    Each item follows the single-unit rules; a failed item (never registered: 404, already
    in another status: 409, not the caller's GTIN: 404/403) does not fail its neighbours.
    Idempotent: the same body again changes nothing and reports every unit unchanged."""
    items = [producer.BulkItem(i.gtin, i.serial, i.status, i.comment) for i in body.items]
    return producer.change_statuses(
        session, caller, trust, items, now=now, undo_window=services.undo_window
    )


@router.get("/brands/{brand_id}/webhook", response_model=producer.WebhookShown)
def show_webhook(
    brand_id: Annotated[str, Path(min_length=1, max_length=64)],
    caller: CallerDep,
    session: SessionDep,
) -> producer.WebhookShown:
    """The brand's webhook endpoint (brand's own accounts, admin). The secret is never shown."""
    return producer.show_webhook(session, caller, brand_id)


@router.get("/seizures", response_model=list[producer.SeizureLine])
def list_seizures(
    caller: CallerDep,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[producer.SeizureLine]:
    """Seizures, newest first: officers and admins all, a brand account its own products'."""
    return producer.list_seizures(session, caller, limit=limit)
