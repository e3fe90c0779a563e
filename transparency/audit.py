"""``audit verify``: recompute the tree from the stored entries and compare every logged row.

Three things are checked, and the first mismatch of each is named:
1. every entry's leaf is the hash of its body, and every stored node, the head's
   size, frontier and root are what the leaves give (an edited entry, leaf or
   node, or a removed entry, is found here);
2. every row of a logged table equals the latest entry about it (an ``UPDATE``
   made behind the service's back, or a deleted row, is found here); rows older
   than the log are counted, not failed;
3. given an earlier checkpoint, its signature, and that the current tree
   extends it (a consistency proof from the stored nodes, checked).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, MetaData, Table, select
from sqlmodel import SQLModel

from transparency import merkle, store
from transparency.entries import LOGGED_TABLES, canonical, row_facts
from transparency.merkle import Frontier
from transparency.note import NoteError, open_checkpoint
from transparency.tables import LogEntry

_BATCH = 5000


@dataclass
class AuditReport:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    problems: list[str] = field(default_factory=list)
    rows_checked: int = 0
    rows_before_log: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_tree(connection: Connection, report: AuditReport) -> dict[tuple[str, str], str]:
    """Recompute leaves, nodes and head; returns the latest body per (table, ref)."""
    entry = LogEntry.__table__  # type: ignore[attr-defined]
    latest: dict[tuple[str, str], str] = {}
    frontier = Frontier.empty()
    start = 0
    while True:
        rows = connection.execute(
            select(
                entry.c.idx, entry.c.kind, entry.c.ref, entry.c.body, entry.c.leaf, entry.c.nodes
            )
            .where(entry.c.idx >= start)
            .order_by(entry.c.idx)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for idx, kind, ref, body, leaf, nodes in rows:
            if int(idx) != frontier.size:
                report.problems.append(f"entry {frontier.size} is missing (next stored: {idx})")
                return latest
            expected = merkle.leaf_hash(str(body).encode("utf-8"))
            if bytes(leaf) != expected:
                report.problems.append(f"entry {idx}: its leaf hash is not the hash of its body")
            try:
                parsed = json.loads(str(body))
                if (parsed.get("table"), parsed.get("ref")) != (kind, ref):
                    report.problems.append(f"entry {idx}: its kind or ref differ from its body")
            except ValueError:
                report.problems.append(f"entry {idx}: its body is not JSON")
            latest[(str(kind), str(ref))] = str(body)
            frontier, completed = frontier.append(expected)
            if bytes(nodes) != b"".join(h for _, _, h in completed):
                report.problems.append(f"entry {idx}: its nodes do not match the leaves below")
        start = frontier.size
    head = store.read_head(connection)
    if head.size != frontier.size or head.root() != frontier.root():
        report.problems.append(
            f"the head says {head.size} entries with another root; the entries give {frontier.size}"
        )
    report.size, report.root = frontier.size, frontier.root()
    return latest


def _check_rows(
    connection: Connection,
    latest: dict[tuple[str, str], str],
    report: AuditReport,
    metadata: MetaData,
) -> None:
    for table in LOGGED_TABLES.values():
        # The table's own column types, so values read back as they were written.
        stored = metadata.tables.get(table.name)
        if stored is None:  # a model this process has not imported: read the table's own types
            stored = Table(table.name, MetaData(), autoload_with=connection)
        columns: list[Any] = [stored.c[c] for c in table.columns]
        seen: set[str] = set()
        for row in connection.execute(select(*columns)):
            mapping = dict(row._mapping)
            facts = row_facts(table, mapping)
            ref = str(facts.get(table.ref))
            seen.add(ref)
            body = latest.get((table.name, ref))
            if body is None:
                report.rows_before_log += 1
                continue
            report.rows_checked += 1
            logged = json.loads(body)["row"]
            if canonical(logged) != canonical(facts):
                changed = sorted(k for k in facts if facts.get(k) != logged.get(k))
                report.problems.append(
                    f"{table.name} {ref}: differs from its log entry in {', '.join(changed)}"
                )
        for kind, ref in latest:
            if kind == table.name and ref not in seen:
                report.problems.append(f"{table.name} {ref}: logged but no longer stored")


def audit(
    connection: Connection,
    *,
    checkpoint: str | None = None,
    key_name: str | None = None,
    public_key: Ed25519PublicKey | None = None,
    metadata: MetaData | None = None,
) -> AuditReport:
    """``metadata`` holds the logged tables' models (default: SQLModel's, as the service has)."""
    report = AuditReport()
    latest = _check_tree(connection, report)
    _check_rows(connection, latest, report, metadata or SQLModel.metadata)
    if checkpoint is not None and public_key is not None and key_name is not None:
        try:
            earlier = open_checkpoint(checkpoint, key_name, public_key)
        except NoteError as exc:
            report.problems.append(f"the earlier checkpoint: {exc}")
            return report
        if earlier.size > report.size:
            report.problems.append(
                f"the earlier checkpoint has {earlier.size} entries; the log has {report.size}"
            )
        elif earlier.size > 0:
            proof = store.consistency_proof(connection, earlier.size, report.size)
            if not merkle.verify_consistency(
                earlier.size, report.size, earlier.root, report.root, proof
            ):
                report.problems.append(
                    f"the log does not extend the earlier checkpoint of {earlier.size} entries"
                )
    return report
