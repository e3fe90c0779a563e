"""The one place where errors become HTTP answers (RFC 9457 problem+json).

Body: ``{"type", "title", "status", "detail"}``; 500s add ``request_id`` and
say nothing else, the log has the rest.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from authn.errors import (
    Conflict,
    InvalidInput,
    KeyStoreError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RollbackError,
    SealtraceError,
    TrustError,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    VerificationFailed,
)
from epcis.query import NotAcceptable, NotSupported, QueryParameterError, QueryTooLarge

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:sealtrace:problem:"

# Most specific first: the first class an error is an instance of decides.
STATUS_OF: tuple[tuple[type[SealtraceError], int, str, str], ...] = (
    (PayloadTooLarge, 413, "payload-too-large", "Payload too large"),
    (UnsupportedMediaType, 415, "unsupported-media-type", "Unsupported media type"),
    (InvalidInput, 400, "invalid-input", "Invalid input"),
    (RollbackError, 409, "rollback", "Older than the one held"),
    (TrustError, 400, "trust-invalid", "Trust data not usable"),
    (KeyStoreError, 400, "key-invalid", "Key not usable"),
    (VerificationFailed, 400, "verification-failed", "Verification failed"),
    (Unauthenticated, 401, "unauthenticated", "Authentication required"),
    (PermissionDenied, 403, "forbidden", "Not allowed"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (RateLimited, 429, "rate-limited", "Too many requests"),
    (Unavailable, 503, "unavailable", "Service unavailable"),
)


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status}
    body["detail"] = detail
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def status_of(error: BaseException) -> tuple[int, str, str] | None:
    """(HTTP status, problem slug, title) of a SealtraceError; None for any other error."""
    for cls, status, slug, title in STATUS_OF:
        if isinstance(error, cls):
            return status, slug, title
    return None


def problem_for(error: SealtraceError) -> JSONResponse:
    known = status_of(error)
    if known is None:
        return _internal(None)
    status, slug, title = known
    headers = {}
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unavailable):
        headers["Retry-After"] = "5"
    return problem(status, slug, title, str(error), headers=headers)


# The EPCIS 2.0 REST binding's exception types (its OpenAPI), most specific first. Errors
# of other classes keep sealtrace's own problem types.
EPCIS_TYPE_OF: tuple[tuple[type[SealtraceError], int, str, str], ...] = (
    (QueryParameterError, 400, "QueryParameterException", "Query parameter not valid"),
    (QueryTooLarge, 413, "QueryTooLargeException", "Query result too large"),
    (PayloadTooLarge, 413, "CaptureLimitExceededException", "Capture payload too large"),
    (NotAcceptable, 406, "ImplementationException", "Not acceptable"),
    (NotSupported, 501, "ImplementationException", "Not supported by this repository"),
    (InvalidInput, 400, "ValidationException", "Input not valid"),
    (Unauthenticated, 401, "SecurityException", "Unauthorised request"),
    (PermissionDenied, 403, "SecurityException", "Access to resource forbidden"),
    (NotFound, 404, "NoSuchNameException", "Resource not found"),
)


def epcis_problem_for(error: SealtraceError) -> JSONResponse:
    """An error of an EPCIS route, with the standard's ``epcisException:...`` type."""
    for cls, status, name, title in EPCIS_TYPE_OF:
        if isinstance(error, cls):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
            body = {"type": f"epcisException:{name}", "title": title, "status": status}
            body["detail"] = str(error)
            return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)
    return problem_for(error)


def request_id_of(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def _internal(request_id: str | None) -> JSONResponse:
    return problem(
        500,
        "internal",
        "Internal error",
        "Something went wrong on our side. Quote the request id when you report it.",
        headers={"X-Request-ID": request_id} if request_id else None,
        extra={"request_id": request_id},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def sealtrace_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SealtraceError)
        return problem_for(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"] if part != "body")
        detail = f"{where}: {first['msg']}" if where else str(first["msg"])
        return problem(422, "validation", "Request not valid", detail, extra={"errors": errors})

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http")
        return problem(
            exc.status_code, slug, str(exc.detail), str(exc.detail), headers=dict(exc.headers or {})
        )

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable: %s", exc.__class__.__name__)
        return problem(
            503,
            "unavailable",
            "Service unavailable",
            "The database is not reachable or busy; try again shortly.",
            headers={"Retry-After": "5"},
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request_id_of(request)
        log.exception("unexpected error (request %s)", request_id, exc_info=exc)
        return _internal(request_id)

    app.add_exception_handler(SealtraceError, sealtrace_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_down)
    # Every pooled connection busy for pool_timeout seconds: overloaded, not broken.
    app.add_exception_handler(PoolTimeout, database_down)
    app.add_exception_handler(Exception, unexpected)
