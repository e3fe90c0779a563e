"""HTTP: the EPCIS 2.0 REST binding (``/epcis``), as GS1's OpenAPI of the standard defines it.

Routes parse, check the caller's role and call ``epcis``; see docs/epcis.md.

- ``POST /epcis/capture``: 202 and ``Location: /epcis/capture/{captureID}``; the
  job runs after the answer. ``GET /epcis/capture[/{captureID}]``: the jobs.
- ``GET /epcis/events`` (the simple event query as URL parameters),
  ``/epcis/events/{eventID}``, ``/epcis/eventTypes``, ``/epcis/eventTypes/{type}``,
  ``/epcis/eventTypes/{type}/events``, ``/epcis/epcs`` (the EPCs the caller's events name),
  ``/epcis/epcs/{epc}``, ``/epcis/epcs/{epc}/events``.
- ``GET /epcis`` lists the resources; ``OPTIONS`` on each answers 204 with the
  versions and limits. ``/epcis/queries``: no named queries (501 to create one).

Every answer carries ``GS1-EPCIS-Version`` and ``GS1-CBV-Version``; errors are the
standard's ``epcisException:...`` problem bodies. Who may: brands read and capture
their own events, officers read every brand's, admins read all and capture any
document (for a brand with ``?brand=``, else unscoped for the registry).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from authn.errors import InvalidInput, NotFound, PayloadTooLarge, PermissionDenied, SealtraceError
from epcis.documents import EPCIS_CONTEXT, query_document
from epcis.jobs import REGISTRY_SCOPE, get_job, is_stale, list_jobs, open_job, run_job
from epcis.model import EVENT_TYPES
from epcis.query import (
    NotAcceptable,
    NotSupported,
    QueryParameterError,
    decode_token,
    encode_token,
    parse_query,
    seal,
    unseal,
)
from epcis.search import epcs_present, event_types_present, search
from epcis.validation import MAX_EVENTS, event_list, read_document_shape
from http_api.deps import (
    CallerDep,
    NowDep,
    ReadSessionDep,
    ServicesDep,
    SessionDep,
    TrustListDep,
)
from http_api.problems import epcis_problem_for
from http_api.routes_epcis import EPCIS_MEDIA, VERSION_HEADERS, reading_brand
from verifier.accounts import Caller, Role

log = logging.getLogger(__name__)
VERSION = "2.0"
DISCOVERY_HEADERS = {
    **VERSION_HEADERS,
    "GS1-EPCIS-Min": VERSION,
    "GS1-EPCIS-Max": VERSION,
    "GS1-CBV-Min": VERSION,
    "GS1-CBV-Max": VERSION,
    # Identifiers are answered as they were captured (URN or Digital Link).
    "GS1-EPC-Format": "Never_Translates",
    "GS1-Vendor-Version": "sealtrace-1",
}
_VERSION_REQUESTS = ("GS1-EPCIS-Version", "GS1-CBV-Version")
_MIN_REQUESTS = ("GS1-EPCIS-Min", "GS1-CBV-Min")
_MAX_REQUESTS = ("GS1-EPCIS-Max", "GS1-CBV-Max")


def _version(text: str, header: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.strip().split("."))
    except ValueError:
        raise NotAcceptable(f"{header} must be a version such as 2.0, got {text!r}") from None


def check_versions(headers: Any) -> None:
    """406 when the client asks for an EPCIS or CBV version other than 2.0."""
    ours = _version(VERSION, "")
    for name in (*_VERSION_REQUESTS, *_MIN_REQUESTS, *_MAX_REQUESTS):
        value = headers.get(name)
        if value is None:
            continue
        asked = _version(value, name)
        asked = asked + (0,) * (len(ours) - len(asked))
        if (
            (name in _VERSION_REQUESTS and asked[: len(ours)] != ours)
            or (name in _MIN_REQUESTS and asked > ours)
            or (name in _MAX_REQUESTS and asked < ours)
        ):
            raise NotAcceptable(f"this repository speaks EPCIS and CBV {VERSION} only ({name})")


class EpcisRoute(APIRoute):
    """Checks the version headers, adds them to every answer, maps errors to EPCIS exceptions."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                check_versions(request.headers)
                response = await original(request)
            except SealtraceError as exc:
                response = epcis_problem_for(exc)
            response.headers.update(VERSION_HEADERS)
            return response

        return handler


