"""The write side of verification: one transaction per batch of scans, per-code locks.

Scans of one code must see each other even when they reach different worker
processes at the same instant, or a copy scanned in Sydney while the original
is scanned in Paris would be judged against a history missing the other. The
batch transaction therefore takes, before it reads any history:

- on PostgreSQL, a transaction-scoped advisory lock per code, in sorted key
  order (two batches that share codes can never wait on each other in a
  cycle); scans of other codes go on in parallel;
- on SQLite, the database's one write lock (``BEGIN IMMEDIATE``): SQLite
  serialises writers anyway, and taking the lock up front means the history
  read and the insert see the same database.

The finished scan (verdict, reasons and the answer kept for ``scan_id``
replay) is inserted once, in the same transaction: there is no half-stored
"pending" scan for a crash to leave behind.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Dialect, Table, select, text
from sqlmodel import Session

from storage.pipeline import Row, Step, pipelined
from transparency.hooks import log_rows
from verifier.db.models import Scan

_LOCK_ALL = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")


def code_lock_key(gtin: str, serial: str) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock``; a collision only serialises two codes."""
    digest = hashlib.blake2b(f"{gtin}\x1d{serial}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def begin_scan_writes(
    session: Session, identities: Iterable[tuple[str, str]], *, then: Step | None = None
) -> list[Row]:
    """Start the batch's transaction holding what keeps concurrent scans of its codes apart;
    then run ``then`` (a read that must see what the locks' previous holders committed) and
    return its rows. On PostgreSQL the locks and ``then`` go in one round trip: the server
    runs them in order, and ``then`` takes its snapshot after the locks are held."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        return pipelined(connection, [then])[0] if then is not None else []
    keys = sorted({code_lock_key(gtin, serial) for gtin, serial in identities})
    steps = ([Step(_LOCK_ALL, {"keys": keys})] if keys else []) + ([then] if then else [])
    return pipelined(connection, steps)[-1] if then is not None else []


# The scan row as the verify path inserts it, in this order.
SCAN_COLUMNS = (
    "scan_id", "gtin", "serial", "scanned_at", "recorded_at", "role", "account_id", "device_id",
    "country", "lat", "lon", "accuracy_m", "verdict", "reasons", "answer", "code",
)  # fmt: skip
_INSERT = (
    "INSERT INTO scan (scan_id, gtin, serial, scanned_at, recorded_at, role, account_id, "
    "device_id, country, lat, lon, accuracy_m, verdict, reasons, answer, code) VALUES ({}) "
    "ON CONFLICT (scan_id) DO NOTHING"
)
_Processor = Callable[[Any], Any] | None


@functools.lru_cache(maxsize=16)
def _insert_plan(dialect: Dialect) -> tuple[str, tuple[_Processor, ...]]:
    """The INSERT in the driver's own parameter style, and each column's bind processor."""
    table: Table = Scan.__table__  # type: ignore[attr-defined]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    processors = tuple(table.c[name].type.bind_processor(dialect) for name in SCAN_COLUMNS)
    return _INSERT.format(", ".join([marker] * len(SCAN_COLUMNS))), processors


def insert_scans(session: Session, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Insert finished scans with one driver ``executemany``; returns the scan_ids inserted.

    The driver's executemany (SQLite's C loop, psycopg's pipeline) skips SQLAlchemy's
    per-row SQL rendering, the largest cost of a batch when measured. The values go through
    the columns' own bind processors, so they are stored exactly as the ORM stores them. A
    scan_id that another transaction stored first (for another code, so no code lock kept
    the two apart) is skipped, not an error that would fail the batch.
    """
    if not rows:
        return set()
    connection = session.connection()
    sql, processors = _insert_plan(connection.dialect)
    params = [
        tuple(
            value if process is None or value is None else process(value)
            for value, process in zip((row[name] for name in SCAN_COLUMNS), processors, strict=True)
        )
        for row in rows
    ]
    result = connection.exec_driver_sql(sql, params)
    wanted = {row["scan_id"]: row for row in rows}
    if result.rowcount == len(rows):
        log_rows(session, "scan", "insert", rows)
        return set(wanted)
    # Rare: some scan_id was taken. Ours are the rows stored with our code and time.
    table: Table = Scan.__table__  # type: ignore[attr-defined]
    stored = session.execute(
        select(table.c.scan_id, table.c.gtin, table.c.serial, table.c.recorded_at).where(
            table.c.scan_id.in_(list(wanted))
        )
    )
    ours = {
        scan_id
        for scan_id, gtin, serial, recorded_at in stored
        if (gtin, serial, recorded_at)
        == (wanted[scan_id]["gtin"], wanted[scan_id]["serial"], wanted[scan_id]["recorded_at"])
    }
    log_rows(session, "scan", "insert", [wanted[scan_id] for scan_id in sorted(ours)])
    return ours
