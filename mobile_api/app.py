"""``create_app``: the verifier's app plus what phones and handhelds talk to.

The verifier builds the API (``http_api.app.create_app``); this adds the
consumer page behind every label's Digital Link URL, the offline bundle, batch
sync, photo decode and the scanner page. The resolver routes go last and only
match paths that open with an Application Identifier or are one compressed
Digital Link segment, so they never shadow /v1, /docs or /static.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from authn.signing import Signer
from console import STATIC as CONSOLE_STATIC
from console import router as console_router
from http_api.app import create_app as create_verifier_app
from mobile_api.bundle_service import BundleService, load_bundle_signer
from mobile_api.decode_pool import DecodeGate, DecodePool, Gate, HostDecodeGate
from mobile_api.officer_app import router as officer_app_router
from mobile_api.resolver import resolver_router
from mobile_api.routes_consumer import api_router
from mobile_api.routes_officer import router as officer_router
from mobile_api.routes_scan import router as scan_router
from mobile_api.settings import MobileSettings
from verifier.settings import Settings

STATIC = Path(__file__).parent / "static"


def create_app(
    settings: Settings | None = None,
    *,
    mobile_settings: MobileSettings | None = None,
    bundle_signer: Signer | None = None,
    **kwargs: Any,
) -> FastAPI:
    """The whole service. ``kwargs`` go to the verifier's ``create_app`` (``clock``,
    ``trust_parser``); ``bundle_signer`` overrides the configured bundle key (tests)."""
    settings = settings or Settings()
    mobile = mobile_settings or MobileSettings()
    signer = bundle_signer or load_bundle_signer(mobile, environment=settings.environment)
    limits = {
        "/v1/decode": mobile.decode_body_limit,
        "/scan": mobile.decode_body_limit,
        "/v1/scans:batch": mobile.batch_body_limit,
    }
    app = create_verifier_app(settings, extra_body_limits=limits, **kwargs)
    app.title = "sealtrace verifier and mobile API"
    app.state.mobile_settings = mobile
    app.state.decode_gate = decode_gate(mobile)
    app.state.decode_pool = pool = DecodePool(
        niceness=mobile.decode_nice,
        memory_bytes=mobile.decode_memory_mb * 1024 * 1024,
        timeout=mobile.decode_timeout_seconds,
    )
    verifier_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with verifier_lifespan(app) as state:
            try:
                yield state
            finally:
                pool.close()  # the decode processes end with the worker

    app.router.lifespan_context = lifespan
    app.state.bundle_service = BundleService(signer, mobile)
    app.include_router(officer_router)
    app.include_router(scan_router)
    app.include_router(api_router)
    app.include_router(console_router)
    app.mount("/static/console", StaticFiles(directory=CONSOLE_STATIC), name="console-static")
    app.include_router(officer_app_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(resolver_router)  # last: the Digital Link catch-all
    return app


def decode_gate(mobile: MobileSettings) -> Gate:
    if mobile.decode_scope == "host":
        return HostDecodeGate(mobile.decode_concurrency)
    return DecodeGate(mobile.decode_concurrency)


def app() -> FastAPI:
    """Factory target for ``uvicorn --factory mobile_api.app:app`` (settings from the env)."""
    return create_app()
