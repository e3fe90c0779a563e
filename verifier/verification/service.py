"""The verification pipeline: parse, trust, state, detection, verdict, record, alert.

Each step is bounded: an optional scan_id lookup, one insert claiming the scan, the
state queries of :mod:`verifier.verification.state`, the EPCIS trace of a registered
code scanned in a known country (a bounded number of queries, whatever the history),
and one update plus one upsert per alerting finding.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from authn.code import ProductCode
from authn.errors import Conflict, InvalidInput, PermissionDenied, ScanPending
from keys.trust import TrustDecision
from verifier.accounts import Caller, Role
from verifier.alerts import AlertSubject, raise_alerts
from verifier.api.schemas import VerifyIn, VerifyOut
from verifier.db.models import Scan
from verifier.detection import DetectionSettings, Finding
from verifier.epcis.identifiers import unit_uri
from verifier.epcis.store import findings_for_scan
from verifier.registry import caller_owns
from verifier.settings import Clock
from verifier.trust import TrustStore
from verifier.verification.detect import (
    Outcome,
    genuine_outcome,
    trust_finding,
    untrusted_outcome,
)
from verifier.verification.parse import parse_code
from verifier.verification.rules import ScanFacts, effective_status_of
from verifier.verification.state import CodeState, load_state
from verifier.verification.views import coarse_position, shape

log = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(days=1)  # device clocks drift; a scan a day ahead is a bad clock
PENDING = "pending"  # a claimed scan whose verdict is being computed


class Verifier:
    def __init__(
        self,
        trust: TrustStore,
        *,
        clock: Clock,
        history_limit: int,
        history_days: int,
        detection: DetectionSettings | None = None,
    ) -> None:
        self.trust = trust
        self.clock = clock
        self.history_limit = history_limit
        self.history_days = history_days
        self.detection = detection or DetectionSettings()

    def verify(self, session: Session, caller: Caller, request: VerifyIn) -> VerifyOut:
        if not request.record and caller.role is not Role.OFFICER:
            raise PermissionDenied("only customs officers may verify without recording the scan")
        now = self.clock()
        code = parse_code(request.code)
        scanned_at = self._scanned_at(request, now)
        self.trust.refresh(session)
        trust_list = self.trust.current()
        location = request.location
        scan = ScanFacts(
            scanned_at=scanned_at,
            role=caller.role.value,
            device_id=request.device_id,
            country=request.country,
            lat=location.lat if location else None,
            lon=location.lon if location else None,
            accuracy_m=location.accuracy_m if location else None,
            scan_id=str(request.scan_id or uuid4()) if request.record else None,
            recorded_at=now,
        )
        row: Scan | None = None
        if scan.scan_id is not None:
            # Claim (commit) the scan before reading the history, so that two concurrent scans
            # of one code on different workers see each other (at least the later one does).
            claimed = self._claim(session, caller, code, scan, given=request.scan_id is not None)
            if isinstance(claimed, VerifyOut):
                return claimed
            row = claimed

        state = load_state(
            session,
            code,
            now=scanned_at,
            history_limit=self.history_limit,
            history_days=self.history_days,
        )
        recent = tuple(s for s in state.recent if s.scan_id != scan.scan_id)
        registered_at = state.record.registered_at if state.record is not None else None
        decision = trust_list.evaluate(code, now=now, registered_at=registered_at, online=True)
        if decision.outcome == "genuine":
            status = effective_status_of(state.record, state.lot_status, scanned_at.date())
            outcome = genuine_outcome(
                decision, code=code, state=state, scan=scan, status=status,
                extra=self._trace_findings(session, state, scan), settings=self.detection,
                now=now,
            )  # fmt: skip
        else:
            outcome = untrusted_outcome(decision)
        full = caller.is_privileged or caller_owns(caller, trust_list, code.gtin)
        answer = shape(
            code=code, decision=decision, outcome=outcome, scanned_at=scanned_at,
            scan_id=scan.scan_id, full=full, history=recent,
        )  # fmt: skip
        log.info(
            "verify gtin=%s serial=%s role=%s verdict=%s reasons=%s",
            code.gtin, code.serial, caller.role.value, outcome.verdict,
            ",".join(f.reason for f in outcome.findings),
        )  # fmt: skip
        if row is not None:
            self._complete(session, row, code, scan, now, decision, outcome, answer)
        return answer

    @staticmethod
    def _trace_findings(session: Session, state: CodeState, scan: ScanFacts) -> Sequence[Finding]:
        """The EPCIS aggregation and route findings: registered codes scanned in a country."""
        if state.record is None or scan.country is None:
            return []
        return findings_for_scan(
            session,
            unit_uri(state.record.gtin, state.record.serial),
            brand_id=state.record.brand_id,
            scan_country=scan.country,
            now=scan.scanned_at,
        )

    def verify_only(self, caller: Caller, request: VerifyIn) -> VerifyOut:
        """Signature and trust list only: no registry, no history, nothing recorded."""
        now = self.clock()
        code = parse_code(request.code)
        scanned_at = self._scanned_at(request, now)
        trust_list = self.trust.current()
        decision = trust_list.evaluate(code, now=now, registered_at=None, online=True)
        if decision.outcome == "genuine":
            outcome = Outcome(
                "authentic", "unknown", trust_finding(decision), (), 0.0, "GENUINE",
                "This is a genuine product, registered by its brand.",
            )  # fmt: skip
        else:
            outcome = untrusted_outcome(decision)
        full = caller.is_privileged or caller_owns(caller, trust_list, code.gtin)
        return shape(
            code=code, decision=decision, outcome=outcome, scanned_at=scanned_at,
            scan_id=None, full=full, history=None,
        )  # fmt: skip

    @staticmethod
    def _scanned_at(request: VerifyIn, now: datetime) -> datetime:
        if request.scanned_at is None:
            return now
        scanned_at = request.scanned_at.astimezone(UTC)
        if scanned_at > now + FUTURE_TOLERANCE:
            raise InvalidInput("scanned_at lies in the future; check the device clock")
        return scanned_at

    @staticmethod
    def _replay(stored: Scan, caller: Caller, code: ProductCode) -> VerifyOut:
        if (
            stored.gtin,
            stored.serial,
        ) != code.identity() or stored.account_id != caller.account_id:
            raise Conflict("this scan_id was already used for another scan")
        if not stored.answer:
            raise ScanPending("this scan is still being verified; retry in a moment")
        return VerifyOut.model_validate_json(stored.answer)

    def _claim(
        self, session: Session, caller: Caller, code: ProductCode, scan: ScanFacts, *, given: bool
    ) -> Scan | VerifyOut:
        """Insert the scan as pending; a scan_id seen before gives its stored answer instead."""
        if scan.scan_id is None or scan.recorded_at is None:
            raise ValueError("only a recorded scan (with scan_id and recorded_at) is claimed")
        if given:
            stored = session.exec(select(Scan).where(Scan.scan_id == scan.scan_id)).first()
            if stored is not None:
                return self._replay(stored, caller, code)
        lat, lon, accuracy = scan.lat, scan.lon, scan.accuracy_m
        if caller.role is Role.ANONYMOUS and lat is not None and lon is not None:
            # Consumers' exact whereabouts are not ours to keep.
            lat, lon, accuracy = coarse_position(lat, lon, accuracy)
        row = Scan(
            scan_id=scan.scan_id, gtin=code.gtin, serial=code.serial,
            scanned_at=scan.scanned_at, recorded_at=scan.recorded_at, role=scan.role,
            account_id=caller.account_id, device_id=scan.device_id, country=scan.country,
            lat=lat, lon=lon, accuracy_m=accuracy, verdict=PENDING, reasons="[]", answer="",
        )  # fmt: skip
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # the same scan_id won a race on another worker
            session.rollback()
            stored = session.exec(select(Scan).where(Scan.scan_id == scan.scan_id)).first()
            if stored is None:
                raise
            return self._replay(stored, caller, code)
        return row

    @staticmethod
    def _complete(
        session: Session,
        row: Scan,
        code: ProductCode,
        scan: ScanFacts,
        now: datetime,
        decision: TrustDecision,
        outcome: Outcome,
        answer: VerifyOut,
    ) -> None:
        """Store the verdict and answer on the claimed scan, and raise the alerts due."""
        row.verdict = outcome.verdict
        # Every reason code, the trust decision's first, as officers see them.
        row.reasons = json.dumps([outcome.trust.reason, *(f.reason for f in outcome.findings)])
        row.answer = answer.model_dump_json()
        session.add(row)
        if outcome.findings:
            subject = AlertSubject(
                brand_id=decision.brand.id if decision.brand else None, gtin=code.gtin,
                serial=code.serial, key_id=decision.key_id, scan_id=scan.scan_id,
                country=scan.country,
            )  # fmt: skip
            raise_alerts(session, subject, outcome.findings, now=now)
        session.commit()
