"""``create_app(settings)``: the verification service as an ASGI app.

Migrations are not run here (several workers would race): ``sealtrace serve``
and ``sealtrace db upgrade`` run them before any worker starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TypedDict

from fastapi import FastAPI
from sqlmodel import Session

from detection import DetectionSettings
from epcis.jobs import resume_stale
from http_api import problems
from http_api.deps import Services
from http_api.docs_page import install_docs
from http_api.metrics import install_operations
from http_api.middleware import BodyLimitMiddleware, RequestIdMiddleware, UrlTextMiddleware
from http_api.routes_alerts import router as alerts_router
from http_api.routes_epcis import router as epcis_router
from http_api.routes_epcis_rest import router as epcis_rest_router
from http_api.routes_inspections import router as inspections_router
from http_api.routes_log import router as log_router
from http_api.routes_producer import BULK_STATUS_PATH
from http_api.routes_producer import router as producer_router
from http_api.routes_products import IMAGE_PATH as PRODUCT_IMAGE_PATH
from http_api.routes_products import IMPORT_PATH as PRODUCT_IMPORT_PATH
from http_api.routes_products import router as products_router
from http_api.routes_registry import router as registry_router
from http_api.routes_service import router as service_router
from http_api.routes_verify import router as verify_router
from keys.filestore import load_public_key
from verifier.db.engine import make_engine
from verifier.geography import country_places
from verifier.log_service import LogService, load_log_signer
from verifier.outbox import OutboxWorker
from verifier.settings import Clock, Settings, utc_now
from verifier.trust import TrustListParser, TrustStore, keys_trust_parser
from verifier.verification.recorder import ScanRecorder
from verifier.verification.service import Verifier
from verifier.webhooks import Destinations

log = logging.getLogger(__name__)

DESCRIPTION = """\
One verification endpoint for customs officers and consumers alike. The caller's role
(bearer token) decides how much an answer shows. Errors are `application/problem+json`.
See docs/api.md for the contract."""


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    trust_parser: TrustListParser | None = None,
    extra_body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """Build the app. ``clock`` is the service's only source of time (tests pass their own);
    ``trust_parser`` defaults to ``keys.trust`` with the configured registry key;
    ``extra_body_limits`` gives paths added by outer layers (uploads) their own size limit."""
    settings = settings or Settings()
    if trust_parser is None and settings.registry_public_key is not None:
        trust_parser = keys_trust_parser(load_public_key(settings.registry_public_key))
    timeouts = timeouts_of(settings)
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        **timeouts,
    )
    read_engine = None
    if settings.database_replica_url is not None:
        read_engine = make_engine(
            settings.database_replica_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            read_only=True,
            **timeouts,
        )
    trust = TrustStore(trust_parser, refresh_seconds=settings.trust_refresh_seconds, clock=clock)
    verifier = Verifier(
        trust,
        clock=clock,
        history_limit=settings.history_limit,
        history_days=settings.history_days,
        # Country data for page views' travel and concurrency, built once per process.
        detection=DetectionSettings(countries=country_places()),
    )
    services = Services(
        settings=settings,
        engine=engine,
        clock=clock,
        trust=trust,
        verifier=verifier,
        recorder=ScanRecorder(engine, verifier, max_batch=settings.record_batch_max),
        log=LogService(
            load_log_signer(settings),
            origin=settings.log_origin,
            interval_seconds=settings.log_checkpoint_seconds,
        ),
        read_engine=read_engine,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        file_data = settings.trust_list.read_bytes() if settings.trust_list else None
        with Session(engine) as session:
            trust.start(session, file_data)
        if trust.held is None:
            log.warning("no trust list held: verification answers 503 until one is installed")
        # The webhook outbox worker has its own engine: its polling stays off the app's pool.
        outbox_worker = OutboxWorker(
            make_engine(settings.database_url, pool_size=1, max_overflow=0, **timeouts),
            clock=clock,
            destinations=Destinations.allowing(settings.webhook_allow_networks),
        )  # fmt: skip
        outbox_worker.start()
        app.state.outbox_worker = outbox_worker  # tests and operators may stop it
        # Capture jobs a dead worker left running past their lease are run again, off the
        # start-up path (a job still inside its lease is taken over when a client polls it).
        threading.Thread(
            target=resume_stale, name="epcis-resume", daemon=True, args=(engine,),
            kwargs={"clock": clock, "lease_seconds": settings.epcis_job_lease_seconds},
        ).start()  # fmt: skip
        yield
        services.recorder.close()
        outbox_worker.stop()
        engine.dispose()
        if read_engine is not None:
            read_engine.dispose()

    app = FastAPI(
        title="sealtrace verifier",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the pinned Swagger UI package instead (no CDN)
        redoc_url=None,
    )
    install_docs(app)
    app.state.services = services
    problems.install(app)
    app.include_router(alerts_router)
    app.include_router(inspections_router)
    app.include_router(verify_router)
    app.include_router(registry_router)
    app.include_router(service_router)
    app.include_router(epcis_router)
    app.include_router(log_router)
    app.include_router(epcis_rest_router)
    app.include_router(producer_router)
    app.include_router(products_router)

    def limit_for(path: str) -> int:
        if extra_body_limits and path in extra_body_limits:
            return extra_body_limits[path]
        bulk = (BULK_STATUS_PATH, PRODUCT_IMPORT_PATH)
        if path.startswith(("/v1/registrations", "/v1/epcis", "/epcis")) or path in bulk:
            return settings.registration_body_limit
        if path.startswith("/v1/trust-list"):
            return settings.trust_list_body_limit
        if PRODUCT_IMAGE_PATH.fullmatch(path):
            return settings.product_image_max_bytes
        return settings.verify_body_limit

    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(UrlTextMiddleware)
    install_operations(app, settings)
    app.add_middleware(RequestIdMiddleware)
    return app


class Timeouts(TypedDict):
    lock_timeout_ms: int
    statement_timeout_ms: int
    busy_timeout_ms: int


def timeouts_of(settings: Settings) -> Timeouts:
    """The engine's database timeouts from the settings (0 means none)."""
    return {
        "lock_timeout_ms": settings.db_lock_timeout_ms,
        "statement_timeout_ms": settings.db_statement_timeout_ms,
        "busy_timeout_ms": settings.db_busy_timeout_ms,
    }


def app() -> FastAPI:
    """Factory target for ``uvicorn --factory http_api.app:app`` (settings from the env)."""
    return create_app()
