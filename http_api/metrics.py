"""Prometheus metrics at ``GET /metrics``, the middleware that feeds them, and
:func:`install_operations`, which adds them to an app with rate limits and security headers.

Metrics are module-level, so any layer can count: the service's own counters
(verdicts, alerts, group-commit sizes) live in :mod:`verifier.metrics`, these are
the HTTP ones.
With several workers, ``sealtrace serve`` sets ``PROMETHEUS_MULTIPROC_DIR``
before the workers start; each worker then writes its samples to files there
and a scrape of any worker adds up all of them.

Requests are labelled by route template (``/v1/codes/{gtin}/{serial}``), never
by raw path, so that label values stay few; unmatched paths count as
``<unmatched>``. An access line per request goes to the ``sealtrace.access``
logger when JSON logs are on (uvicorn's own access log does it otherwise).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authn.errors import PermissionDenied
from http_api.middleware import SecurityHeadersMiddleware
from http_api.ratelimit import Counter as RateCounter
from http_api.ratelimit import (
    LocalCounter,
    RateLimitMiddleware,
    RedisCounter,
    client_ip,
    parse_networks,
)
from verifier.settings import Settings

access_log = logging.getLogger("sealtrace.access")

REQUESTS = Counter(
    "sealtrace_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "sealtrace_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, by route template.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
RATE_LIMITED = Counter("sealtrace_rate_limited_total", "Anonymous requests refused with 429.")

UNMATCHED = "<unmatched>"

router = APIRouter()


def exposition() -> bytes:
    """The text format of every metric (all workers' when in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def may_read(settings: Settings, ip: str, authorization: str | None) -> bool:
    """The metrics token from anywhere, or no token from an allowed scraper address."""
    token = settings.metrics_token
    if token is not None and authorization is not None:
        given = authorization.removeprefix("Bearer ").strip().encode("utf-8")
        if hmac.compare_digest(given, token.get_secret_value().encode("utf-8")):
            return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for allowed in settings.metrics_allow_ips:
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    settings = request.app.state.services.settings
    assert isinstance(settings, Settings)
    ip = client_ip(request.scope, trusted_proxies=parse_networks(settings.trusted_proxies))
    if not may_read(settings, ip, request.headers.get("authorization")):
        raise PermissionDenied("metrics are for the configured scraper only")
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times every HTTP request by route template; logs access lines if asked."""

    def __init__(self, app: ASGIApp, *, log_access: bool) -> None:
        self.app = app
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response

        async def send_capturing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_capturing)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"]
            REQUESTS.labels(template, method, str(status)).inc()
            LATENCY.labels(template, method).observe(elapsed)
            if self.log_access:
                access_log.info(
                    "%s %s %d",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )


def rate_counter(settings: Settings) -> RateCounter:
    """Redis when configured (shared by all workers), else a per-process counter."""
    limit, window = settings.anonymous_verify_limit, settings.rate_limit_window_seconds
    if settings.redis_url:
        return RedisCounter(
            settings.redis_url, limit, window, prefix=settings.rate_limit_key_prefix
        )
    return LocalCounter(limit, window)


def install_operations(app: FastAPI, settings: Settings) -> None:
    """Rate limits, security headers, metrics (and ``/metrics``). Call it after the body
    limit and before the request id middleware: middleware added later runs first, so a
    request meets request id, metrics, headers, rate limit, body limit, in that order."""
    app.include_router(router)
    if settings.anonymous_verify_limit > 0:
        app.add_middleware(
            RateLimitMiddleware,
            counter=rate_counter(settings),
            trusted_proxies=settings.trusted_proxies,
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts_seconds=settings.hsts_seconds)
    app.add_middleware(MetricsMiddleware, log_access=settings.log_format == "json")
