"""The GS1 Digital Link resolver role: a label's URL answers browsers, API clients and
linkset requests; plus the two follow-ups of a page view (location, report)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, select
from starlette.convertors import Convertor, register_url_convertor

from authn.code import AI_SIGNATURE
from authn.digital_link import DigitalLink, format_digital_link, parse_digital_link
from authn.errors import InvalidInput, NotFound, SealtraceError, Unavailable
from mobile_api.i18n import pick_language
from mobile_api.pages import BrandContact, message_page, verdict_page
from mobile_api.web import (
    MobileSettingsDep,
    device_id_of,
    html_response,
    is_prefetch,
    new_session_cookie,
    session_cookie,
    set_session_cookie,
    wants_html,
)
from verifier.accounts import Role
from verifier.api.deps import CallerDep, ServicesDep, SessionDep
from verifier.api.problems import problem
from verifier.api.schemas import Location, VerifyIn
from verifier.db.models import Alert, Scan
from verifier.statuses import set_scan_location

LINKSET_JSON = "application/linkset+json"
GS1_VOC = "https://gs1.org/voc/"
REPORT_KIND = "CONSUMER_REPORT"
MAX_REPORT_FIELD = 1000


class GS1AIConvertor(Convertor[str]):
    """A path segment that can open a Digital Link: a 2-4 digit Application Identifier.

    Restricting the resolver route this way keeps it from swallowing /v1, /docs
    or /static, so their own 404 and 405 answers stay intact.
    """

    regex = r"\d{2,4}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("gs1ai", GS1AIConvertor())

api_router = APIRouter(tags=["mobile"])
resolver_router = APIRouter(tags=["resolver"])


def _digital_link(request: Request) -> DigitalLink | None:
    base = f"{request.url.scheme}://{request.url.netloc}"
    query = request.url.query
    # The raw path: the decoded one would turn %2F inside a value into a path separator.
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    uri = base + path + (f"?{query}" if query else "")
    try:
        link = parse_digital_link(uri)
    except SealtraceError:
        return None
    return link


def _brand_contact(services: Any, gtin: str) -> BrandContact | None:
    try:
        brand = services.trust.current().brand_owning(gtin)
    except Unavailable:
        return None
    if brand is None:
        return None
    contact = brand.contact
    return BrandContact(brand.name, contact.email, contact.phone, contact.url)


def _linkset(request: Request, link: DigitalLink) -> JSONResponse:
    base = f"{request.url.scheme}://{request.url.netloc}"
    anchor_ais = [(ai, value) for ai, value in link.ais if ai != AI_SIGNATURE]
    anchor = format_digital_link(anchor_ais, base, check_associations=False)
    page = format_digital_link(link.ais, base, check_associations=False)
    body = {
        "linkset": [
            {
                "anchor": anchor,
                GS1_VOC + "pip": [
                    {"href": page, "title": "Product check page", "type": "text/html",
                     "hreflang": ["en", "fr", "es"]},
                ],
                GS1_VOC + "verificationService": [
                    {"href": page, "title": "Verify this unit (web page)", "type": "text/html"},
                    {"href": f"{base}/v1/verify", "title": "Verify API (POST {\"code\": ...})",
                     "type": "application/json"},
                ],
                GS1_VOC + "defaultLink": [{"href": page, "type": "text/html"}],
            }
        ]
    }  # fmt: skip
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept"}
    return JSONResponse(body, media_type=LINKSET_JSON, headers=headers)


@resolver_router.get(
    "/{ai:gs1ai}/{rest:path}",
    summary="GS1 Digital Link resolver: the page, the verify answer or the linkset",
    responses={404: {"description": "Not a Digital Link with a GS1 primary key."}},
)
async def resolve(
    request: Request,
    ai: str,
    rest: str,
    services: ServicesDep,
    caller: CallerDep,
) -> Response:
    """Browsers (Accept: text/html) get the verdict page; API clients the same JSON as
    POST /v1/verify; ``?linkType=all`` the RFC 9264 linkset. Viewing records a scan."""
    link = _digital_link(request)
    params = dict(link.other_params) if link else {}
    lang = pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))
    html = wants_html(request)
    if link is None:
        if html:
            return html_response(message_page(lang, "error.title", "error.text"), status_code=404)
        return problem(404, "not-found", "Not found", "not a GS1 Digital Link of this resolver")
    if params.get("linkType") == "all":
        return _linkset(request, link)
    code_text = format_digital_link(link.ais, check_associations=False)
    if html and is_prefetch(request):
        # A page nobody looked at is not a scan; the real navigation fetches again.
        return Response(status_code=503, headers={"Cache-Control": "no-store"})
    cookie = session_cookie(request)
    fresh_cookie = cookie is None
    if cookie is None and html:
        cookie = new_session_cookie()
    device_id = device_id_of(cookie) if cookie is not None else None
    try:
        # The scan joins the worker's next group commit, like POST /v1/verify.
        job = services.verifier.prepare(caller, VerifyIn(code=code_text, device_id=device_id))
        answer = await services.recorder.judge(job)
    except InvalidInput:
        if not html:
            raise
        return html_response(message_page(lang, "error.title", "error.text"), status_code=400)
    if not html:
        return JSONResponse(answer.to_json(), headers={"Cache-Control": "no-store"})
    page = verdict_page(lang, answer, _brand_contact(services, answer.product.gtin))
    response = html_response(page)
    response.headers["Content-Language"] = lang
    if fresh_cookie and cookie is not None:
        set_session_cookie(response, request, cookie)
    return response


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
    """Stored as an alert of kind CONSUMER_REPORT for the brand; one per scan."""
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
    already = session.exec(
        select(Alert).where(Alert.kind == REPORT_KIND, Alert.scan_id == scan.scan_id)
    ).first()
    if already is None:
        contact = _brand_contact(services, scan.gtin)
        brand_id = None
        if contact is not None:
            brand = services.trust.current().brand_owning(scan.gtin)
            brand_id = brand.id if brand else None
        detail = {
            "where": form.get("where", "")[:200],
            "what": form.get("what", "")[:MAX_REPORT_FIELD],
            "verdict": scan.verdict,
        }
        session.add(
            Alert(
                created_at=services.clock(), kind=REPORT_KIND, brand_id=brand_id,
                gtin=scan.gtin, serial=scan.serial, scan_id=scan.scan_id,
                detail=json.dumps(detail)[:2000],
            )
        )  # fmt: skip
        session.commit()
    return html_response(message_page(lang, "report", "report.thanks"))
