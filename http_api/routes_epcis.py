"""HTTP: capture EPCIS 2.0 documents, query events, export documents (``/v1/epcis``).

- ``POST /v1/epcis/capture``: a brand's account (or an admin naming ``brand``);
  201 with the event hashes; 400 listing each bad event; 409 listing each
  event captured before. Nothing of a refused document is stored.
- ``GET /v1/epcis/events``: an EPCISQueryDocument, one page; the next page is
  in the ``Link`` header (``rel="next"``) and ``X-Next-Cursor``.
- ``GET /v1/epcis/export``: an EPCISDocument with location master data.

Officers and admins read every brand's events; a brand reads its own only.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from authn.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from epcis.query import QueryParameterError
from epcis.store import (
    DEFAULT_LIMIT,
    MAX_EXPORT,
    MAX_LIMIT,
    CaptureConflict,
    CaptureRejected,
    EventQuery,
    capture,
    export_document,
)
from http_api.deps import CallerDep, NowDep, ReadSessionDep, SessionDep, TrustListDep
from http_api.problems import epcis_problem_for, problem
from verifier import products
from verifier.accounts import Caller, Role

# The parameters of this dialect; any other name is refused, never ignored (the
# standard's parameters are answered by /epcis/events).
LEGACY_PARAMETERS = frozenset({"code", "from", "to", "bizStep", "cursor", "limit", "containers"})


def _known_parameters(request: Request) -> None:
    for name in request.query_params:
        if name not in LEGACY_PARAMETERS:
            raise QueryParameterError(
                f"{name} is not a parameter of /v1/epcis; the EPCIS 2.0 query parameters "
                "(EQ_bizStep, MATCH_epc, GE_eventTime, ...) are answered by /epcis/events"
            )


class LegacyRoute(APIRoute):
    """The version headers on every answer; an unknown parameter is the standard's 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except QueryParameterError as exc:
                response = epcis_problem_for(exc)
            response.headers.update(VERSION_HEADERS)
            return response

        return handler


router = APIRouter(prefix="/v1/epcis", tags=["epcis"], route_class=LegacyRoute)
EPCIS_MEDIA = "application/ld+json"
VERSION_HEADERS = {"GS1-EPCIS-Version": "2.0", "GS1-CBV-Version": "2.0"}


def _capturing_brand(caller: Caller, brand: str | None) -> str:
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("capturing events needs a brand's or an admin's bearer token")
    if caller.role is Role.BRAND:
        if brand is not None and brand != caller.brand_id:
            raise PermissionDenied("a brand captures events for itself only")
        assert caller.brand_id is not None
        return caller.brand_id
    if caller.role is Role.ADMIN:
        if brand is None:
            raise InvalidInput("an admin names the brand the events belong to: ?brand=<id>")
        return brand
    raise PermissionDenied("only brand owners and admins capture events")


def reading_brand(caller: Caller) -> str | None:
    """None: every brand (officers, admins); else the caller's own brand."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("reading events needs a bearer token")
    if caller.role is Role.BRAND:
        return caller.brand_id
    if caller.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("events are for officers, admins and the brand that owns them")
    return None


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput(f"{name} needs a time zone, e.g. 2026-03-01T00:00:00Z")
    return value


@router.post("/capture", status_code=201, summary="Capture an EPCIS 2.0 JSON-LD document")
def capture_document(
    document: Annotated[Any, Body(description="An EPCISDocument or EPCISQueryDocument")],
    session: SessionDep,
    caller: CallerDep,
    trust_list: TrustListDep,
    now: NowDep,
    brand: Annotated[str | None, Query(max_length=64)] = None,
) -> JSONResponse:
    brand_id = _capturing_brand(caller, brand)
    registered = trust_list.brand_for(brand_id)
    if registered is None:
        raise NotFound(f"no brand {brand_id!r} in the trust list")
    try:
        result = capture(
            session,
            document,
            brand_id=brand_id,
            prefixes=registered.prefixes,
            account_id=caller.account_id,
            now=now,
        )
    except CaptureRejected as exc:
        errors = [e.as_dict() for e in exc.errors]
        return problem(400, "epcis-invalid", "Events not valid", str(exc), extra={"errors": errors})
    except CaptureConflict as exc:
        errors = [e.as_dict() for e in exc.errors]
        return problem(
            409, "epcis-duplicate", "Events captured before", str(exc), extra={"errors": errors}
        )
    body = {
        "captureID": result.capture_id,
        "eventCount": len(result.event_hashes),
        "eventIDs": result.event_hashes,
    }
    return JSONResponse(body, status_code=201)


def _query(
    caller: Caller,
    code: str | None,
    start: datetime | None,
    end: datetime | None,
    biz_step: str | None,
    cursor: str | None,
    limit: int,
    containers: bool,
) -> EventQuery:
    return EventQuery(
        brand_id=reading_brand(caller),
        code=code,
        start=_aware("from", start),
        end=_aware("to", end),
        biz_step=biz_step,
        cursor=cursor,
        limit=limit,
        containers=containers,
    )


def _paged(request: Request, document: dict[str, Any], cursor: str | None) -> JSONResponse:
    headers = {}
    if cursor is not None:
        headers["X-Next-Cursor"] = cursor
        headers["Link"] = f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'
    return JSONResponse(document, headers=headers, media_type=EPCIS_MEDIA)


Code = Annotated[
    str | None, Query(max_length=500, description="EPC URI, Digital Link or (01)..(21)..")
]
From = Annotated[datetime | None, Query(alias="from", description="eventTime >= from")]
To = Annotated[datetime | None, Query(alias="to", description="eventTime < to")]
BizStep = Annotated[str | None, Query(alias="bizStep", max_length=300)]
Cursor = Annotated[str | None, Query(max_length=200)]
Containers = Annotated[
    bool, Query(description="also the events of the cases and pallets the code was packed in")
]


@router.get(
    "/events",
    summary="Events by code, time and bizStep, one page at a time",
    dependencies=[Depends(_known_parameters)],
)
def get_events(
    request: Request,
    session: ReadSessionDep,
    caller: CallerDep,
    now: NowDep,
    code: Code = None,
    start: From = None,
    end: To = None,
    biz_step: BizStep = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    containers: Containers = False,
) -> JSONResponse:
    query = _query(caller, code, start, end, biz_step, cursor, limit, containers)
    document, next_cursor = export_document(session, query, now=now, as_query_document=True)
    return _paged(request, document, next_cursor)


@router.get(
    "/export",
    summary="The matching events as an EPCIS 2.0 document",
    dependencies=[Depends(_known_parameters)],
)
def export(
    request: Request,
    session: ReadSessionDep,
    caller: CallerDep,
    trust: TrustListDep,
    now: NowDep,
    code: Code = None,
    start: From = None,
    end: To = None,
    biz_step: BizStep = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT)] = MAX_LIMIT,
    containers: Containers = False,
) -> JSONResponse:
    query = _query(caller, code, start, end, biz_step, cursor, limit, containers)

    def classes(gtins: frozenset[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        return products.epcis_classes(
            session, trust, gtins, brand_id=query.brand_id, base_url=str(request.base_url)
        )

    document, next_cursor = export_document(session, query, now=now, products=classes)
    return _paged(request, document, next_cursor)