router = APIRouter(prefix="/epcis", tags=["epcis 2.0"], route_class=EpcisRoute)
RESOURCES = ["capture", "events", "eventTypes", "epcs", "queries"]
ALLOW: dict[str, str] = {
    "": "OPTIONS, GET",
    "/capture": "OPTIONS, POST, GET",
    "/capture/{captureID}": "OPTIONS, GET",
    "/events": "OPTIONS, GET",
    "/events/{eventID}": "OPTIONS, GET",
    "/eventTypes": "OPTIONS, GET",
    "/eventTypes/{eventType}": "OPTIONS, GET",
    "/eventTypes/{eventType}/events": "OPTIONS, GET",
    "/epcs": "OPTIONS, GET",
    "/epcs/{epc}": "OPTIONS, GET",
    "/epcs/{epc}/events": "OPTIONS, GET",
    "/queries": "OPTIONS, GET, POST",
}


def _capture_headers(request: Request) -> dict[str, str]:
    services = request.app.state.services
    return {
        "GS1-EPCIS-Capture-Limit": str(MAX_EVENTS),
        "GS1-EPCIS-Capture-File-Size-Limit": str(services.settings.registration_body_limit),
        "GS1-Capture-Error-Behaviour": "rollback",
    }


def _options(path: str) -> None:
    async def discover(request: Request) -> Response:
        headers = {**DISCOVERY_HEADERS, "Allow": ALLOW[path]}
        if path == "/capture":
            headers.update(_capture_headers(request))
        return Response(status_code=204, headers=headers)

    # Discovery holds no data: OPTIONS answers without a token (as a CORS preflight would).
    router.add_api_route(
        path, discover, methods=["OPTIONS"], summary=f"Discovery: {path or '/'}",
        include_in_schema=False,
    )  # fmt: skip


for _path in ALLOW:
    _options(_path)


def _page_secret(services: Any) -> bytes:
    """The key that signs page tokens, derived from the token pepper (never the pepper itself)."""
    pepper = services.settings.token_pepper.get_secret_value().encode()
    return hmac.new(pepper, b"epcis-next-page-token", hashlib.sha256).digest()


def _scope_name(brand_id: str | None) -> str:
    return brand_id if brand_id is not None else "*"


def _events_answer(
    request: Request,
    session: Session,
    services: ServicesDep,
    caller: Caller,
    now: Any,
    fixed: dict[str, str] | None = None,
    *,
    not_found: str | None = None,
) -> JSONResponse:
    brand_id = reading_brand(caller)
    query = parse_query(list(request.query_params.multi_items()), fixed=fixed)
    secret = _page_secret(services)
    scope = _scope_name(brand_id)
    position = None
    if query.next_page_token is not None:
        position = decode_token(query.next_page_token, query, scope=scope, secret=secret)
    page = search(session, query, brand_id=brand_id, position=position)
    if not_found is not None and not page.events:
        raise NotFound(not_found)
    document = query_document(page.events, created=now, namespaces=page.namespaces)
    headers = {}
    if page.next_position is not None:
        token = encode_token(page.next_position, query, scope=scope, secret=secret)
        url = request.url.remove_query_params("nextPageToken").include_query_params(
            nextPageToken=token
        )
        headers["Link"] = f'<{url}>; rel="next"'
    return JSONResponse(document, headers=headers, media_type=EPCIS_MEDIA)


def _no_parameters(request: Request, allowed: tuple[str, ...] = ()) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise QueryParameterError(f"{name} is not a parameter of this resource")


@router.get("", summary="The top-level resources of this EPCIS repository")
def top_level(request: Request, caller: CallerDep) -> JSONResponse:
    reading_brand(caller)
    _no_parameters(request)
    return JSONResponse(RESOURCES)


@router.get("/events", summary="Events by the EPCIS 2.0 simple event query")
def events(
    request: Request, session: ReadSessionDep, services: ServicesDep, caller: CallerDep, now: NowDep
) -> JSONResponse:
    return _events_answer(request, session, services, caller, now)


@router.get(
    "/events/{eventID:path}", summary="One event (and its error declarations) by its eventID"
)
def event_by_id(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    caller: CallerDep,
    now: NowDep,
    event_id: Annotated[str, Path(alias="eventID", max_length=300)],
) -> JSONResponse:
    _no_parameters(request)
    return _events_answer(
        request, session, services, caller, now, {"EQ_eventID": event_id},
        not_found=f"no event {event_id!r}",
    )  # fmt: skip


@router.get("/eventTypes", summary="The event types of the events the caller may read")
def event_types(request: Request, session: ReadSessionDep, caller: CallerDep) -> JSONResponse:
    brand_id = reading_brand(caller)
    _no_parameters(request, ("perPage",))
    body = {
        "@context": EPCIS_CONTEXT,
        "type": "EventTypeItemList",
        "eventType": event_types_present(session, brand_id),
    }
    return JSONResponse(body, media_type=EPCIS_MEDIA)


