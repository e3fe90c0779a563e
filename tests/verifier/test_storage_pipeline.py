"""storage.pipeline: statements sent together still run in order, in the transaction.

On a real database each (SQLite one by one, PostgreSQL in one pipeline): a write and the
read after it see each other, rows come back through the columns' result processors
(aware UTC datetimes), a rollback undoes what a pipeline wrote, and a failing statement
is raised as SQLAlchemy's error, which the recorder's retries understand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import DBAPIError

from storage.pipeline import Step, pipelined
from transparency.tables import LogEntry
from verifier.db.engine import make_engine

_ENTRY = LogEntry.__table__  # type: ignore[attr-defined]
_READ = select(_ENTRY.c.idx, _ENTRY.c.kind, _ENTRY.c.logged_at).where(
    _ENTRY.c.idx >= bindparam("first")
)


def _row(idx: int, at: datetime) -> dict[str, object]:
    return {
        "idx": idx, "kind": "test", "ref": f"r{idx}", "body": "{}", "leaf": b"\0" * 32,
        "nodes": b"", "logged_at": at,
    }  # fmt: skip


def test_a_pipeline_writes_and_reads_in_order_in_its_transaction(database_url: str) -> None:
    engine = make_engine(database_url)
    paris = timezone(timedelta(hours=1))
    at = datetime(2026, 3, 1, 12, 0, tzinfo=paris)
    try:
        with engine.connect() as connection:
            written, read, nothing = pipelined(
                connection,
                [
                    Step(_ENTRY.insert(), [_row(900, at), _row(901, at)], many=True),
                    Step(_READ, {"first": 900}),
                    Step(_READ, {"first": 10_000}),
                ],
            )
            assert written == []
            assert nothing == []
            assert sorted((r["idx"], r["kind"]) for r in read) == [(900, "test"), (901, "test")]
            # Through UTCDateTime: aware and in UTC, whatever the zone it was written in.
            assert {r["logged_at"] for r in read} == {at.astimezone(UTC)}
            assert all(r["logged_at"].tzinfo is UTC for r in read)
            connection.rollback()
            (after,) = pipelined(connection, [Step(_READ, {"first": 900})])
            assert after == []  # the rollback took the pipeline's writes with it
    finally:
        engine.dispose()


def test_a_failing_statement_is_sqlalchemys_error(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            with pytest.raises(DBAPIError):
                pipelined(
                    connection,
                    [
                        Step(_READ, {"first": 0}),
                        Step(text("SELECT no_such_column FROM log_head")),
                    ],
                )
            connection.rollback()
            (head,) = pipelined(connection, [Step(text("SELECT 1 AS one"))])
            assert head == [{"one": 1}]  # the connection is usable again
    finally:
        engine.dispose()
