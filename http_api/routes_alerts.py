"""Alerts (list, read, acknowledge, close), brand webhooks and per-GTIN detection thresholds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from http_api.deps import (
    CallerDep,
    NowDep,
    ReadSessionDep,
    ServicesDep,
    SessionDep,
    TrustListDep,
)
from verifier import alerts, outbox, registry
from verifier.alerts import AlertFilter, AlertStatus, AlertView
from verifier.outbox import WebhookConfigOut
from verifier.schemas import ThresholdsIn, ThresholdsOut
from verifier.text import Line, Text
from verifier.webhooks import Destinations

router = APIRouter(prefix="/v1", tags=["alerts"])

NEXT_HEADER = "X-Next-Before-Id"
# Ids are 32-bit INTEGER columns: a larger number is simply not an id (404), never a 500.
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
GtinPath = Annotated[str, Path(pattern=r"^\d{14}$", description="14-digit GTIN")]


class AcknowledgeIn(BaseModel):
    comment: Text | None = Field(default=None, max_length=alerts.MAX_COMMENT)


class CloseIn(BaseModel):
    comment: Text = Field(min_length=1, max_length=alerts.MAX_COMMENT)


class WebhookIn(BaseModel):
    url: Line = Field(min_length=1, max_length=2000)
    secret: Line | None = Field(default=None, min_length=outbox.MIN_SECRET_CHARS, max_length=200)


@router.get("/alerts", response_model=list[AlertView])
def list_alerts(
    response: Response,
    caller: CallerDep,
    session: ReadSessionDep,
    now: NowDep,
    brand: Annotated[Line | None, Query(max_length=64)] = None,
    reason: Annotated[Line | None, Query(max_length=64)] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    status: AlertStatus | None = None,
    since: AwareDatetime | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=alerts.MAX_PAGE)] = 100,
) -> list[AlertView]:
    """Newest first. A brand sees its own brand's alerts, officers and admins all. When more
    remain, the ``X-Next-Before-Id`` header gives the ``before_id`` of the next page."""
    filters = AlertFilter(
        brand_id=brand, reason=reason, country=country, status=status, since=since,
        before_id=before_id, limit=limit,
    )  # fmt: skip
    page = alerts.list_alerts(session, caller, filters, now=now)
    if page.next_before_id is not None:
        response.headers[NEXT_HEADER] = str(page.next_before_id)
    return page.items


@router.get("/alerts/{alert_id}", response_model=AlertView)
def get_alert(
    alert_id: AlertId, caller: CallerDep, session: ReadSessionDep, now: NowDep
) -> AlertView:
    """One alert with its transitions (who, when, comment)."""
    return alerts.get_alert(session, caller, alert_id, now=now)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertView)
def acknowledge_alert(
    alert_id: AlertId,
    caller: CallerDep,
    session: SessionDep,
    now: NowDep,
    body: AcknowledgeIn | None = None,
) -> AlertView:
    """open -> acknowledged."""
    comment = body.comment if body is not None else None
    return alerts.acknowledge_alert(session, caller, alert_id, now=now, comment=comment)


@router.post("/alerts/{alert_id}/close", response_model=AlertView)
def close_alert(
    alert_id: AlertId, body: CloseIn, caller: CallerDep, session: SessionDep, now: NowDep
) -> AlertView:
    """open or acknowledged -> closed, with a comment."""
    return alerts.close_alert(session, caller, alert_id, body.comment, now=now)


@router.put("/brands/{brand_id}/webhook", response_model=WebhookConfigOut)
def set_webhook(
    brand_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: WebhookIn,
    caller: CallerDep,
    session: SessionDep,
    services: ServicesDep,
    trust: TrustListDep,
    now: NowDep,
) -> WebhookConfigOut:
    """Where the brand's alerts are posted (brand's own accounts or admin). The secret is
    generated when not given and shown in this answer only; https outside development; no
    address inside the network (loopback, private, link-local, metadata), after DNS."""
    return outbox.set_webhook(
        session, caller, brand_id, body.url, body.secret, now=now,
        require_https=services.settings.environment != "development", trust=trust,
        destinations=Destinations.allowing(services.settings.webhook_allow_networks),
    )  # fmt: skip


@router.get("/thresholds/{gtin}", response_model=ThresholdsOut)
def get_thresholds(
    gtin: GtinPath, caller: CallerDep, session: SessionDep, trust: TrustListDep, now: NowDep
) -> ThresholdsOut:
    """The brand's detection thresholds for this GTIN (null: the service default)."""
    return registry.get_thresholds(session, caller, trust, gtin, now=now)


@router.put("/thresholds/{gtin}", response_model=ThresholdsOut)
def set_thresholds(
    gtin: GtinPath,
    body: ThresholdsIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> ThresholdsOut:
    """Set the GTIN's device limit, sessions after sale and top speed (owning brand, admin)."""
    return registry.set_thresholds(session, caller, trust, gtin, body, now=now)