def _known_type(event_type: str) -> str:
    if event_type not in EVENT_TYPES:
        raise NotFound(f"no event type {event_type!r}")
    return event_type


@router.get("/eventTypes/{eventType}", summary="The sub-resources of an event type")
def event_type(
    request: Request,
    caller: CallerDep,
    kind: Annotated[str, Path(alias="eventType", max_length=64)],
) -> JSONResponse:
    reading_brand(caller)
    _known_type(kind)
    _no_parameters(request)
    return JSONResponse(["events"])


@router.get("/eventTypes/{eventType}/events", summary="Events of one type, by the event query")
def events_of_type(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    caller: CallerDep,
    now: NowDep,
    kind: Annotated[str, Path(alias="eventType", max_length=64)],
) -> JSONResponse:
    fixed = {"eventType": _known_type(kind)}
    return _events_answer(request, session, services, caller, now, fixed)


def _page_after(request: Request, query: Any, secret: bytes, scope: str) -> Any:
    """The position a ``nextPageToken`` of a listing (jobs, EPCs) names, or None."""
    if query.next_page_token is None:
        return None
    values = unseal(query.next_page_token, secret, "nextPageToken")
    if len(values) != 3 or values[1] != scope or values[2] != request.url.path:
        raise QueryParameterError("nextPageToken is not one this repository gave")
    return values[0]


def _next_link(request: Request, position: Any, secret: bytes, scope: str) -> dict[str, str]:
    if position is None:
        return {}
    token = seal([position, scope, request.url.path], secret)
    url = request.url.remove_query_params("nextPageToken").include_query_params(nextPageToken=token)
    return {"Link": f'<{url}>; rel="next"'}


