"""The console's session cookie, CSRF checks, role gates and error pages.

Every console route goes through :func:`page` (GET) or :func:`action` (POST):
no session -> 303 to the sign-in page; a role the page is not for -> 403; a
POST without the session's CSRF token -> 403; errors of the exception tree ->
an HTML page with the matching status. Pages are HTML for people, so errors
are too (the JSON problem answers stay with the API).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from authn.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    SealtraceError,
    Unauthenticated,
    Unavailable,
)
from console.html import html_response
from console.layout import layout
from console.pages import READER_LOCALE, reader_locale
from http_api.deps import Services, get_services
from verifier import console_auth as auth
from verifier.accounts import Caller, Role

COOKIE = "st_console"
LOGIN_COOKIE = "st_console_login"  # double-submit token of the sign-in form (no session yet)
# Set after a console action when a read replica is configured: for this long the pages
# read from the primary, so the page an action redirects to shows the change it just made
# (a standby replays the primary's WAL a moment later; docs/deploy.md, "Read replicas").
FRESH_COOKIE = "st_console_fresh"
FRESH_SECONDS = 10
PATH = "/console"

STAFF = frozenset({Role.OFFICER, Role.ADMIN})
EVERYONE = frozenset({Role.OFFICER, Role.ADMIN, Role.BRAND})
WRITERS = frozenset({Role.BRAND, Role.ADMIN})  # who changes a code's status

STATUS_OF: tuple[tuple[type[SealtraceError], int, str], ...] = (
    (InvalidInput, 400, "That did not work"),
    (Unauthenticated, 401, "Sign in again"),
    (PermissionDenied, 403, "Not for your role"),
    (NotFound, 404, "Not found"),
    (Conflict, 409, "Changed meanwhile"),
    (RateLimited, 429, "Too many attempts"),
    (Unavailable, 503, "Not available yet"),
)


@dataclass
class Ctx:
    """One console request: who, with which CSRF token, the database sessions and the time.

    ``db`` is on the primary (the sign-in check resets the session's idle clock there, and
    actions write through it); ``read`` is what pages read from: the read replica when one
    is configured, else the same session as ``db``. In an action, and on pages shortly
    after one (:data:`FRESH_COOKIE`), ``read`` is ``db``.
    """

    request: Request
    services: Services
    db: Session
    now: datetime
    caller: Caller
    csrf: str
    read: Session


Handler = Callable[[Ctx], Response]


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        COOKIE, value, httponly=True, secure=secure(request), samesite="strict", path=PATH,
        max_age=int(auth.ABSOLUTE_TIMEOUT.total_seconds()),
    )  # fmt: skip


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, secure=secure(request), httponly=True, samesite="strict"
    )


def error_page(
    status: int, title: str, detail: str, caller: Caller | None = None, csrf: str = ""
) -> Response:
    body = f'<h1>{escape(title)}</h1><p class="error" id="error">{escape(detail)}</p>'
    return html_response(layout(title, body, caller=caller, csrf=csrf), status_code=status)


def _error_response(error: SealtraceError, ctx: Ctx | None) -> Response:
    for cls, status, title in STATUS_OF:
        if isinstance(error, cls):
            caller, csrf = (ctx.caller, ctx.csrf) if ctx else (None, "")
            return error_page(status, title, str(error), caller, csrf)
    raise error


def _to_login(request: Request, had_cookie: bool) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    response = RedirectResponse(f"{PATH}/login?next={quote(target, safe='')}", status_code=303)
    if had_cookie:
        clear_session_cookie(response, request)
    return response


def _run(
    request: Request,
    roles: Collection[Role],
    handler: Handler,
    form: Mapping[str, str] | None,
) -> Response:
    services = get_services(request)
    now = services.clock()
    cookie = request.cookies.get(COOKIE)
    fresh = form is not None or FRESH_COOKIE in request.cookies
    with Session(services.engine) as db, _reader(services, db, fresh=fresh) as read:
        signed = auth.resume(db, cookie, now=now) if cookie else None
        if signed is None:
            return _to_login(request, cookie is not None)
        ctx = Ctx(request, services, db, now, signed.caller, signed.csrf_token, read)
        if form is not None and not auth.csrf_matches(signed.csrf_token, form.get("csrf")):
            return error_page(
                403, "Form expired", "Reload the page and try again.", ctx.caller, ctx.csrf
            )
        if signed.caller.role not in roles:
            return error_page(
                403, "Not for your role", "This page is not open to your account's role.",
                ctx.caller, ctx.csrf,
            )  # fmt: skip
        locale = READER_LOCALE.set(reader_locale(request.headers.get("accept-language")))
        try:
            response = handler(ctx)
        except SealtraceError as error:
            db.rollback()
            return _error_response(error, ctx)
        finally:
            READER_LOCALE.reset(locale)
        if form is not None and services.read_engine is not None:
            response.set_cookie(
                FRESH_COOKIE, "1", max_age=FRESH_SECONDS, httponly=True, secure=secure(request),
                samesite="strict", path=PATH,
            )  # fmt: skip
        return response


@contextmanager
def _reader(services: Services, db: Session, *, fresh: bool) -> Iterator[Session]:
    """The session pages read from: the replica's, unless there is none or ``fresh``."""
    if fresh or services.read_engine is None:
        yield db
        return
    with Session(services.read_engine) as read:
        yield read


def page(request: Request, roles: Collection[Role], handler: Handler) -> Response:
    """A GET page for signed-in callers of ``roles``."""
    return _run(request, roles, handler, None)


def action(
    request: Request, roles: Collection[Role], form: Mapping[str, str], handler: Handler
) -> Response:
    """A form POST: signed in, one of ``roles``, and the session's CSRF token in ``csrf``."""
    return _run(request, roles, handler, form)


def redirect(path: str) -> Response:
    """After a POST: see the result with a GET (post/redirect/get)."""
    return RedirectResponse(path, status_code=303)
