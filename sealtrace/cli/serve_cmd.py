"""`sealtrace serve`: migrate the database, then run the verifier under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from authn.errors import SealtraceError


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
) -> None:
    """Serve the verification API (POST /v1/verify and the brand and registry API).

    Settings come from SEALTRACE_* variables or .env (see docs/api.md). Migrations run once
    here, before any worker starts.
    """
    import uvicorn
    from pydantic import ValidationError

    from verifier.db.migrate import upgrade
    from verifier.settings import Settings

    if db is not None:
        # Workers build their settings from the environment: pass the choice on that way.
        os.environ["SEALTRACE_DATABASE_URL"] = db
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"error: settings refused: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from None
    try:
        if migrate and settings.apply_migrations:
            upgrade(settings.database_url)
    except SealtraceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    uvicorn.run(
        "mobile_api.app:app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
    )
