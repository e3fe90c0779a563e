"""Check a seizure evidence bundle offline: ``python -m transparency.checker BUNDLE KEY``.

Needs Python and the ``cryptography`` package, and of this project only
:mod:`transparency.merkle` and :mod:`transparency.note` (plain functions over
bytes). Given the bundle (GET /v1/seizures/{id}/evidence) and the log's public
key (PEM), it checks:

1. the checkpoint is signed by that key (C2SP signed note);
2. every entry's RFC 9162 inclusion proof against the checkpoint's root;
3. the report says what the log recorded: the seizure's outcome, units, notes,
   time and code, and for each scan in the history its verdict and time.

Exit 0 when all hold, 1 naming what does not, 2 when the files cannot be read.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from transparency.merkle import leaf_hash, verify_inclusion
from transparency.note import NoteError, open_checkpoint

# Report field -> logged inspection column (the seizure's own entry).
SEIZURE_FIELDS = {"quantity": "quantity", "notes": "notes", "scan_id": "scan_id"}


def _time(value: str) -> str:
    """Both sides as ``YYYY-MM-DDTHH:MM:SS.ffffff`` (the log's form, without its Z)."""
    text = value.replace("Z", "").replace("+00:00", "")
    return text if "." in text else text + ".000000"


def check(bundle: dict[str, Any], public_key: Ed25519PublicKey) -> list[str]:
    """The problems found; an empty list means the bundle holds."""
    problems: list[str] = []
    log = bundle["log"]
    try:
        checkpoint = open_checkpoint(log["checkpoint"], log["key_name"], public_key)
    except NoteError as exc:
        return [f"checkpoint: {exc}"]
    logged: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in bundle["entries"]:
        body = entry["body"].encode("utf-8")
        path = [base64.b64decode(p) for p in entry["audit_path"]]
        if not verify_inclusion(
            entry["index"], checkpoint.size, leaf_hash(body), path, checkpoint.root
        ):
            problems.append(f"entry {entry['index']}: not in the log the checkpoint signs")
            continue
        parsed = json.loads(body)
        logged[(parsed["table"], parsed["ref"])] = parsed["row"]
    report = bundle["report"]
    seizure = logged.get(("inspection", str(report["id"])))
    if seizure is None:
        problems.append("the seizure itself has no log entry in the bundle")
    else:
        if seizure["outcome"] != "seized":
            problems.append(f"the log records outcome {seizure['outcome']!r}, not a seizure")
        for field, column in SEIZURE_FIELDS.items():
            if report.get(field) != seizure.get(column):
                problems.append(f"the report's {field} differs from the log's")
        if _time(report["seized_at"]) != _time(seizure["at"]):
            problems.append("the report's seizure time differs from the log's")
        scanned = logged.get(("scan", report["scan_id"]), {}).get("code")
        identity = f"(01){seizure['gtin']}(21){seizure['serial']}"
        if report["code"] != (scanned or identity):
            problems.append("the report's code differs from the log's")
    for scan in report["history"]:
        row = logged.get(("scan", scan["scan_id"]))
        if row is None:
            problems.append(f"scan {scan['scan_id']}: no log entry in the bundle")
            continue
        if scan["verdict"] != row["verdict"]:
            problems.append(f"scan {scan['scan_id']}: the report's verdict differs from the log's")
        if _time(scan["scanned_at"]) != _time(row["scanned_at"]):
            problems.append(f"scan {scan['scan_id']}: the report's time differs from the log's")
    seized_scan = logged.get(("scan", report["scan_id"]))
    if seized_scan is not None and seized_scan["verdict"] != report["verdict"]:
        problems.append("the report's verdict differs from the logged scan's")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m transparency.checker BUNDLE.json LOG-KEY.pem", file=sys.stderr)
        return 2
    try:
        bundle = json.loads(Path(args[0]).read_text(encoding="utf-8"))
        key = load_pem_public_key(Path(args[1]).read_bytes())
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not isinstance(key, Ed25519PublicKey):
        print("error: the log key is not an Ed25519 public key", file=sys.stderr)
        return 2
    problems = check(bundle, key)
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        return 1
    size = open_checkpoint(bundle["log"]["checkpoint"], bundle["log"]["key_name"], key).size
    print(f"OK: {len(bundle['entries'])} entries proved against a checkpoint of {size} entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
