"""`sealtrace serve`: migrate the database, then run the verifier under uvicorn.

With ``--workers N`` over 1, metrics go to a fresh ``PROMETHEUS_MULTIPROC_DIR``
(made here, before any worker starts) so that ``/metrics`` adds up every worker.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from authn.errors import SealtraceError
from keys.signers import LazyFileSigner

if TYPE_CHECKING:
    from verifier.settings import Settings


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (overrides SEALTRACE_DATABASE_URL/DATABASE_URL)."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    migrate: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations first.")
    ] = True,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format", help="text or json (default: SEALTRACE_LOG_FORMAT, else text)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="Root log level.")] = "info",
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Load balancer addresses whose X-Forwarded-Proto/For uvicorn trusts "
            "(comma-separated); off by default.",
        ),
    ] = None,
) -> None:
    """Serve the verification API (POST /v1/verify and the brand and registry API).

    Settings come from SEALTRACE_* variables or .env (see docs/api.md). Migrations run once
    here, before any worker starts.
    """
    import uvicorn
    from pydantic import ValidationError

    from verifier.db.migrate import upgrade
    from verifier.logging_setup import uvicorn_log_config
    from verifier.settings import Settings

    if db is not None:
        # Workers build their settings from the environment: pass the choice on that way.
        os.environ["SEALTRACE_DATABASE_URL"] = db
    if log_format is not None:
        if log_format not in ("text", "json"):
            typer.echo("error: --log-format is text or json", err=True)
            raise typer.Exit(2)
        os.environ["SEALTRACE_LOG_FORMAT"] = log_format
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"error: settings refused: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from None
    try:
        if migrate and settings.apply_migrations:
            upgrade(settings.database_url)
        check_keys(settings)
    except (SealtraceError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prepare_multiprocess_metrics()
    chosen: Literal["text", "json"] = settings.log_format
    uvicorn.run(
        "mobile_api.app:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=uvicorn_log_config(chosen, log_level),
        # JSON logs get one access line per request from the app (with route and request id).
        access_log=chosen == "text",
        server_header=False,  # no "Server: uvicorn": nothing to fingerprint
        timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
    )


def check_keys(settings: Settings) -> None:
    """Open the log and bundle keys once, here, before any worker starts: a wrong passphrase
    stops the start with one line. Workers open them again on first use only (a scrypt
    each), so a worker answers without paying for them."""
    from mobile_api.bundle_service import load_bundle_signer
    from mobile_api.settings import MobileSettings
    from verifier.log_service import load_log_signer

    signers = [load_log_signer(settings)]
    mobile = MobileSettings()
    if mobile.bundle_key is not None:
        signers.append(load_bundle_signer(mobile, environment=settings.environment))
    for signer in signers:
        if isinstance(signer, LazyFileSigner):
            signer.open()


def prepare_multiprocess_metrics() -> Path:
    """An empty directory for the workers' metric files: a given one has its old ``*.db``
    files removed (stale files would add old counts), else a fresh one is made."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix="sealtrace-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory
