"""Engines for SQLite (WAL, busy timeout) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

import transparency.tables  # noqa: F401  (the log is part of every database)
from transparency import hooks as log_hooks

SQLITE_BUSY_TIMEOUT_MS = 5000


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 5,
    pool_timeout: float = 30.0,
    lock_timeout_ms: int | None = None,
    statement_timeout_ms: int | None = None,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    read_only: bool = False,
) -> Engine:
    """An engine for ``url``; for SQLite, the data directory is created and WAL turned on.

    The PostgreSQL pool is per process: N workers hold up to N x (pool_size +
    max_overflow) connections, which must stay under the server's
    max_connections (100 by default), so the defaults are small.

    ``lock_timeout_ms`` and ``statement_timeout_ms`` (PostgreSQL) bound how long one
    statement may wait for a lock or run; the service sets them from its settings so a
    locked table gives a quick 503, not a hung request. Migrations and the command line
    leave them off (None). ``busy_timeout_ms`` is SQLite's wait for the write lock.

    ``read_only`` (PostgreSQL) opens every transaction read-only: the replica's engine sets
    it so that a replica URL that names a primary by mistake still refuses every write.
    """
    # Every process that writes to the database logs what it writes (the CLI's too).
    log_hooks.install()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        )
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms))
        return engine
    options = [
        f"-c {name}={value}"
        for name, value in (
            ("lock_timeout", lock_timeout_ms),
            ("statement_timeout", statement_timeout_ms),
            ("default_transaction_read_only", "on" if read_only else None),
        )
        if value is not None
    ]
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        connect_args={"options": " ".join(options)} if options else {},
    )


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout makes a second
    # writer wait instead of failing at once; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
