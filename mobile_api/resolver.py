"""The GS1 Digital Link resolver: a label's URL answers browsers, API clients and
linkset requests.

This module decides *what* a Digital Link request asks for (the page, the verify
answer, the linkset); :mod:`mobile_api.page_view` does the verification itself,
so that only a real verification records a scan.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from authn.code import AI_GTIN, AI_SERIAL
from authn.digital_link import DigitalLink, parse_digital_link
from authn.errors import GS1SyntaxError, Unavailable
from authn.gs1 import has_valid_check_digit
from http_api.deps import CallerDep, Services, ServicesDep
from http_api.problems import problem
from mobile_api.linkset import (
    LINKSET_JSON,
    LINKSET_REQUESTS,
    SERVED_LINK_TYPES,
    context_link_header,
    expand_link_type,
    link_header,
    linkset,
    resolver_description,
    same_as_header,
)
from mobile_api.page_view import brand_contact, verify_page_view
from mobile_api.pages import error_page
from mobile_api.web import html_response, page_of, wants_html
from verifier.accounts import Caller

METHODS = "GET, HEAD, OPTIONS"
PATH_GTIN = re.compile(r"/01/(\d{14})(?:/|$)")
# Any origin may read what the resolver answers (GS1-Conformant Resolver: "SHALL support
# CORS"); no credentials are shared cross-origin, so "*" is safe.
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Link, Location, Content-Language",
}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": METHODS,
    "Access-Control-Allow-Headers": "Accept, Accept-Language, Authorization",
    "Access-Control-Max-Age": "86400",
    "Allow": METHODS,
}


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


class CompressedConvertor(Convertor[str]):
    """A single path segment that can be a compressed Digital Link (URI-safe base64,
    8 characters or more). The route is registered after every other, so it only
    sees what no page or API route answers."""

    regex = r"[A-Za-z0-9_-]{8,}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("gs1ai", GS1AIConvertor())
register_url_convertor("dlcompressed", CompressedConvertor())

resolver_router = APIRouter(tags=["resolver"])


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _digital_link(request: Request) -> DigitalLink:
    """The request as a Digital Link; :class:`GS1SyntaxError` if it is not a valid one."""
    query = request.url.query
    # The raw path: the decoded one would turn %2F inside a value into a path separator.
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    return parse_digital_link(_base(request) + path + (f"?{query}" if query else ""))


def _served(services: Services, link: DigitalLink) -> bool:
    """A unit of a brand in the trust list: a GTIN with a serial. SSCCs, GLNs, a GTIN
    without a serial or a GTIN of no registered brand are valid but not served here."""
    ais = dict(link.ais)
    if link.primary_key[0] != AI_GTIN or AI_SERIAL not in ais:
        return False
    try:
        trust = services.trust.current()
    except Unavailable:
        return True  # cannot tell: the verification answers 503 itself
    return trust.brand_owning(ais[AI_GTIN]) is not None


def _wants_linkset(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(item.split(";")[0].strip().lower() == LINKSET_JSON for item in accept.split(","))


def _path_gtin(request: Request) -> str | None:
    """The GTIN a damaged label's path still shows (``/01/<14 digits>``, check digit right),
    so that its error page can name the brand's contact."""
    match = PATH_GTIN.match(request.url.path)
    return match[1] if match and has_valid_check_digit(match[1]) else None


def _error(
    request: Request, services: Services, status: int, detail: str, *, gtin: str | None = None
) -> Response:
    if wants_html(request):
        page = page_of(request)
        contact = brand_contact(services, gtin) if gtin is not None else None
        body = error_page(page, contact)
        response: Response = html_response(body, status_code=status, lang=page.lang)
    else:
        slug = "invalid-input" if status == 400 else "not-found"
        response = problem(status, slug, "Bad request" if status == 400 else "Not found", detail)
    response.headers.update(CORS)
    return response


