"""A code flagged as cloned: set with the scan that showed it, told in every answer, resolved.

detection.flagging decides when one recorded scan's findings flag the code;
this module keeps that state on the code's row, in the same transaction as the
scan (so no flag exists without the logged scan that caused it), turns it into
the finding every later answer carries, and lets the owning brand, an officer or
an admin resolve it, with an audit event (which the transparency log records).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Table, and_, bindparam, update
from sqlmodel import Session

from authn.errors import Conflict
from detection import DetectionSettings, Finding
from detection.flagging import (
    CODE_FLAGGED,
    INDEPENDENT_SOURCES,
    flag_evidence,
    independent_sources,
    is_clone_sign,
)
from keys.trust import TrustList
from verifier.accounts import Caller
from verifier.db.models import AuditEvent, CodeRecord
from verifier.registry import account_id_of, gtin14, require_reader
from verifier.schemas import FlagOut, FlagResolutionOut
from verifier.statuses import load_code_for_update
from verifier.verification.detect import ROLES, detection_scan
from verifier.verification.rules import CodeFacts, ScanFacts, stored_reasons

FLAGGED = "code.flagged"
FLAG_RESOLVED = "code.flag_resolved"
FLAG_WEIGHT = 1.0
_CODE: Table = CodeRecord.__table__  # type: ignore[attr-defined]

Identity = tuple[str, str]


def flag_finding(
    record: CodeFacts | None, flagged_in_batch: tuple[str, tuple[str, ...]] | None
) -> list[Finding]:
    """The finding that says the code is flagged, or none: it makes every answer suspect."""
    if record is None:
        return []
    if record.flagged_at is not None:
        since = record.flagged_at.strftime("%Y-%m-%d %H:%M UTC")
        why, scan_id = stored_reasons(record.flag_reasons), record.flag_scan_id
    elif flagged_in_batch is not None:
        since, (scan_id, reasons) = "a moment ago", flagged_in_batch
        why = list(reasons)
    else:
        return []
    who = (
        "consumers on independent networks too far apart to be one item"
        if INDEPENDENT_SOURCES in why
        else "accountable parties"
    )
    message = (
        f"Flagged as cloned since {since} ({', '.join(why) or 'clone findings'}): two items "
        f"carrying this code were scanned by {who}. Hold the goods and contact "
        "the right holder; the brand or an officer resolves the flag."
    )
    related = (scan_id,) if scan_id else ()
    return [Finding(CODE_FLAGGED, "critical", message, FLAG_WEIGHT, related)]


def scan_flag(
    findings: Sequence[Finding],
    scan: ScanFacts,
    recent: Sequence[ScanFacts],
    settings: DetectionSettings,
) -> tuple[str, tuple[str, ...]] | None:
    """(scan_id, reasons) when this recorded scan's findings flag its code, else None:
    two accountable scans behind a critical clone finding, or, for a clone sign from
    anonymous page views, the independence rule (detection.flagging)."""
    assert scan.scan_id is not None
    if not any(is_clone_sign(f) for f in findings):
        return None  # the common case: no roles map to build for every scan
    evidence = flag_evidence(
        findings,
        scan_id=scan.scan_id,
        scan_role=ROLES.get(scan.role, "consumer"),
        history_roles={s.scan_id: ROLES.get(s.role, "consumer") for s in recent if s.scan_id},
    )
    if evidence is not None:
        return scan.scan_id, evidence.reasons
    history = [detection_scan(s, scan_id=s.scan_id) for s in recent if s.scan_id]
    sources = independent_sources(history, detection_scan(scan, scan_id=scan.scan_id), settings)
    if sources is None:
        return None
    signs = tuple(dict.fromkeys(f.reason for f in findings if is_clone_sign(f)))
    return scan.scan_id, (*signs, INDEPENDENT_SOURCES)


def flag_state(
    record: CodeFacts | None,
    flagged_in_batch: tuple[str, tuple[str, ...]] | None,
    *,
    now: datetime,
) -> FlagOut | None:
    """The code's flag as the full view shows it (when, why, which scan), or None."""
    if record is not None and record.flagged_at is not None:
        return FlagOut(
            since=record.flagged_at,
            reasons=stored_reasons(record.flag_reasons),
            scan_id=record.flag_scan_id,
        )
    if record is not None and flagged_in_batch is not None:
        scan_id, reasons = flagged_in_batch
        return FlagOut(since=now, reasons=list(reasons), scan_id=scan_id)
    return None


def flag_codes(
    session: Session, flags: Mapping[Identity, tuple[str, tuple[str, ...]]], *, now: datetime
) -> None:
    """Flag these codes (the scan that showed it, its reasons) unless already flagged.

    Each flag writes a ``code.flagged`` audit event (the transparency log records it, and
    the offline bundle's version moves with it). Flags are rare, so one statement each.
    """
    statement = (
        update(_CODE)
        .where(
            and_(
                _CODE.c.gtin == bindparam("g"),
                _CODE.c.serial == bindparam("s"),
                _CODE.c.flagged_at.is_(None),
            )
        )
        .values(flagged_at=now, flag_reasons=bindparam("r"), flag_scan_id=bindparam("i"))
    )
    for (gtin, serial), (scan_id, reasons) in sorted(flags.items()):
        why = json.dumps(list(reasons))
        result = session.execute(statement, {"g": gtin, "s": serial, "r": why, "i": scan_id})
        if result.rowcount:  # type: ignore[attr-defined]
            session.add(
                AuditEvent(
                    at=now, action=FLAGGED, gtin=gtin, serial=serial, after=why,
                    comment=f"scan {scan_id}",
                )
            )  # fmt: skip


def resolve_flag(
    session: Session,
    caller: Caller,
    trust: TrustList,
    gtin: str,
    serial: str,
    comment: str,
    *,
    now: datetime,
) -> FlagResolutionOut:
    """Clear a code's flag: the owning brand, an officer or an admin, with a comment, audited."""
    gtin = gtin14(gtin)
    require_reader(caller, trust, gtin)  # brand: own GTINs only (else 404); officers, admins
    record = load_code_for_update(session, gtin, serial)
    if record.flagged_at is None:
        raise Conflict("this code is not flagged")
    flagged_at, reasons = record.flagged_at, record.flag_reasons or "[]"
    before = json.dumps({"flagged_at": flagged_at.isoformat(), "reasons": json.loads(reasons),
                         "scan_id": record.flag_scan_id})  # fmt: skip
    record.flagged_at, record.flag_reasons, record.flag_scan_id = None, None, None
    record.flag_resolved_at = now
    session.add(record)
    session.add(
        AuditEvent(
            at=now, account_id=account_id_of(caller), action=FLAG_RESOLVED, gtin=gtin,
            serial=serial, before=before, after="resolved", comment=comment,
        )
    )  # fmt: skip
    session.commit()
    return FlagResolutionOut(
        gtin=gtin, serial=serial, flagged_at=flagged_at, resolved_at=now, comment=comment
    )
