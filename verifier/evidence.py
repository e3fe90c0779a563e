"""Seizure evidence: the report with every log entry behind it and their proofs.

The bundle holds the seizure report, a signed checkpoint, and for the seizure
itself and every scan in the report's history the log entry (its exact bytes)
with an inclusion proof against that checkpoint. ``python -m
transparency.checker`` verifies it with nothing but the bundle and the log's
public key: the checkpoint's signature, each proof, and that the report says
what the logged entries say.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlmodel import Session

from keys.trust import TrustList
from transparency import store
from verifier.accounts import Caller
from verifier.inspections import get_seizure
from verifier.log_service import LogService

EVIDENCE_FORMAT = "sealtrace/seizure-evidence/v1"
HOW_TO_VERIFY = (
    "Check this bundle offline with the log's public key (GET /v1/log/key on the verifier, "
    "or the key the registry publishes): python -m transparency.checker BUNDLE.json "
    "LOG-KEY.pem. It verifies the checkpoint's Ed25519 signature (C2SP signed note), "
    "each entry's RFC 9162 inclusion proof against the checkpoint's root, and that the "
    "report's seizure and scans are exactly what the log recorded."
)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def seizure_evidence(
    session: Session,
    caller: Caller,
    trust: TrustList,
    log: LogService,
    seizure_id: int,
    *,
    now: datetime,
) -> dict[str, Any]:
    report = get_seizure(session, caller, trust, seizure_id, now=now)
    connection = session.connection()
    checkpoint = log.checkpoint(connection, now)
    wanted = [("inspection", str(report.id))] + [("scan", s.scan_id) for s in report.history]
    entries: list[dict[str, Any]] = []
    for kind, ref in wanted:
        found = [
            (index, body)
            for index, body in store.entries_for(connection, kind, [ref])
            if index < checkpoint.size
        ]
        if not found:
            continue  # recorded before the log began, or after this checkpoint
        index, body = found[-1]
        _, path = store.inclusion_proof(connection, index, checkpoint.size)
        entries.append({"index": index, "body": body, "audit_path": [_b64(p) for p in path]})
    return {
        "format": EVIDENCE_FORMAT,
        "report": report.model_dump(mode="json"),
        "log": {
            "origin": log.origin,
            "key_name": log.key_name,
            "verifier_key": log.verifier_key(),
            "checkpoint": checkpoint.note,
        },
        "entries": entries,
        "how_to_verify": HOW_TO_VERIFY,
    }
