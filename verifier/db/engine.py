"""Engines for SQLite (WAL, busy timeout) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

import transparency.tables  # noqa: F401  (the log is part of every database)
from transparency import hooks as log_hooks

SQLITE_BUSY_TIMEOUT_MS = 5000


def make_engine(
    url: str, *, pool_size: int = 5, max_overflow: int = 5, pool_timeout: float = 30.0
) -> Engine:
    """An engine for ``url``; for SQLite, the data directory is created and WAL turned on.

    The PostgreSQL pool is per process: N workers hold up to N x (pool_size +
    max_overflow) connections, which must stay under the server's
    max_connections (100 by default), so the defaults are small.
    """
    # Every process that writes to the database logs what it writes (the CLI's too).
    log_hooks.install()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes a second
    # writer wait instead of failing at once; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
