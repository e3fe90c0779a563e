"""From the service's records to :func:`detection.assess`, and back to one outcome.

The service keeps its own records (:class:`CodeState`, :class:`ScanFacts`);
this module turns them into detection's validated inputs, merges the findings
detection cannot make (``CODE_DATA_MISMATCH``, the EPCIS aggregation and route
findings) and combines everything with the trust decision:

- trust ``counterfeit`` -> counterfeit, ``cannot_confirm`` -> unverifiable;
- trust ``genuine`` -> detection's verdict (authentic or suspect), the merged
  findings as reasons, detection's consumer sentence.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from authn.code import ProductCode
from authn.errors import InvalidInput
from detection import (
    CodeRecord,
    CodeStatus,
    DetectionSettings,
    Finding,
    Role,
    Scan,
    assess,
    risk_score,
)
from detection.model import CODE_STATUSES
from detection.verdict import (
    CONSUMER_EXPIRED,
    CONSUMER_RECALLED,
    CONSUMER_SUSPECT,
    SAFETY_MESSAGES,
)
from keys.trust import TrustDecision
from verifier.verification.rules import RuleInput, ScanFacts, code_data_mismatch
from verifier.verification.state import CodeState

log = logging.getLogger(__name__)

Verdict = str  # "authentic" | "suspect" | "counterfeit" | "unverifiable"

# The verifier's anonymous caller is detection's consumer.
ROLES: dict[str, Role] = {
    "anonymous": "consumer",
    "trade": "trade",
    "officer": "officer",
    "brand": "brand",
    "admin": "admin",
}
CURRENT_SCAN = "current-scan"  # the id of a scan that is judged but not recorded
MISMATCH_WEIGHT = 0.8
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}

# What a consumer is told when the trust layer decided; one sentence each, no detail.
CONSUMER_UNTRUSTED = {
    "counterfeit": (
        "NOT_GENUINE",
        "This code is not genuine. The product may be a counterfeit: do not use it, and tell "
        "the seller or the brand.",
    ),
    "unverifiable": (
        "CANNOT_CONFIRM",
        "This code cannot be confirmed right now. Try again later or contact the brand.",
    ),
}


@dataclass(frozen=True)
class Outcome:
    """The verdict of one scan and everything each kind of caller may be shown."""

    verdict: Verdict
    status: str
    trust: Finding  # the trust decision, as a finding (info when genuine)
    findings: tuple[Finding, ...]  # detection's and the merged ones, most serious first
    score: float  # risk score in [0, 1]
    consumer_code: str
    consumer_message: str

    @property
    def reasons(self) -> tuple[Finding, ...]:
        """What decided the verdict: the findings, or the trust decision when there are none."""
        if self.verdict in ("counterfeit", "unverifiable") or not self.findings:
            return (self.trust,)
        return self.findings


def trust_finding(decision: TrustDecision) -> Finding:
    if decision.outcome == "genuine":
        return Finding(decision.reason, "info", decision.message, 0.0)
    if decision.outcome == "counterfeit":
        return Finding(decision.reason, "critical", decision.message, 1.0)
    return Finding(decision.reason, "warning", decision.message, 0.5)


def untrusted_outcome(decision: TrustDecision) -> Outcome:
    """Counterfeit or unverifiable: the signature decided; no history is needed."""
    trust = trust_finding(decision)
    verdict = "counterfeit" if decision.outcome == "counterfeit" else "unverifiable"
    code, message = CONSUMER_UNTRUSTED[verdict]
    return Outcome(verdict, "unknown", trust, (), trust.weight, code, message)


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def detection_scan(facts: ScanFacts, *, scan_id: str) -> Scan:
    """A stored or current scan as detection sees it; unusable parts are dropped, not fatal."""
    role = ROLES.get(facts.role, "consumer")
    located = facts.lat is not None and facts.lon is not None
    fields = {
        "lat": facts.lat if located else None,
        "lon": facts.lon if located else None,
        "accuracy_m": facts.accuracy_m if located else None,
        "country": facts.country,
        "device_id": facts.device_id or None,
    }
    scanned_at = _aware(facts.scanned_at)
    received_at = _aware(facts.recorded_at or facts.scanned_at)
    try:
        return Scan(
            scan_id=scan_id, scanned_at=scanned_at, received_at=received_at, role=role,
            verdict_at_scan=facts.verdict, **fields,  # type: ignore[arg-type]
        )  # fmt: skip
    except InvalidInput:
        # A row written by an older client with a malformed country or location still counts
        # as a scan at its time; only the unusable details are left out.
        return Scan(
            scan_id=scan_id, scanned_at=scanned_at, received_at=received_at, role=role,
            device_id=facts.device_id or None, verdict_at_scan=facts.verdict,
        )  # fmt: skip


def detection_record(code: ProductCode, state: CodeState) -> CodeRecord:
    record = state.record
    expiry = code.expiry
    if record is None:
        return CodeRecord(gtin=code.gtin, serial=code.serial, registered=False, expiry=expiry)
    markets = frozenset(m for m in state.intended_markets or () if len(m) == 2 and m.isupper())
    status = record.status if record.status in CODE_STATUSES else "active"
    return CodeRecord(
        gtin=record.gtin, serial=record.serial, registered=True,
        status=cast(CodeStatus, status),
        lot=record.lot, expiry=expiry, registered_at=record.registered_at,
        status_changed_at=record.status_changed_at, lot_recalled=state.lot_status == "recalled",
        intended_markets=markets, thresholds=state.thresholds,
    )  # fmt: skip


def mismatch_findings(code: ProductCode, state: CodeState, scan: ScanFacts) -> list[Finding]:
    """``CODE_DATA_MISMATCH``: a genuine signature over data registered differently."""
    rule_input = RuleInput(
        code=code, scan=scan, record=state.record, lot_status=state.lot_status,
        intended_markets=state.intended_markets, recent=(),
    )  # fmt: skip
    return [
        Finding(f.code, "critical", f.message, MISMATCH_WEIGHT)
        for f in code_data_mismatch(rule_input)
    ]


def genuine_outcome(
    decision: TrustDecision,
    *,
    code: ProductCode,
    state: CodeState,
    scan: ScanFacts,
    status: str,
    extra: Sequence[Finding],
    settings: DetectionSettings,
    now: dt.datetime,
) -> Outcome:
    """Detection over the history (concurrent scans included), merged with ``extra``."""
    current_id = scan.scan_id or CURRENT_SCAN
    history = [detection_scan(s, scan_id=s.scan_id or CURRENT_SCAN) for s in state.recent]
    record = detection_record(code, state)
    assessment = assess(
        record, history, detection_scan(scan, scan_id=current_id), settings, now=now
    )
    extra = [*mismatch_findings(code, state, scan), *extra]
    findings = sorted(
        (*assessment.findings, *extra), key=lambda f: (_SEVERITY_RANK[f.severity], -f.weight)
    )
    score = risk_score(findings)
    threshold = settings.for_record(record).suspect_score
    suspect = assessment.verdict == "suspect" or (
        bool(extra) and (score >= threshold or any(f.severity == "critical" for f in extra))
    )
    message = assessment.consumer_message
    if suspect and message not in SAFETY_MESSAGES:
        message = CONSUMER_SUSPECT
    return Outcome(
        "suspect" if suspect else "authentic", status, trust_finding(decision), tuple(findings),
        score, _consumer_code(message, findings), message,
    )  # fmt: skip


def _consumer_code(message: str, findings: Sequence[Finding]) -> str:
    """A generic reason code; recall and expiry are safety facts a consumer is told."""
    if message == CONSUMER_SUSPECT:
        return "CHECK_ADVISED"
    if message == CONSUMER_RECALLED:
        reasons = {f.reason for f in findings}
        return "LOT_RECALLED" if "LOT_RECALLED" in reasons else "UNIT_RECALLED"
    if message == CONSUMER_EXPIRED:
        return "CODE_EXPIRED"
    return "GENUINE"