def _without_link_type(request: Request) -> str:
    """The same Digital Link, every other query parameter passed on, ``linkType`` dropped."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "linkType"]
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    return _base(request) + path + ("?" + urlencode(kept, quote_via=quote) if kept else "")


_RESOLVER_RESPONSES: dict[int | str, dict[str, str]] = {
    400: {"description": "Not a syntactically valid Digital Link."},
    404: {"description": "A valid Digital Link this resolver does not serve."},
}


@resolver_router.api_route(
    "/{ai:gs1ai}/{rest:path}",
    methods=["GET", "HEAD", "OPTIONS"],
    summary="GS1 Digital Link resolver: the page, the verify answer, a redirect or the linkset",
    responses=_RESOLVER_RESPONSES,
)
async def resolve(
    request: Request,
    ai: str,
    rest: str,
    services: ServicesDep,
    caller: CallerDep,
) -> Response:
    """GS1-Conformant Resolver 1.2 behaviour; see docs/mobile.md for the conformance table.
    Only a GET of the page or the verify answer records a scan. A path that is partly
    compressed (``/01/<GTIN>/<compressed>``) is served as its uncompressed form."""
    return await _resolve(request, services, caller)


@resolver_router.api_route(
    "/{compressed:dlcompressed}",
    methods=["GET", "HEAD", "OPTIONS"],
    summary="A compressed GS1 Digital Link, served as the uncompressed one",
    responses=_RESOLVER_RESPONSES,
)
async def resolve_compressed(
    request: Request,
    compressed: str,
    services: ServicesDep,
    caller: CallerDep,
) -> Response:
    """The same answers as the uncompressed Digital Link, with a ``Link`` to it
    (rel ``owl:sameAs``)."""
    return await _resolve(request, services, caller)


async def _resolve(request: Request, services: Services, caller: Caller) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=PREFLIGHT)
    try:
        link = _digital_link(request)
    except GS1SyntaxError as error:
        return _error(
            request, services, 400, f"not a valid GS1 Digital Link: {error}",
            gtin=_path_gtin(request),
        )  # fmt: skip
    if not _served(services, link):
        return _error(
            request, services, 404, "this resolver holds no links for this identifier",
            gtin=dict(link.ais).get(AI_GTIN),
        )  # fmt: skip
    base = _base(request)
    headers = {**CORS, "Link": link_header(link, base)}
    if link.compressed is not None:
        # GS1-Conformant Resolver 1.2: a compressed request exposes its uncompressed URI.
        headers["Link"] += ", " + same_as_header(link, base)
    vary = {"Vary": "Accept, Accept-Language"}
    requested = dict(link.other_params).get("linkType")
    if requested in LINKSET_REQUESTS or (requested is None and _wants_linkset(request)):
        headers["Link"] += ", " + context_link_header()
        headers.update(vary, **{"Cache-Control": "public, max-age=300"})
        if request.method == "HEAD":
            return Response(status_code=200, headers=headers, media_type=LINKSET_JSON)
        return JSONResponse(linkset(link, base), media_type=LINKSET_JSON, headers=headers)
    if requested is not None:
        if expand_link_type(requested) not in SERVED_LINK_TYPES:
            return _error(
                request, services, 404, f"no link of type {requested!r} for this identifier",
                gtin=dict(link.ais).get(AI_GTIN),
            )  # fmt: skip
        # Every served link type leads to the unit's page, i.e. this URL without linkType.
        return RedirectResponse(
            _without_link_type(request), status_code=307, headers={**headers, **vary}
        )
    if request.method == "HEAD":
        # A HEAD asks what a GET would answer; it is no verification and records nothing.
        media = "text/html; charset=utf-8" if wants_html(request) else "application/json"
        return Response(status_code=200, headers={**headers, **vary}, media_type=media)
    response = await verify_page_view(
        request, link, services, caller, page=page_of(request), html=wants_html(request)
    )
    response.headers.update(headers)
    return response


@resolver_router.api_route(
    "/.well-known/gs1resolver",
    methods=["GET", "HEAD", "OPTIONS"],
    summary="The GS1 resolver description document",
)
async def resolver_description_document(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=PREFLIGHT)
    body = resolver_description(_base(request))
    return JSONResponse(body, headers={**CORS, "Cache-Control": "public, max-age=3600"})
