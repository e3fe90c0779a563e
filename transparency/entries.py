"""What a log entry holds: one row of a logged table as it was written.

Each logged table names its reference column (how an entry points at its row)
and the columns the log leaves out or keeps only as a digest. Secrets (token
hashes, password hashes, webhook secrets) are never logged: an entry is public
evidence and must not help anyone guess them. Long texts (a scan's stored
answer) are logged as their SHA-256, which is enough to prove them unchanged.

An entry's bytes are canonical JSON (sorted keys, no spaces, UTF-8), so the
leaf hash of a row can be recomputed from the row alone. Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ENTRY_VERSION = 1


@dataclass(frozen=True)
class LoggedTable:
    name: str
    ref: str
    columns: tuple[str, ...]
    digested: frozenset[str] = frozenset()


# The tables whose every insert and update is evidence (issue: scans and their later
# additions, status changes and undo, inspections and seizures, account, token and
# webhook changes). Status changes and undos are audit_event rows.
LOGGED_TABLES: dict[str, LoggedTable] = {
    t.name: t
    for t in (
        LoggedTable(
            "scan",
            "scan_id",
            (
                "scan_id", "gtin", "serial", "scanned_at", "recorded_at", "role", "account_id",
                "device_id", "country", "lat", "lon", "accuracy_m", "verdict", "reasons",
                "answer", "code",
            ),
            frozenset({"answer"}),
        ),
        LoggedTable(
            "audit_event",
            "id",
            (
                "id", "at", "account_id", "action", "gtin", "serial", "lot", "batch_id",
                "before", "after", "comment", "undone_at",
            ),
        ),
        LoggedTable(
            "inspection",
            "id",
            (
                "id", "scan_id", "gtin", "serial", "brand_id", "outcome", "notes", "quantity",
                "account_id", "at", "country", "lat", "lon", "accuracy_m",
            ),
        ),
        LoggedTable(
            "account", "id", ("id", "name", "role", "brand_id", "contact", "created_at",
                              "disabled_at"),
        ),
        LoggedTable("api_token", "id", ("id", "account_id", "prefix", "created_at",
                                        "revoked_at")),
        LoggedTable("brand_webhook", "id", ("id", "brand_id", "url", "updated_at",
                                            "updated_by")),
        LoggedTable("console_credential", "id", ("id", "account_id", "updated_at")),
    )
}  # fmt: skip


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _value(value: Any) -> Any:
    if type(value) in _PLAIN:  # most columns; an exact-type test, ahead of the isinstance chain
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def row_facts(table: LoggedTable, row: Mapping[str, Any]) -> dict[str, Any]:
    """The logged view of a row: its logged columns, digests for the long ones."""
    facts: dict[str, Any] = {}
    for column in table.columns:
        value = _value(row.get(column))
        if column in table.digested and value is not None:
            digest = hashlib.sha256(str(value).encode("utf-8")).hexdigest()
            facts[column + "_sha256"] = digest
        else:
            facts[column] = value
    return facts


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_body(table: LoggedTable, op: str, row: Mapping[str, Any]) -> bytes:
    """The bytes of the entry that logs ``op`` ("insert" or "update") of ``row``."""
    facts = row_facts(table, row)
    ref = facts.get(table.ref)
    return canonical(
        {"v": ENTRY_VERSION, "table": table.name, "op": op, "ref": str(ref), "row": facts}
    )


def parse_body(body: bytes) -> dict[str, Any]:
    value = json.loads(body)
    if not isinstance(value, dict) or value.get("v") != ENTRY_VERSION:
        raise ValueError("not a log entry of this version")
    return value
