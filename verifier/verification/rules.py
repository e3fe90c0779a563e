"""Registry-state facts and the rules that stay outside clone detection.

The service judges scans with :mod:`detection`; what is left here is
the registry's view of a unit (:class:`CodeFacts`, :class:`ScanFacts`, its
effective status), CODE_DATA_MISMATCH (a genuine signature over data the brand
registered differently), and the recall and expiry checks the officer's
offline verifier runs on its bundle. All pure: plain values in, findings out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from authn.code import ProductCode
from detection import expiry_date, is_expired

Severity = Literal["suspect", "info"]

ACTIVE = "active"
LOT_RECALLED_STATUS = "recalled"


@dataclass(frozen=True)
class Finding:
    """One observation; ``score`` (0-100) feeds the risk score officers see."""

    code: str
    message: str
    severity: Severity = "suspect"
    score: int = 50


@dataclass(frozen=True)
class CodeFacts:
    """The registry's record of a unit, as rules see it."""

    gtin: str
    serial: str
    lot: str | None
    expiry: str | None
    key_id: str
    batch_id: str
    brand_id: str
    registered_at: datetime
    status: str
    status_changed_at: datetime | None
    flagged_at: datetime | None = None  # flagged as cloned since then (None: not flagged)
    flag_reasons: str | None = None  # JSON list of the reason codes that flagged it
    flag_scan_id: str | None = None  # the scan that showed it


def stored_reasons(stored: str | None) -> list[str]:
    """A stored JSON list of reason codes (a scan's ``reasons``, a code's ``flag_reasons``);
    anything else, as an old or damaged row might hold, reads as none."""
    try:
        value = json.loads(stored or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


@dataclass(frozen=True)
class ScanFacts:
    """One scan: the current one, or one of the recent history."""

    scanned_at: datetime
    role: str
    device_id: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    verdict: str | None = None
    scan_id: str | None = None  # None: the current scan, when it is not recorded
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class RuleInput:
    code: ProductCode
    scan: ScanFacts
    record: CodeFacts | None
    lot_status: str | None
    intended_markets: tuple[str, ...] | None
    recent: tuple[ScanFacts, ...]  # newest first, bounded by the service's window


def effective_status_of(record: CodeFacts | None, lot_status: str | None, at: datetime) -> str:
    """The unit's status at ``at`` as callers see it: stored, or from its lot and expiry."""
    if record is None:
        return "unknown"
    if record.status != ACTIVE:
        return record.status
    if lot_status == LOT_RECALLED_STATUS:
        return "recalled"
    if record.expiry is not None and is_expired(record.expiry, at):
        return "expired"
    return ACTIVE


def lot_recalled(rule_input: RuleInput) -> Iterable[Finding]:
    if rule_input.lot_status == LOT_RECALLED_STATUS:
        yield Finding(
            "LOT_RECALLED",
            f"Lot {rule_input.code.lot} of this product has been recalled by the brand.",
            severity="info",  # a safety note: the unit is genuine (status: recalled)
            score=0,
        )


def code_expired(rule_input: RuleInput) -> Iterable[Finding]:
    expiry, at = rule_input.code.expiry, rule_input.scan.scanned_at
    if expiry is not None and is_expired(expiry, at):
        message = f"The product expired on {expiry_date(expiry, at.date()).isoformat()}."
        yield Finding("CODE_EXPIRED", message, severity="info", score=0)  # a safety note


def code_data_mismatch(rule_input: RuleInput) -> Iterable[Finding]:
    """A genuine signature over data the brand registered differently means a misused key."""
    record = rule_input.record
    if record is None:
        return
    code = rule_input.code
    if (record.lot, record.expiry, record.key_id) != (code.lot, code.expiry, code.key_id):
        yield Finding(
            "CODE_DATA_MISMATCH",
            "The code's lot, expiry or signing key differs from what the brand registered.",
            score=80,
        )
