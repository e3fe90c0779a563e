"""A page view of a label's Digital Link: the verification a browser or API client asks
for, joined to the worker's next group commit like POST /v1/verify."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from authn.code import AI_GTIN, AI_SERIAL
from authn.digital_link import DigitalLink, format_digital_link
from authn.errors import InvalidInput, Unavailable
from http_api.ratelimit import client_ip, parse_networks
from mobile_api.netplace import locate, network_device_id
from mobile_api.own_scan import shown_answer
from mobile_api.pages import BrandContact, Page, error_page, verdict_page
from mobile_api.web import (
    device_id_of,
    html_response,
    is_prefetch,
    mobile_settings_of,
    new_session_cookie,
    session_cookie,
    set_session_cookie,
)
from verifier.accounts import Caller
from verifier.schemas import VerifyIn


def brand_contact(services: Any, gtin: str) -> BrandContact | None:
    try:
        brand = services.trust.current().brand_owning(gtin)
    except Unavailable:
        return None
    if brand is None:
        return None
    contact = brand.contact
    return BrandContact(brand.name, contact.email, contact.phone, contact.url)


async def verify_page_view(
    request: Request, link: DigitalLink, services: Any, caller: Caller, *, page: Page, html: bool
) -> Response:
    """Browsers (``html``) get the verdict page, API clients the verify JSON; both record
    the scan. A browser without the session cookie gets one, so it is one device."""
    code_text = format_digital_link(link.ais, check_associations=False)
    if html and caller.account_id is None:
        # The language switcher: the answer this browser was just shown, in another
        # language, is no new scan of the label (docs/i18n.md, "Switching language").
        again = await run_in_threadpool(_shown_again, request, link, services, page)
        if again is not None:
            return again
    if html and is_prefetch(request):
        # A page nobody looked at is not a scan; the real navigation fetches again.
        return Response(status_code=503, headers={"Cache-Control": "no-store"})
    cookie = session_cookie(request)
    fresh_cookie = cookie is None
    if cookie is None and html:
        cookie = new_session_cookie()
    # The same client address the rate limiter uses (trusted proxies resolved once, there).
    ip = client_ip(request.scope, trusted_proxies=parse_networks(services.settings.trusted_proxies))
    place = locate(ip)
    # An anonymous view counts as its network, cookie or not: cookies cost a griefer
    # nothing to clear or forge, so they cannot be what makes many devices. The browser
    # part still ties a later shared location to its browser (docs/detection.md).
    device_id = device_id_of(cookie) if cookie is not None else None
    if caller.account_id is None:
        device_id = network_device_id(place, device_id)
    try:
        # The scan joins the worker's next group commit, like POST /v1/verify.
        body = VerifyIn(code=code_text, device_id=device_id, country=place.country)
        job = services.verifier.prepare(caller, body)
        answer = await services.recorder.judge(job)
    except InvalidInput:
        if not html:
            raise
        contact = brand_contact(services, dict(link.ais).get(AI_GTIN, ""))
        return html_response(error_page(page, contact), status_code=400, lang=page.lang)
    if not html:
        return JSONResponse(answer.to_json(), headers={"Cache-Control": "no-store"})
    if caller.account_id is None and answer.scan_id is not None:
        page = replace(page, shown=answer.scan_id)
    html_page = verdict_page(page, answer, brand_contact(services, answer.product.gtin))
    response = html_response(html_page, lang=page.lang)
    if fresh_cookie and cookie is not None:
        set_session_cookie(response, request, cookie)
    return response


def _shown_again(request: Request, link: DigitalLink, services: Any, page: Page) -> Response | None:
    """The label's page for the scan named by ``shown``, if this browser recorded it for
    this label within the page-view window; None to verify (and record) as usual."""
    ais = dict(link.ais)
    if AI_GTIN not in ais or AI_SERIAL not in ais:
        return None
    window = timedelta(minutes=mobile_settings_of(request).location_window_minutes)
    with Session(services.engine) as session:
        answer = shown_answer(
            session, services.verifier, request, window, services.clock(),
            code=(ais[AI_GTIN], ais[AI_SERIAL]),
        )  # fmt: skip
    if answer is None:
        return None
    page = replace(page, shown=answer.scan_id)
    body = verdict_page(page, answer, brand_contact(services, answer.product.gtin))
    return html_response(body, lang=page.lang)
