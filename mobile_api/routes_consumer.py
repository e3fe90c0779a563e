"""The two follow-ups of a consumer's page view: the location shared later, and a report
of a suspected fake."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, select

from authn.errors import NotFound
from mobile_api.i18n import pick_language
from mobile_api.pages import message_page
from mobile_api.web import (
    MobileSettingsDep,
    device_id_of,
    html_response,
    session_cookie,
)
from verifier.accounts import Role
from verifier.alert_raising import ConsumerReport, record_consumer_report
from verifier.api.deps import ServicesDep, SessionDep
from verifier.api.schemas import Location
from verifier.db.models import Scan
from verifier.statuses import set_scan_location

LINKSET_JSON = "application/linkset+json"
GS1_VOC = "https://gs1.org/voc/"
MAX_REPORT_FIELD = 1000


api_router = APIRouter(tags=["mobile"])


def _own_anonymous_scan(
    session: Session, request: Request, scan_id: str, settings_window: timedelta, now: Any
) -> Scan:
    """The scan ``scan_id`` if this browser made it recently, else NotFound (no oracle)."""
    cookie = session_cookie(request)
    scan = session.exec(select(Scan).where(Scan.scan_id == scan_id[:36])).first()
    if (
        cookie is None
        or scan is None
        or scan.role != Role.ANONYMOUS.value
        or scan.device_id != device_id_of(cookie)
        or now - scan.recorded_at > settings_window
    ):
        raise NotFound("no such scan of this browser session")
    return scan


@api_router.post(
    "/v1/scans/{scan_id}/location",
    status_code=204,
    summary="Add the (coarsened) location to the scan this browser just recorded",
    responses={404: {"description": "No such recent scan of this browser session."}},
)
def add_location(
    scan_id: str,
    body: Location,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    mobile: MobileSettingsDep,
) -> Response:
    """Only the browser session that viewed the page (its cookie), only once, only within
    ``location_window_minutes``; kept at about 10 km (0.1°) as for any anonymous scan."""
    cookie = session_cookie(request)
    if cookie is None:
        raise NotFound("no such scan of this browser session")
    set_scan_location(
        session,
        scan_id,
        device_id=device_id_of(cookie),
        lat=body.lat,
        lon=body.lon,
        accuracy_m=body.accuracy_m,
        window=timedelta(minutes=mobile.location_window_minutes),
        now=services.clock(),
    )
    return Response(status_code=204)


@api_router.post(
    "/report",
    summary="A consumer's report of a suspected fake (HTML form post)",
    include_in_schema=True,
)
async def report(
    request: Request, services: ServicesDep, session: SessionDep, mobile: MobileSettingsDep
) -> Response:
    """Stored as an alert of kind CONSUMER_REPORT for the brand, and sent to its webhook
    (``report.received``); one per scan. The answer is the same whatever happened."""
    raw = (await request.body()).decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(raw, max_num_fields=20).items()}
    lang = pick_language(request.headers.get("accept-language"), form.get("lang"))
    window = timedelta(minutes=mobile.location_window_minutes) * 48
    try:
        scan = _own_anonymous_scan(
            session, request, form.get("scan_id", ""), window, services.clock()
        )
    except NotFound:
        return html_response(message_page(lang, "error.title", "error.text"), status_code=404)
    # The brand owning the GTIN hears of it even when it published no contact.
    brand = services.trust.current().brand_owning(scan.gtin)
    report = ConsumerReport(
        scan_id=scan.scan_id, gtin=scan.gtin, serial=scan.serial, verdict=scan.verdict,
        country=scan.country, where=form.get("where", "")[:200],
        what=form.get("what", "")[:MAX_REPORT_FIELD],
    )  # fmt: skip
    record_consumer_report(
        session, report, brand.id if brand is not None else None, now=services.clock()
    )
    return html_response(message_page(lang, "report", "report.thanks"))
