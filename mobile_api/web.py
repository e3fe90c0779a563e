"""Helpers shared by the mobile routes: the session cookie, content negotiation, headers."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from detection.common import BROWSER_DEVICE_PREFIX
from mobile_api.i18n import pick_language
from mobile_api.pages import CONTENT_SECURITY_POLICY, SHOWN, Page
from mobile_api.settings import MobileSettings

SESSION_COOKIE = "st_session"
SESSION_MAX_AGE = 60 * 60 * 24 * 180
# Detection counts browser views by this prefix (docs/detection.md, "Browser evidence").
DEVICE_PREFIX = BROWSER_DEVICE_PREFIX


def mobile_settings_of(request: Request) -> MobileSettings:
    settings = request.app.state.mobile_settings
    assert isinstance(settings, MobileSettings)
    return settings


async def mobile_settings(request: Request) -> MobileSettings:  # no I/O: no thread
    return mobile_settings_of(request)


MobileSettingsDep = Annotated[MobileSettings, Depends(mobile_settings)]


def device_id_of(cookie: str) -> str:
    """The device id a browser session is recorded under.

    A hash of the cookie, so that the database never holds a value that would
    let someone impersonate the browser's session.
    """
    return DEVICE_PREFIX + hashlib.sha256(cookie.encode("ascii", "replace")).hexdigest()[:32]


def session_cookie(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    if value is None or not (16 <= len(value) <= 64) or not value.isascii():
        return None
    return value if value.replace("-", "").replace("_", "").isalnum() else None


def new_session_cookie() -> str:
    return secrets.token_urlsafe(24)


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    """First-party, HttpOnly, SameSite=Lax, random: one browser = one session, nothing else."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def wants_html(request: Request) -> bool:
    """A browser navigation: text/html acceptable and preferred over JSON."""
    accept = request.headers.get("accept", "")
    html_q = json_q = -1.0
    for item in accept.split(","):
        parts = item.strip().split(";")
        media = parts[0].strip().lower()
        quality = 1.0
        for param in parts[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, quality)
        elif media in ("application/json", "application/problem+json"):
            json_q = max(json_q, quality)
    return html_q > 0 and html_q >= json_q


def is_prefetch(request: Request) -> bool:
    """Speculative loads (link prefetch, speculation rules) that no person asked for."""
    purpose = (
        request.headers.get("sec-purpose", "")
        + request.headers.get("purpose", "")
        + request.headers.get("x-moz", "")
    )
    return "prefetch" in purpose.lower()


def page_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "geolocation=(self), camera=(self), microphone=()",
        "Cache-Control": "no-store",
        "Vary": "Accept, Accept-Language, Cookie",
    }


def html_response(body: str, *, status_code: int = 200, lang: str | None = None) -> HTMLResponse:
    headers = page_headers() if lang is None else {**page_headers(), "Content-Language": lang}
    return HTMLResponse(body, status_code=status_code, headers=headers)


def page_of(request: Request, lang: str | None = None) -> Page:
    """The page's language (``lang`` or the ``lang`` query parameter, else Accept-Language)
    and its own address without ``lang`` and ``shown``, which the language switcher links
    from (the route that shows a scan's answer names it in ``Page.shown``)."""
    chosen = pick_language(
        request.headers.get("accept-language"), lang or request.query_params.get("lang")
    )
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", SHOWN)]
    return Page(chosen, path + ("?" + urlencode(kept, quote_via=quote) if kept else ""))
