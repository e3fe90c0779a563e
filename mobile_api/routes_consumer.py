"""The two follow-ups of a consumer's page view: the location shared later, and a report
of a suspected fake."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from authn.errors import NotFound
from http_api.deps import ServicesDep, SessionDep
from mobile_api.own_scan import own_recent_scan
from mobile_api.page_view import brand_contact
from mobile_api.pages import error_page, report_sent_page, suspect_banner
from mobile_api.settings import MobileSettings
from mobile_api.web import (
    MobileSettingsDep,
    device_id_of,
    html_response,
    page_of,
    session_cookie,
)
from verifier.alert_raising import REPORT_KIND, ConsumerReport, record_consumer_report
from verifier.db.models import Alert, Scan
from verifier.schemas import Location, ReasonOut, VerdictName
from verifier.verification.rejudge import rejudge_with_location

LINKSET_JSON = "application/linkset+json"
GS1_VOC = "https://gs1.org/voc/"
MAX_REPORT_FIELD = 1000


api_router = APIRouter(tags=["mobile"])


class BannerOut(BaseModel):
    state: str
    heading: str
    reason: str
    next: str
    icon: str = Field(description="SVG path data of the banner's icon (24x24).")


class LocationAddedOut(BaseModel):
    """The scan's verdict once the shared location was added and the scan judged again."""

    scan_id: str
    verdict: VerdictName
    changed: bool = Field(description="Whether the shared location raised the verdict.")
    reason: ReasonOut = Field(description="The generic reason a consumer is told.")
    banner: BannerOut | None = Field(
        default=None, description="The page's new banner (in ?lang=), when it became suspect."
    )


@api_router.post(
    "/v1/scans/{scan_id}/location",
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
) -> JSONResponse:
    """Only the browser session that viewed the page (its cookie), only once, only within
    ``location_window_minutes``; kept at about 10 km (0.1°) as for any anonymous scan.

    The scan is judged again with the location (docs/detection.md, "A location shared
    later"): the answer is its verdict now, which can only have become worse."""
    cookie = session_cookie(request)
    if cookie is None:
        raise NotFound("no such scan of this browser session")
    result = rejudge_with_location(
        session,
        services.verifier,
        scan_id,
        device_id=device_id_of(cookie),
        lat=body.lat,
        lon=body.lon,
        accuracy_m=body.accuracy_m,
        window=timedelta(minutes=mobile.location_window_minutes),
        now=services.clock(),
    )
    out = LocationAddedOut(
        scan_id=result.scan_id, verdict=result.verdict, changed=result.changed,
        reason=ReasonOut(code=result.consumer_code, message=result.consumer_message),
        banner=(
            BannerOut(**suspect_banner(page_of(request)))
            if result.changed and result.verdict == "suspect" else None
        ),
    )  # fmt: skip
    return JSONResponse(out.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@api_router.post(
    "/report",
    summary="A consumer's report of a suspected fake (HTML form post)",
    include_in_schema=True,
    status_code=303,
)
async def report(
    request: Request, services: ServicesDep, session: SessionDep, mobile: MobileSettingsDep
) -> Response:
    """Stored as an alert of kind CONSUMER_REPORT for the brand, and sent to its webhook
    (``report.received``); one per scan. Answers a redirect to the receipt (GET /report),
    so a reload does not post the form again."""
    raw = (await request.body()).decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(raw, max_num_fields=20).items()}
    try:
        scan = own_recent_scan(
            session, request, form.get("scan_id", ""), _report_window(mobile), services.clock()
        )
    except NotFound:
        page = page_of(request, form.get("lang"))
        return html_response(error_page(page), status_code=404, lang=page.lang)
    # The brand owning the GTIN hears of it even when it published no contact; a repeat of
    # the same scan's report changes nothing.
    brand = services.trust.current().brand_owning(scan.gtin)
    report = ConsumerReport(
        scan_id=scan.scan_id, gtin=scan.gtin, serial=scan.serial, verdict=scan.verdict,
        country=scan.country, where=form.get("where", "")[:200],
        what=form.get("what", "")[:MAX_REPORT_FIELD],
    )  # fmt: skip
    record_consumer_report(
        session, report, brand.id if brand is not None else None, now=services.clock()
    )
    lang = page_of(request, form.get("lang")).lang
    receipt = "/report?" + urlencode({"scan_id": scan.scan_id, "lang": lang})
    return RedirectResponse(receipt, status_code=303, headers={"Cache-Control": "no-store"})


@api_router.get(
    "/report",
    summary="The receipt of a consumer's report: next steps and the brand's contact",
    include_in_schema=True,
)
def report_receipt(
    request: Request, services: ServicesDep, session: SessionDep, mobile: MobileSettingsDep
) -> Response:
    """Only for the browser session that sent the report (no oracle of other scans)."""
    page = page_of(request)
    try:
        scan = own_recent_scan(
            session, request, request.query_params.get("scan_id", ""), _report_window(mobile),
            services.clock(),
        )  # fmt: skip
    except NotFound:
        return html_response(error_page(page), status_code=404, lang=page.lang)
    if _report_of(session, scan) is None:
        return html_response(error_page(page), status_code=404, lang=page.lang)
    contact = brand_contact(services, scan.gtin)
    return html_response(report_sent_page(page, contact), lang=page.lang)


def _report_window(mobile: MobileSettings) -> timedelta:
    return timedelta(minutes=mobile.location_window_minutes) * 48


def _report_of(session: Session, scan: Scan) -> Alert | None:
    return session.exec(
        select(Alert).where(Alert.kind == REPORT_KIND, Alert.scan_id == scan.scan_id)
    ).first()
