"""Health, readiness and the trust list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from authn.errors import Unavailable
from http_api.deps import AdminDep, ServicesDep, SessionDep
from verifier.schemas import TrustListInstalled

router = APIRouter()
TRUST_LIST_MEDIA = "application/json"


@router.get("/healthz", tags=["service"], summary="Liveness: the process answers")
def healthz() -> Response:
    return Response("ok", media_type="text/plain")


@router.get("/readyz", tags=["service"], summary="Readiness: database reachable, trust list held")
def readyz(services: ServicesDep, session: SessionDep) -> JSONResponse:
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    if not services.settings.is_sqlite:
        _can_write(session)
    services.trust.refresh(session)
    held = services.trust.held
    if held is None:
        raise Unavailable("no trust list is held yet")
    return JSONResponse({"status": "ready", "trust_list_version": held.trust_list.version})


def _can_write(session: SessionDep) -> None:
    """Ready means verify can record: the scan table takes the lock an INSERT needs, at once
    (a table locked by someone else is an OperationalError: 503), and the database is not
    read-only (a replica, or default_transaction_read_only)."""
    session.exec(text("LOCK TABLE scan IN ROW EXCLUSIVE MODE NOWAIT"))  # type: ignore[call-overload]
    read_only = session.exec(text("SHOW transaction_read_only")).one()  # type: ignore[call-overload]
    session.rollback()
    if read_only[0] == "on":
        raise Unavailable("the database does not accept writes")


@router.get(
    "/v1/trust-list",
    tags=["trust"],
    summary="The signed trust list the verifier holds (ETag, If-None-Match)",
    responses={304: {"description": "Unchanged since the ETag given."}},
)
def get_trust_list(
    services: ServicesDep,
    session: SessionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    services.trust.refresh(session)
    held = services.trust.held
    if held is None:
        raise Unavailable("no trust list is held yet")
    headers = {"ETag": held.etag, "Cache-Control": "public, max-age=60"}
    if if_none_match is not None and held.etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(held.data, media_type=TRUST_LIST_MEDIA, headers=headers)


@router.put(
    "/v1/trust-list",
    tags=["trust"],
    response_model=TrustListInstalled,
    summary="Install a newer signed trust list (registry admins; rollback refused)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The signed trust list JSON, exactly as the registry signed it.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def put_trust_list(
    request: Request, admin: AdminDep, services: ServicesDep, session: SessionDep
) -> TrustListInstalled:
    data = await request.body()
    installed = await run_in_threadpool(
        services.trust.install, session, data, account_id=admin.account_id
    )
    return TrustListInstalled(version=services.trust.current().version, installed=installed)
