"""The GS1 Digital Link resolver: a label's URL answers browsers, API clients and
linkset requests.

This module decides *what* a Digital Link request asks for (the page, the verify
answer, the linkset); :mod:`mobile_api.page_view` does the verification itself,
so that only a real verification records a scan.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from authn.code import AI_SIGNATURE
from authn.digital_link import DigitalLink, format_digital_link, parse_digital_link
from authn.errors import SealtraceError
from mobile_api.i18n import pick_language
from mobile_api.page_view import verify_page_view
from mobile_api.pages import message_page
from mobile_api.web import html_response, wants_html
from verifier.api.deps import CallerDep, ServicesDep
from verifier.api.problems import problem

LINKSET_JSON = "application/linkset+json"
GS1_VOC = "https://gs1.org/voc/"


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
    return await verify_page_view(request, link, services, caller, lang=lang, html=html)
