"""Several statements in one round trip to PostgreSQL (psycopg 3 pipeline mode).

A batch's transaction sends statements that do not need each other's answers (the
reads of the batch's state; the log's entries and head). One after another, each
costs a round trip to the server, and on a loaded server the round trips, not the
work, bound a batch. :func:`pipelined` sends them together on the session's own
connection, inside its transaction, and reads their rows after: PostgreSQL still
runs them one after another, in the order given, each with a snapshot of its own
(read committed), so a statement sent after a lock sees what the lock's holder
committed.

The statements are SQLAlchemy constructs with named parameters, compiled once per
construct; each column's result processor runs on the rows, so they come back
exactly as ``connection.execute`` would give them. A driver error is raised as
SQLAlchemy's (``DBAPIError.instance``), so the recorder's retries on transient errors
see it. On any other database the statements simply run one after another.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Dialect, Text, bindparam, func
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import ARRAY

# Called with the SQL texts of every pipeline sent (one round trip each), for tests that
# count round trips; the engine's ``before_cursor_execute`` listeners see each statement too.
listeners: list[Callable[[list[str]], None]] = []


@dataclass(frozen=True)
class Step:
    """One statement of a pipeline: a query whose rows are wanted, or a write (``many``:
    a list of parameter sets, sent as one ``executemany``; ``returning``: the rows its
    RETURNING gives for each set, in order)."""

    statement: Executable
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = ()
    many: bool = False
    returning: bool = False

    def column_keys(self) -> tuple[str, ...] | None:
        """An INSERT's columns: those its parameter sets give (the others take defaults)."""
        if self.many and self.params:
            return tuple(self.params[0])  # type: ignore[index]
        return None


_Processor = Callable[[Any], Any]
Row = dict[str, Any]


@functools.lru_cache(maxsize=64)
def _plan(
    statement: Executable, dialect: Dialect, column_keys: tuple[str, ...] | None
) -> tuple[Any, dict[str, _Processor]]:
    keys = list(column_keys) if column_keys is not None else None
    compiled = statement.compile(dialect=dialect, column_keys=keys)  # type: ignore[attr-defined]
    processors: dict[str, _Processor] = {}
    columns = getattr(statement, "selected_columns", None)  # a query's, not a write's
    if columns is not None:
        for name, column in zip(columns.keys(), columns, strict=True):
            process = column.type.result_processor(dialect, None)
            if process is not None:
                processors[name] = process
    return compiled, processors


def _bound(compiled: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = compiled.construct_params(params)
    for name, process in compiled._bind_processors.items():
        if name in values and values[name] is not None:
            values[name] = process(values[name])
    return values


def pipelined(connection: Connection, steps: Sequence[Step]) -> list[list[Row]]:
    """Run ``steps`` in order in the connection's transaction; each query's rows (by column
    name), by step (a write's list is empty). On PostgreSQL, in one round trip."""
    if connection.dialect.name != "postgresql":
        return [_one_by_one(connection, step) for step in steps]
    import psycopg  # only PostgreSQL's deployments need the driver

    dialect = connection.dialect
    plans = [_plan(step.statement, dialect, step.column_keys()) for step in steps]
    sent: list[tuple[str, Any]] = []
    for step, (compiled, _) in zip(steps, plans, strict=True):
        if step.many:
            sets: Sequence[Mapping[str, Any]] = step.params  # type: ignore[assignment]
            sent.append((compiled.string, [_bound(compiled, p) for p in sets]))
        else:
            one: Mapping[str, Any] = step.params  # type: ignore[assignment]
            sent.append((compiled.string, _bound(compiled, one)))
    for listener in listeners:
        listener([sql for sql, _ in sent])
    if not connection.in_transaction():
        # The driver begins one by itself; SQLAlchemy must know of it, or its rollback and
        # commit would do nothing and the pipeline's writes would outlive a rollback.
        connection.begin()
    driver = connection.connection.driver_connection
    assert driver is not None
    cursors = [driver.cursor() for _ in steps]
    # The engine's own statement listeners see every statement, before any is sent (with no
    # execution context: these bypass SQLAlchemy's execution).
    for cursor, (sql, params), step in zip(cursors, sent, steps, strict=True):
        for listen in connection.dispatch.before_cursor_execute:
            listen(connection, cursor, sql, params, None, step.many)
    try:
        with driver.pipeline() as pipeline:
            for cursor, (sql, params), step in zip(cursors, sent, steps, strict=True):
                if step.many:
                    if params:
                        cursor.executemany(sql, params, returning=step.returning)
                else:
                    cursor.execute(sql, params)
            pipeline.sync()  # the one round trip: every result is in after it
            rows = [_results(c, step) for c, step in zip(cursors, steps, strict=True)]
    except psycopg.Error as exc:
        raise DBAPIError.instance(
            "; ".join(sql for sql, _ in sent), None, exc, psycopg.Error, dialect=dialect
        ) from exc
    for found, (_, processors) in zip(rows, plans, strict=True):
        for name, process in processors.items():
            for row in found:
                if row.get(name) is not None:
                    row[name] = process(row[name])
    return rows


def _results(cursor: Any, step: Step) -> list[Row]:
    if not step.many:
        return _rows(cursor)
    if not step.returning or not step.params:
        return []
    found = _rows(cursor)
    while cursor.nextset():
        found.extend(_rows(cursor))
    return found


def _rows(cursor: Any) -> list[Row]:
    if cursor.description is None:
        return []
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _one_by_one(connection: Connection, step: Step) -> list[Row]:
    if step.many:
        if not step.params:
            return []
        result = connection.execute(step.statement, list(step.params))  # type: ignore[arg-type]
        return [row._asdict() for row in result] if step.returning else []
    result = connection.execute(step.statement, dict(step.params))  # type: ignore[arg-type]
    return [row._asdict() for row in result] if result.returns_rows else []


def any_of(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the list bound as ``name``: one fixed statement text on
    PostgreSQL (``= ANY`` of an array, so it can be pipelined and prepared once), an
    expanding ``IN`` elsewhere."""
    if dialect == "postgresql":
        result: ColumnElement[bool] = column == func.any(bindparam(name, type_=ARRAY(Text)))
        return result
    in_list: ColumnElement[bool] = column.in_(bindparam(name, expanding=True))
    return in_list
