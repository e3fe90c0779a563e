"""The tree in the database: appends inside the caller's transaction, proofs, reads.

An append locks the one head row (``UPDATE ... SET size = size``: a row lock on
PostgreSQL, the write lock on SQLite), so concurrent transactions append one
after another and each sees the size the previous one left. It is called at
commit time (:mod:`transparency.hooks`), after every other lock the transaction
takes, so the head lock is held only for the last statements of a transaction
and never ahead of a code lock. Entries, nodes and the head are written with
one statement each (sent together on PostgreSQL); nothing is stored without its leaf.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from authn.errors import InvalidInput, NotFound
from storage.pipeline import Step, pipelined
from transparency import merkle
from transparency.merkle import Frontier
from transparency.tables import LogEntry, LogHead

MAX_ENTRIES_PER_PAGE = 1000

_entry = LogEntry.__table__  # type: ignore[attr-defined]
_head = LogHead.__table__  # type: ignore[attr-defined]
_INSERT_ENTRY = insert(_entry)
_UPDATE_HEAD = (
    update(_head)
    .where(_head.c.id == 1)
    .values(size=bindparam("size"), frontier=bindparam("frontier"))
)


@dataclass(frozen=True)
class PendingEntry:
    kind: str
    ref: str
    body: bytes


def _frontier_from(size: int, text_value: str) -> Frontier:
    nodes = tuple((int(lv), int(ix), bytes.fromhex(h)) for lv, ix, h in json.loads(text_value))
    return Frontier(size, nodes)


def _frontier_text(frontier: Frontier) -> str:
    return json.dumps([[lv, ix, h.hex()] for lv, ix, h in frontier.nodes], separators=(",", ":"))


def insert_unless_present(connection: Connection, table: Any, values: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, in the connection's dialect (both stores have it)."""
    maker = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(maker(table).values(values).on_conflict_do_nothing())


def read_head(connection: Connection) -> Frontier:
    row = connection.execute(select(_head.c.size, _head.c.frontier).where(_head.c.id == 1)).first()
    if row is None:
        return Frontier.empty()
    return _frontier_from(int(row[0]), str(row[1]))


def append(connection: Connection, entries: Sequence[PendingEntry], *, now: datetime) -> Frontier:
    """Append ``entries`` as the next leaves; returns the new head."""
    if not entries:
        return read_head(connection)
    # FOR UPDATE locks the head row on PostgreSQL; SQLite ignores it, and needs nothing: a
    # transaction that reaches its commit with rows to log already holds the write lock.
    locked = select(_head.c.size, _head.c.frontier).where(_head.c.id == 1).with_for_update()
    row = connection.execute(locked).first()
    if row is None:  # an emptied database: the migration's head row is gone
        insert_unless_present(connection, _head, {"id": 1, "size": 0, "frontier": "[]"})
        row = connection.execute(locked).one()
    frontier = _frontier_from(int(row[0]), str(row[1]))
    entry_rows: list[dict[str, object]] = []
    for entry in entries:
        leaf = merkle.leaf_hash(entry.body)
        index = frontier.size
        frontier, completed = frontier.append(leaf)
        entry_rows.append(
            {
                "idx": index,
                "kind": entry.kind,
                "ref": entry.ref[:64],
                "body": entry.body.decode("utf-8"),
                "leaf": leaf,
                "nodes": b"".join(h for _, _, h in completed),
                "logged_at": now,
            }
        )
    # Neither write needs an answer: on PostgreSQL both go in one round trip, before COMMIT.
    pipelined(
        connection,
        [
            Step(_INSERT_ENTRY, entry_rows, many=True),
            Step(_UPDATE_HEAD, {"size": frontier.size, "frontier": _frontier_text(frontier)}),
        ],
    )
    return frontier


def completing_leaf(level: int, index: int) -> int:
    """The leaf whose append completed node ``(level, index)`` (and stores it)."""
    return ((index + 1) << level) - 1


def _read_nodes(connection: Connection, wanted: Iterable[tuple[int, int]]) -> merkle.NodeReader:
    """One read of the entry rows that hold the ``wanted`` nodes."""
    keys = set(wanted)
    rows: dict[int, tuple[bytes, bytes]] = {}
    leaves = sorted({completing_leaf(lv, ix) for lv, ix in keys})
    for chunk in range(0, len(leaves), 500):
        part = leaves[chunk : chunk + 500]
        for idx, leaf, nodes in connection.execute(
            select(_entry.c.idx, _entry.c.leaf, _entry.c.nodes).where(_entry.c.idx.in_(part))
        ):
            rows[int(idx)] = (bytes(leaf), bytes(nodes))

    def node(level: int, index: int) -> bytes:
        row = rows.get(completing_leaf(level, index))
        if row is not None:
            value = row[0] if level == 0 else row[1][(level - 1) * 32 : level * 32]
            if len(value) == 32:
                return value
        raise NotFound(f"log node {level}/{index} is missing")

    return node


def _check_size(size: int, head: Frontier) -> None:
    if not 0 < size <= head.size:
        raise InvalidInput(f"tree_size must be between 1 and {head.size}")


def root_at(connection: Connection, size: int) -> bytes:
    head = read_head(connection)
    if size == head.size:
        return head.root()
    _check_size(size, head)
    return merkle.subtree_root(0, size, _read_nodes(connection, merkle.perfect_parts(0, size)))


def inclusion_proof(connection: Connection, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """(leaf hash, audit path) of leaf ``index`` in the tree of ``size``."""
    _check_size(size, read_head(connection))
    if not 0 <= index < size:
        raise InvalidInput("leaf_index must be smaller than tree_size")
    ranges = merkle.inclusion_ranges(index, size)
    wanted = [(0, index)] + [p for a, b in ranges for p in merkle.perfect_parts(a, b)]
    node = _read_nodes(connection, wanted)
    return node(0, index), [merkle.subtree_root(a, b, node) for a, b in ranges]


def consistency_proof(connection: Connection, first: int, second: int) -> list[bytes]:
    head = read_head(connection)
    _check_size(second, head)
    if not 0 < first <= second:
        raise InvalidInput("first must be between 1 and second")
    ranges = merkle.consistency_ranges(first, second)
    node = _read_nodes(connection, [p for a, b in ranges for p in merkle.perfect_parts(a, b)])
    return [merkle.subtree_root(a, b, node) for a, b in ranges]


def read_entries(connection: Connection, start: int, end: int) -> list[dict[str, object]]:
    """Entries ``start`` (inclusive) to ``end`` (exclusive), at most a page of them."""
    if start < 0 or end <= start:
        raise InvalidInput("entries need 0 <= start < end")
    end = min(end, start + MAX_ENTRIES_PER_PAGE)
    rows = connection.execute(
        select(_entry.c.idx, _entry.c.kind, _entry.c.ref, _entry.c.body, _entry.c.logged_at)
        .where(_entry.c.idx >= start, _entry.c.idx < end)
        .order_by(_entry.c.idx)
    )
    return [dict(row._mapping) for row in rows]


def entries_for(connection: Connection, kind: str, refs: Sequence[str]) -> list[tuple[int, str]]:
    """(index, body) of every entry of ``kind`` about ``refs``, oldest first."""
    if not refs:
        return []
    rows = connection.execute(
        select(_entry.c.idx, _entry.c.body)
        .where(_entry.c.kind == kind, _entry.c.ref.in_(list(refs)))
        .order_by(_entry.c.idx)
    )
    return [(int(idx), str(body)) for idx, body in rows]
