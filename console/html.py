"""HTML answers of the console, with the console's own security headers.

The console is for signed-in officers, brand teams and registry admins at a
desk or on a phone: it needs neither the camera nor the location that the
consumer pages ask for, so its Permissions-Policy denies both, and its pages
are never cached (they show one account's data).
"""

from __future__ import annotations

from fastapi.responses import HTMLResponse

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
    "Cache-Control": "no-store",
    "Vary": "Cookie",
}


def html_response(body: str, *, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=dict(PAGE_HEADERS))