@router.get("/epcs", summary="The EPCs the caller's events name, paginated")
def epcs(
    request: Request, session: ReadSessionDep, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    brand_id = reading_brand(caller)
    _no_parameters(request, ("perPage", "nextPageToken"))
    query = parse_query(list(request.query_params.multi_items()))
    secret, scope = _page_secret(services), _scope_name(brand_id)
    after = _page_after(request, query, secret, scope)
    if after is not None and not isinstance(after, str):
        raise QueryParameterError("nextPageToken is not one this repository gave")
    keys, more = epcs_present(session, brand_id, limit=query.per_page, after=after)
    return JSONResponse(keys, headers=_next_link(request, more, secret, scope))


@router.get("/epcs/{epc:path}/events", summary="Events naming an EPC in any role")
def events_of_epc(
    request: Request,
    session: ReadSessionDep,
    services: ServicesDep,
    caller: CallerDep,
    now: NowDep,
    epc: Annotated[str, Path(max_length=500)],
) -> JSONResponse:
    return _events_answer(request, session, services, caller, now, {"MATCH_anyEPC": epc})


@router.get("/epcs/{epc:path}", summary="The sub-resources of an EPC")
def epc_resource(
    request: Request, caller: CallerDep, epc: Annotated[str, Path(max_length=500)]
) -> JSONResponse:
    reading_brand(caller)
    _no_parameters(request)
    parse_query([], fixed={"MATCH_anyEPC": epc})  # a malformed EPC is a 400
    return JSONResponse(["events"])


# -- capture -------------------------------------------------------------------------------------


def _capturing(caller: Caller, brand: str | None) -> tuple[str, bool]:
    """(brand the events belong to, whether the brand's prefixes apply)."""
    if caller.role is Role.BRAND:
        if brand is not None and brand != caller.brand_id:
            raise PermissionDenied("a brand captures events for itself only")
        assert caller.brand_id is not None
        return caller.brand_id, True
    if caller.role is Role.ADMIN:
        return (brand, True) if brand is not None else (REGISTRY_SCOPE, False)
    reading_brand(caller)  # 401 for anonymous callers
    raise PermissionDenied("only brand owners and admins capture events")


def _job_reader(caller: Caller) -> str | None:
    """Brands see their own jobs, admins every job; nobody else captures."""
    if caller.role is Role.ADMIN:
        return None
    if caller.role is Role.BRAND:
        return caller.brand_id
    reading_brand(caller)
    raise PermissionDenied("capture jobs are for brand owners and admins")


def _run(services: Any, capture_id: str, owner: str) -> None:
    lease = services.settings.epcis_job_lease_seconds
    try:
        run_job(services.engine, capture_id, owner, clock=services.clock, lease_seconds=lease)
    except SQLAlchemyError:
        # E.g. SQLite's write lock held by a long capture: the job stays running under its
        # lease and is taken over once that expires, so nothing is lost by giving up here.
        log.warning("capture job %s not run now; it is taken over after its lease", capture_id)


@router.post("/capture", status_code=202, summary="Capture an EPCISDocument as an asynchronous job")
async def capture(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    services: ServicesDep,
    caller: CallerDep,
    trust_list: TrustListDep,
    now: NowDep,
) -> Response:
    _no_parameters(request, ("brand",))
    brand_id, scoped = _capturing(caller, request.query_params.get("brand"))
    prefixes = None
    if scoped:
        registered = trust_list.brand_for(brand_id)
        if registered is None:
            raise NotFound(f"no brand {brand_id!r} in the trust list")
        prefixes = registered.prefixes
    try:
        document = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not JSON") from None
    read_document_shape(document)
    if len(event_list(document)) > MAX_EVENTS:
        raise PayloadTooLarge(f"a document may hold at most {MAX_EVENTS} events; split it")
    behaviour = request.headers.get("GS1-Capture-Error-Behaviour", "rollback")
    capture_id, owner = await run_in_threadpool(
        partial(
            open_job, session, brand_id=brand_id, account_id=caller.account_id,
            behaviour=behaviour, document=document, prefixes=prefixes, now=now,
            lease_seconds=services.settings.epcis_job_lease_seconds,
        )
    )  # fmt: skip
    background.add_task(_run, services, capture_id, owner)
    location = f"{request.url_for('capture_job', captureID=capture_id).path}"
    headers = {"Location": location, "GS1-Capture-Error-Behaviour": behaviour}
    return Response(status_code=202, headers=headers)


@router.get("/capture", summary="The caller's capture jobs, newest first")
def capture_jobs(
    request: Request, session: SessionDep, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    brand_id = _job_reader(caller)
    _no_parameters(request, ("perPage", "nextPageToken"))
    query = parse_query([(k, v) for k, v in request.query_params.multi_items()])
    secret = _page_secret(services)
    scope = _scope_name(brand_id)
    before = None
    if query.next_page_token is not None:
        values = unseal(query.next_page_token, secret, "nextPageToken")
        if len(values) != 2 or values[1] != scope or not isinstance(values[0], int):
            raise QueryParameterError("nextPageToken is not one this repository gave")
        before = values[0]
    jobs, more = list_jobs(session, brand_id=brand_id, limit=query.per_page, before=before)
    headers = {}
    if more is not None:
        url = request.url.include_query_params(nextPageToken=seal([more, scope], secret))
        headers["Link"] = f'<{url}>; rel="next"'
    return JSONResponse(jobs, headers=headers)


@router.get("/capture/{captureID}", summary="The state and errors of one capture job")
def capture_job(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    services: ServicesDep,
    caller: CallerDep,
    capture_id: Annotated[str, Path(alias="captureID", max_length=64)],
) -> JSONResponse:
    brand_id = _job_reader(caller)
    _no_parameters(request)
    job = get_job(session, capture_id, brand_id=brand_id)
    if is_stale(session, capture_id, services.clock()):
        # Its worker died (or stalls): take it over after this answer; the run claims the
        # lease atomically, so of several pollers one runs it.
        background.add_task(_run, services, capture_id, str(uuid.uuid4()))
    return JSONResponse(job, headers={"GS1-Capture-Error-Behaviour": job["captureErrorBehaviour"]})


# -- queries -------------------------------------------------------------------------------------


@router.get("/queries", summary="Named queries: none are kept here")
def queries(request: Request, caller: CallerDep) -> JSONResponse:
    reading_brand(caller)
    _no_parameters(request, ("perPage", "nextPageToken"))
    return JSONResponse([])


@router.post("/queries", summary="Creating a named query is not supported (501)")
def create_query(caller: CallerDep) -> JSONResponse:
    reading_brand(caller)
    raise NotSupported(
        "named queries and subscriptions are not supported; "
        "send the query's parameters to /epcis/events"
    )


@router.get("/queries/{queryName}", summary="No named query exists (404)")
def query_by_name(
    caller: CallerDep, name: Annotated[str, Path(alias="queryName", max_length=200)]
) -> JSONResponse:
    reading_brand(caller)
    raise NotFound(f"no query {name!r}")


@router.get("/queries/{queryName}/events", summary="No named query exists (404)")
def query_events(
    caller: CallerDep, name: Annotated[str, Path(alias="queryName", max_length=200)]
) -> JSONResponse:
    reading_brand(caller)
    raise NotFound(f"no query {name!r}")
