"""A location shared after the page view re-judges that scan, in one transaction.

The consumer page judges a label's scan before the person can share where they are
(the browser asks for consent afterwards), so travel and concurrency had nothing to
compare. When the location arrives, the scan is judged again with it and with the
code's history as it stands now (scans recorded since included), by the same
:func:`verifier.verification.detect.genuine_outcome` the verify path uses, at the
scan's own time.

Only ever worse, never better: the new verdict is stored only when it is more
serious than the stored one. A later claim can raise suspicion, never lift it; a
griefer cannot clear a copy's suspect scan by sharing a harmless place. When the
verdict rises, the scan's reasons and stored answer change with it, the alerts its
findings warrant are raised, and the code-flag decision runs again
(:func:`verifier.verification.flags.scan_flag`, so anonymous evidence still flags
only under the independence rule). The scan row's update (location, verdict,
reasons) is a new transparency-log entry referring to the scan, in the same
transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from authn.errors import SealtraceError
from detection import Finding
from epcis.identifiers import unit_uri
from epcis.store import findings_for_scan
from verifier.alert_raising import AlertSubject, raise_batch_alerts
from verifier.db.models import Scan
from verifier.products import products_for
from verifier.schemas import VerdictName
from verifier.statuses import locate_scan
from verifier.verification.detect import genuine_outcome
from verifier.verification.flags import flag_codes, flag_finding, flag_state, scan_flag
from verifier.verification.parse import parse_code
from verifier.verification.rules import effective_status_of
from verifier.verification.service import Verifier
from verifier.verification.state import StateQuery, load_states, scan_facts
from verifier.verification.views import shape
from verifier.verification.writes import begin_scan_writes

# How serious a verdict is; a re-judgement only ever moves up this scale.
_RANK = {"authentic": 0, "suspect": 1, "unverifiable": 2, "counterfeit": 3}


@dataclass(frozen=True)
class Rejudged:
    """What the browser is told after sharing its location."""

    scan_id: str
    verdict: VerdictName
    changed: bool  # the verdict rose with the shared location
    consumer_code: str  # the generic reason code (CHECK_ADVISED, GENUINE, ...)
    consumer_message: str


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _stored_consumer_reason(row: Scan) -> tuple[str, str]:
    """The generic reason the scan's stored public answer gave."""
    try:
        reasons = json.loads(row.answer).get("reasons") or [{}]
        return str(reasons[0].get("code", "")), str(reasons[0].get("message", ""))
    except (ValueError, AttributeError, IndexError):
        return "", ""


def _unchanged(row: Scan) -> Rejudged:
    code, message = _stored_consumer_reason(row)
    verdict: VerdictName = row.verdict  # type: ignore[assignment]
    return Rejudged(row.scan_id, verdict, False, code, message)


def rejudge_with_location(
    session: Session,
    verifier: Verifier,
    scan_id: str,
    *,
    device_id: str,
    lat: float,
    lon: float,
    accuracy_m: float | None,
    window: timedelta,
    now: datetime,
) -> Rejudged:
    """Add the location to the browser's scan (as :func:`verifier.statuses.locate_scan`),
    judge the scan again with it, keep the worse verdict, commit. Raises as locate_scan."""
    # SQLite: the one write lock before any read; PostgreSQL: the code's lock before the
    # scan row is read, so two posts for one scan see each other (the second changes nothing).
    begin_scan_writes(session, [])
    identity = session.exec(
        select(Scan.gtin, Scan.serial).where(Scan.scan_id == scan_id[:36])
    ).first()
    if identity is not None:
        begin_scan_writes(session, [(identity[0], identity[1])])
    row = locate_scan(
        session, scan_id, device_id=device_id, lat=lat, lon=lon, accuracy_m=accuracy_m,
        window=window, now=now,
    )  # fmt: skip
    if row is None:
        # The location was shared before: nothing changes, the stored verdict stands.
        stored = session.exec(select(Scan).where(Scan.scan_id == scan_id[:36])).one()
        unchanged = _unchanged(stored)
        session.rollback()
        return unchanged
    # The location and the new verdict are one update of the row, so one log entry.
    with session.no_autoflush:
        result = _rejudge(session, verifier, row, now=now)
    session.commit()
    return result


def _rejudge(session: Session, verifier: Verifier, row: Scan, *, now: datetime) -> Rejudged:
    """Judge ``row`` (already carrying its new location) again; update it when worse."""
    if row.verdict not in ("authentic", "suspect") or row.code is None:
        return _unchanged(row)  # the signature decided; where it was scanned cannot matter
    try:
        code = parse_code(row.code)
    except SealtraceError:
        return _unchanged(row)
    at = _aware(row.recorded_at)
    scanned_at = _aware(row.scanned_at)
    history = timedelta(days=verifier.history_days)
    states = load_states(
        session, [StateQuery(code, since=scanned_at - history)],
        history_limit=verifier.history_limit,
    )  # fmt: skip
    stored_state = states[code.identity()]
    recent = tuple(s for s in stored_state.recent if s.scan_id != row.scan_id)
    state = replace(stored_state, recent=recent)
    trust_list = verifier.trust.current()
    registered_at = state.record.registered_at if state.record is not None else None
    decision = trust_list.evaluate(code, now=at, registered_at=registered_at, online=True)
    if decision.outcome != "genuine":
        return _unchanged(row)
    facts = scan_facts(row)
    flag = flag_finding(state.record, None)
    trace: list[Finding] = []
    if state.record is not None and row.country is not None:
        trace = findings_for_scan(
            session, unit_uri(state.record.gtin, state.record.serial),
            brand_id=state.record.brand_id, scan_country=row.country, now=scanned_at,
        )  # fmt: skip
    status = effective_status_of(state.record, state.lot_status, scanned_at)
    outcome = genuine_outcome(
        decision, code=code, state=state, scan=facts, status=status, extra=[*flag, *trace],
        settings=verifier.detection, now=at,
    )  # fmt: skip
    if _RANK[outcome.verdict] <= _RANK[row.verdict]:
        return _unchanged(row)  # never better, and the same verdict keeps its first reasons
    answer = shape(
        code=code, decision=decision, outcome=outcome, scanned_at=scanned_at,
        scan_id=row.scan_id, full=False, history=recent,
        flagged=flag_state(state.record, None, now=at),
        product=products_for(session, [code.gtin]).get(code.gtin),
    )  # fmt: skip
    row.verdict = outcome.verdict
    row.reasons = json.dumps([outcome.trust.reason, *(f.reason for f in outcome.findings)])
    row.answer = answer.model_dump_json()
    session.add(row)
    if state.record is not None and not flag:
        flagged = scan_flag(outcome.findings, facts, recent, verifier.detection)
        if flagged is not None:
            flag_codes(session, {code.identity(): flagged}, now=now)
    if outcome.findings:
        subject = AlertSubject(
            brand_id=decision.brand.id if decision.brand else None, gtin=code.gtin,
            serial=code.serial, key_id=decision.key_id, scan_id=row.scan_id,
            country=row.country, lot=state.record.lot if state.record is not None else code.lot,
        )  # fmt: skip
        raise_batch_alerts(session, [(subject, outcome.findings)], now=now)
    verdict: VerdictName = outcome.verdict  # type: ignore[assignment]
    return Rejudged(row.scan_id, verdict, True, outcome.consumer_code, outcome.consumer_message)
