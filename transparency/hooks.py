"""Every logged row joins the log in the transaction that writes it.

Two ways in, one way out:
- ORM writes (status changes, inspections, accounts, tokens, webhooks, a
  location added to a scan) are seen by an ``after_flush`` listener, which
  turns each new or changed row of a logged table into a pending entry;
- the verify path's ``executemany`` of scan rows bypasses the ORM and calls
  :func:`log_rows` itself.
At ``before_commit`` the pending entries are appended (:func:`store.append`):
last, so the head lock is the last lock the transaction takes, and in the same
transaction, so a rolled-back write leaves no entry and no entry is committed
without its row. A rollback drops what was pending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction

from transparency import store
from transparency.entries import LOGGED_TABLES, entry_body
from transparency.store import PendingEntry

_PENDING = "transparency.pending"
_installed = False
_clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def _pending(session: OrmSession) -> list[PendingEntry]:
    pending: list[PendingEntry] = session.info.setdefault(_PENDING, [])
    return pending


def log_rows(
    session: OrmSession, table_name: str, op: str, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Queue entries for rows written without the ORM (appended at commit)."""
    table = LOGGED_TABLES[table_name]
    pending = _pending(session)
    for row in rows:
        pending.append(
            PendingEntry(table.name, str(row.get(table.ref)), entry_body(table, op, row))
        )


def _row_of(obj: Any, columns: Iterable[str]) -> dict[str, Any]:
    return {column: getattr(obj, column, None) for column in columns}


def _after_flush(session: OrmSession, flush_context: UOWTransaction) -> None:
    for objects, op in ((session.new, "insert"), (session.dirty, "update")):
        for obj in objects:
            table = LOGGED_TABLES.get(getattr(obj, "__tablename__", ""))
            if table is None:
                continue
            if op == "update" and not _changed(obj, table.columns):
                continue
            log_rows(session, table.name, op, [_row_of(obj, table.columns)])


def _changed(obj: Any, columns: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[c].history.has_changes() for c in columns if c in state.attrs)


def _before_commit(session: OrmSession) -> None:
    session.flush()
    pending = session.info.pop(_PENDING, None)
    if pending:
        store.append(session.connection(), pending, now=_clock())


def _after_rollback(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)


def install(clock: Callable[[], datetime] | None = None) -> None:
    """Listen on every ORM session of the process (idempotent)."""
    global _installed, _clock
    if clock is not None:
        _clock = clock
    if _installed:
        return
    event.listen(OrmSession, "after_flush", _after_flush)
    event.listen(OrmSession, "before_commit", _before_commit)
    event.listen(OrmSession, "after_rollback", _after_rollback)
    event.listen(OrmSession, "after_soft_rollback", lambda s, t: s.info.pop(_PENDING, None))
    _installed = True
