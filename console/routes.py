"""The console's routes under /console: sign-in, alerts, a code's page, the brand overview."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from authn.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from console import data, overview
from console.code_pages import code_page_html, report_html
from console.html import html_response
from console.pages import (
    alert_page,
    alerts_page,
    brand_page,
    brand_picker,
    code_href,
    login_page,
)
from console.web import (
    COOKIE,
    EVERYONE,
    LOGIN_COOKIE,
    PATH,
    STAFF,
    WRITERS,
    Ctx,
    action,
    clear_session_cookie,
    page,
    redirect,
    secure,
    set_session_cookie,
)
from http_api.deps import get_services
from keys.trust import TrustList
from verifier import alerts as alert_service
from verifier import console_auth as auth
from verifier import statuses
from verifier.accounts import Role
from verifier.inspections import InspectionIn
from verifier.text import text_problem

router = APIRouter(prefix=PATH, include_in_schema=False)
MAX_FORM_FIELDS = 20


async def _form(request: Request) -> dict[str, str]:
    async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    for name, value in fields.items():  # the API's text rule, for every console form
        problem = text_problem(name + value)
        if problem is not None:
            raise InvalidInput(f"{name}: {problem}")
    return fields


def _safe_next(value: str | None) -> str:
    """Only a console path: never another site (open redirect) or a scheme-relative URL."""
    if value and value.startswith(PATH + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PATH + "/"


# Sign-in --------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    response = html_response(login_page(token=token, next_path=_safe_next(next)))
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, secure=secure(request), samesite="strict",
        path=PATH, max_age=3600,
    )  # fmt: skip
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: dict[str, str]) -> Response:
    next_path = _safe_next(form.get("next"))
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not token or not auth.csrf_matches(token, form.get("csrf")):
        fresh = login_page(
            token=token or "", next_path=next_path, error="The form expired; try again."
        )
        return html_response(fresh, status_code=403)
    services = get_services(request)
    client = request.client.host if request.client else "unknown"
    with Session(services.engine) as db:
        try:
            signed = auth.sign_in(
                db, form.get("username", ""), form.get("password", ""), client=client,
                now=services.clock(),
            )  # fmt: skip
        except (Unauthenticated, RateLimited) as error:
            status = 429 if isinstance(error, RateLimited) else 401
            words = (
                "Too many failed attempts; wait a while."
                if status == 429
                else "Wrong name or password."
            )
            return html_response(
                login_page(token=token, next_path=next_path, error=words), status_code=status
            )
    assert signed.cookie is not None
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, signed.cookie)
    response.delete_cookie(LOGIN_COOKIE, path=PATH)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)

    def done(ctx: Ctx) -> Response:
        auth.sign_out(ctx.db, request.cookies.get(COOKIE, ""))
        response = redirect(PATH + "/login")
        clear_session_cookie(response, request)
        return response

    return await run_in_threadpool(action, request, EVERYONE, form, done)


@router.get("/")
def home(request: Request) -> Response:
    def where(ctx: Ctx) -> Response:
        return redirect(PATH + ("/brand" if ctx.caller.role is Role.BRAND else "/alerts"))

    return page(request, EVERYONE, where)


# Alerts ---------------------------------------------------------------------------------------


@router.get("/alerts")
def alerts(
    request: Request,
    brand: Annotated[str | None, Query(max_length=64)] = None,
    reason: Annotated[str | None, Query(max_length=40)] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    before: int | None = None,
) -> Response:
    given = {"brand": brand, "reason": reason, "country": country, "status": status}
    filters = {k: v.strip() for k, v in given.items() if v and v.strip()}

    def show(ctx: Ctx) -> Response:
        if "status" in filters and filters["status"] not in alert_service.ALERT_STATUSES:
            raise InvalidInput("status is open, acknowledged or closed")
        chosen = alert_service.AlertFilter(
            brand_id=filters.get("brand"), reason=filters.get("reason"),
            country=filters["country"].upper() if "country" in filters else None,
            status=filters.get("status"),  # type: ignore[arg-type]
            before_id=before, limit=100,
        )  # fmt: skip
        found = alert_service.list_alerts(ctx.read, ctx.caller, chosen, now=ctx.now)
        html = alerts_page(
            ctx.caller, ctx.csrf, found.items, filters, next_before_id=found.next_before_id
        )
        return html_response(html)

    return page(request, EVERYONE, show)


@router.get("/alerts/{alert_id}")
def alert(request: Request, alert_id: int) -> Response:
    def show(ctx: Ctx) -> Response:
        view = alert_service.get_alert(ctx.read, ctx.caller, alert_id, now=ctx.now)
        return html_response(alert_page(ctx.caller, ctx.csrf, view))

    return page(request, EVERYONE, show)


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(request: Request, alert_id: int) -> Response:
    form = await _form(request)

    def done(ctx: Ctx) -> Response:
        alert_service.acknowledge_alert(ctx.db, ctx.caller, alert_id, now=ctx.now)
        return redirect(f"{PATH}/alerts/{alert_id}")

    return await run_in_threadpool(action, request, EVERYONE, form, done)


@router.post("/alerts/{alert_id}/close")
async def close(request: Request, alert_id: int) -> Response:
    form = await _form(request)

    def done(ctx: Ctx) -> Response:
        alert_service.close_alert(
            ctx.db, ctx.caller, alert_id, form.get("comment", ""), now=ctx.now
        )
        return redirect(f"{PATH}/alerts/{alert_id}")

    return await run_in_threadpool(action, request, EVERYONE, form, done)


# A code ---------------------------------------------------------------------------------------


def _code(ctx: Ctx, gtin: str, serial: str) -> data.CodePage:
    if not (gtin.isdigit() and len(gtin) == 14) or not 1 <= len(serial) <= 20:
        raise NotFound("no such code: a GTIN is 14 digits, a serial 1-20 characters")
    trust = data.held_trust_list(ctx.services.trust, ctx.db)
    return data.code_page(ctx.read, ctx.caller, trust, gtin, serial)


@router.get("/search")
def search(request: Request, q: Annotated[str, Query(max_length=2048)] = "") -> Response:
    """A code as scanned or typed, to its page; the page itself checks who may see it."""

    def find(ctx: Ctx) -> Response:
        gtin, serial = data.code_from_text(q)
        return redirect(code_href(gtin, serial))

    return page(request, EVERYONE, find)


@router.get("/codes/{gtin}/{serial}")
def code(
    request: Request,
    gtin: str,
    serial: str,
    recorded: str | None = None,
    changed: str | None = None,
) -> Response:
    def show(ctx: Ctx) -> Response:
        notice = f"Outcome recorded: {recorded}." if recorded in data.OUTCOMES else None
        if changed in ("locked", "destroyed", "active"):
            notice = f"Status now: {changed}."
        return html_response(
            code_page_html(ctx.caller, ctx.csrf, _code(ctx, gtin, serial), notice=notice)
        )

    return page(request, EVERYONE, show)


@router.post("/codes/{gtin}/{serial}/inspections")
async def inspect(request: Request, gtin: str, serial: str) -> Response:
    form = await _form(request)

    def done(ctx: Ctx) -> Response:
        try:
            body = InspectionIn.model_validate(
                {
                    "outcome": form.get("outcome", ""),
                    "notes": form.get("notes", "").strip() or None,
                    "quantity": form.get("quantity", "").strip() or None,
                }
            )
        except ValidationError as error:
            raise InvalidInput(
                f"choose an outcome; units 1-10,000,000: {error.errors()[0]['msg']}"
            ) from None
        trust = data.held_trust_list(ctx.services.trust, ctx.db)
        row = data.record_inspection(
            ctx.db, ctx.caller, trust, _code(ctx, gtin, serial),
            scan_id=form.get("scan_id", ""), form=body, now=ctx.now,
        )  # fmt: skip
        return redirect(f"{code_href(gtin, serial)}?recorded={row.outcome}")

    return await run_in_threadpool(action, request, STAFF, form, done)


# What a brand does to one of its units from its page: lock it (a hold while it looks into
# a suspect code), mark it destroyed, and undo its own latest change (which unlocks).
BRAND_ACTIONS = {"lock": "locked", "destroyed": "destroyed"}


def _writable_trust(ctx: Ctx) -> TrustList:
    trust = data.held_trust_list(ctx.services.trust, ctx.db)
    if trust is None:
        raise Unavailable("the verifier holds no trust list yet")
    return trust


@router.post("/codes/{gtin}/{serial}/status")
async def change_status(request: Request, gtin: str, serial: str) -> Response:
    form = await _form(request)

    def done(ctx: Ctx) -> Response:
        status = BRAND_ACTIONS.get(form.get("action", ""))
        if status is None:
            raise InvalidInput("choose lock or destroyed")
        trust = _writable_trust(ctx)
        _code(ctx, gtin, serial)  # the page's own access check: another brand's code is 404
        statuses.change_code_status(
            ctx.db, ctx.caller, trust, gtin, serial, status,
            form.get("comment", "").strip() or None,
            now=ctx.now, undo_window=ctx.services.undo_window,
        )  # fmt: skip
        return redirect(f"{code_href(gtin, serial)}?changed={status}")

    return await run_in_threadpool(action, request, WRITERS, form, done)


@router.post("/codes/{gtin}/{serial}/status/undo")
async def undo_status(request: Request, gtin: str, serial: str) -> Response:
    form = await _form(request)

    def done(ctx: Ctx) -> Response:
        trust = _writable_trust(ctx)
        _code(ctx, gtin, serial)
        answer = statuses.undo_code_status(
            ctx.db, ctx.caller, trust, gtin, serial, now=ctx.now,
            undo_window=ctx.services.undo_window,
        )  # fmt: skip
        return redirect(f"{code_href(gtin, serial)}?changed={answer.status}")

    return await run_in_threadpool(action, request, WRITERS, form, done)


@router.get("/codes/{gtin}/{serial}/report")
def report(request: Request, gtin: str, serial: str) -> Response:
    def show(ctx: Ctx) -> Response:
        found = _code(ctx, gtin, serial)
        trust = data.held_trust_list(ctx.services.trust, ctx.db)
        brand = trust.brand_owning(gtin) if trust is not None else None
        contact = "unknown"
        if brand is not None:
            parts = [brand.name, brand.contact.email, brand.contact.phone, brand.contact.url]
            contact = " · ".join(p for p in parts if p)
        return html_response(report_html(ctx.caller, ctx.csrf, found, contact=contact))

    # The brand whose product was seized reads the report too (its own codes only:
    # data.code_page answers 404 for another brand's, as on the code page).
    return page(request, EVERYONE, show)


# Brand overview -------------------------------------------------------------------------------


@router.get("/brand")
def brand(request: Request, brand: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    def show(ctx: Ctx) -> Response:
        trust = data.held_trust_list(ctx.services.trust, ctx.db)
        if ctx.caller.role is Role.BRAND:
            if brand is not None and brand != ctx.caller.brand_id:
                raise PermissionDenied("a brand owner sees its own brand only")
            brand_id = ctx.caller.brand_id or ""
        elif brand is None:
            return html_response(brand_picker(ctx.caller, ctx.csrf, trust))
        else:
            brand_id = brand
        known = trust.brand_for(brand_id) if trust is not None else None
        if known is None and ctx.caller.role is not Role.BRAND:
            raise NotFound("no such brand in the trust list")
        since = overview.week_start(ctx.now) - timedelta(weeks=overview.WEEKS - 1)
        scans = data.scans_of_brand(ctx.read, trust, brand_id, since)
        raised = data.alerts_of_brand(ctx.read, brand_id, since)
        lots = data.lots_of(ctx.read, sorted({(a.gtin, a.serial) for a in raised}))
        html = brand_page(
            ctx.caller, ctx.csrf, brand_id=brand_id, brand_name=known.name if known else brand_id,
            figures=overview.overview(scans, raised, lots, ctx.now),
            key_events=overview.key_events(trust, brand_id),
            audit=data.audit_of_brand(ctx.read, brand_id),
        )  # fmt: skip
        return html_response(html)

    return page(request, EVERYONE, show)
