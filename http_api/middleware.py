"""Plain ASGI middleware: request ids, body size limits (before any parsing), security
headers. ``http_api.metrics.install_operations`` adds the last with rate limits and
metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qsl
from uuid import uuid4

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from http_api.problems import PROBLEM_JSON, TYPE_BASE
from verifier.logging_setup import REQUEST_ID
from verifier.text import text_problem


class RequestIdMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane) and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if 0 < len(given) <= 64 and given.isprintable() else uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # Log records made while answering carry the id (see verifier.logging_setup).
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


class UrlTextMiddleware:
    """Refuses, with 422, a path or query parameter that holds NUL, other control characters
    or invalid Unicode: the same rule as the ``Text`` type of bodies (verifier.text), for
    every route at once (a serial in the path, ``?brand=``, ``?reason=``, ``?bizStep=``...)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where, problem = "path", text_problem(scope.get("path", ""), multiline=False)
        if problem is None:
            query = scope.get("query_string", b"").decode("latin-1")
            pairs = parse_qsl(query, keep_blank_values=True, errors="surrogateescape")
            for name, value in pairs:
                problem = text_problem(name + value, multiline=False)
                if problem is not None:
                    where = f"query parameter {name.encode('utf-8', 'replace').decode()!r}"
                    break
        if problem is None:
            await self.app(scope, receive, send)
            return
        await send_problem(send, 422, "validation", "Request not valid", f"{where}: {problem}")


async def send_problem(send: Send, status: int, slug: str, title: str, detail: str) -> None:
    """A problem+json answer straight from ASGI middleware (before any routing)."""
    body = json.dumps(
        {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuses bodies over the limit of their path with 413, reading no more than the limit."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(send, limit)
            return
        # Buffer the body (it is small by construction) so that a chunked body
        # over the limit is refused before the app parses any of it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        detail = f"the request body is over this endpoint's limit of {limit} bytes"
        await send_problem(send, 413, "payload-too-large", "Payload too large", detail)


# Pages and API alike: no MIME sniffing, no framing (clickjacking), no full URL in Referer
# (Digital Link URLs carry serials).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)


class SecurityHeadersMiddleware:
    """Adds the security headers a response lacks; HSTS only on https (set behind TLS)."""

    def __init__(self, app: ASGIApp, *, hsts_seconds: int) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_seconds}; includeSubDomains".encode() if hsts_seconds else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", b"frame-ancestors 'none'"))
                if https and self.hsts and b"strict-transport-security" not in present:
                    extra.append((b"strict-transport-security", self.hsts))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
