"""The verification pipeline: parse, trust, state, detection, verdict, record, alert.

A request is first *prepared* (permission, parse, times, the Ed25519 check: no
I/O), then *judged*. :meth:`Verifier.judge` takes a batch of prepared scans and
does, in one transaction and with one commit, in a number of statements that
does not grow with the batch's size:

1. look up the client-chosen scan_ids (a repeat gets its stored answer);
2. load every code's state in two or three statements (:func:`load_states`);
3. make each scan's trust decision, then read the EPCIS route findings of
   the genuine registered codes scanned in a country, for the whole batch at
   once (:func:`epcis.findings.findings_for_scans`);
4. judge each scan in order, in memory; a scan sees the batch's earlier
   scans of its code as part of its history;
5. take the per-code locks (:mod:`verifier.verification.writes`), so that
   scans of one code on different workers see each other, and judge again
   only if another worker stored a scan of one of the codes meanwhile;
6. insert the finished scans with one ``executemany``, upsert the alerts
   due and queue their webhook events (two statements each at most).

On PostgreSQL the statements of a step that need no answer from each other go in
one round trip (:mod:`storage.pipeline`): step 2 with the product data and image
URLs, step 5's locks with the re-read that follows them, the alerts' upsert with
the read of their brands' webhooks (and, at commit, the log's entries with its head).

The HTTP route batches concurrent requests through
:class:`verifier.verification.recorder.ScanRecorder` (group commit); every
other caller judges a batch of one with :meth:`Verifier.verify`.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlmodel import Session, col, select

from authn.code import ProductCode
from authn.errors import Conflict, InvalidInput, PermissionDenied, SealtraceError
from authn.signing import SignatureCheck
from detection import DetectionSettings, Finding
from epcis.findings import RouteQuestion, findings_for_scans
from epcis.identifiers import unit_uri
from keys.trust import TrustDecision, TrustList
from verifier.accounts import Caller, Role
from verifier.alert_raising import SIGNATURE_FAILURES, AlertSubject, raise_batch_alerts
from verifier.db.models import Product, Scan
from verifier.product_images import image_urls_from, image_urls_step
from verifier.products import products_from, products_step
from verifier.registry import caller_owns
from verifier.schemas import VerifyIn, VerifyOut
from verifier.settings import Clock
from verifier.trust import TrustStore
from verifier.verification.detect import (
    Outcome,
    genuine_outcome,
    trust_finding,
    untrusted_outcome,
)
from verifier.verification.flags import flag_codes, flag_finding, flag_state, scan_flag
from verifier.verification.parse import parse_code
from verifier.verification.rules import ScanFacts, effective_status_of
from verifier.verification.state import (
    CodeState,
    Identity,
    StateQuery,
    load_states_and,
    recent_ids_from,
    recent_ids_step,
)
from verifier.verification.views import coarse_position, shape
from verifier.verification.writes import begin_scan_writes, insert_scans

log = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(days=1)  # device clocks drift; a scan a day ahead is a bad clock


@dataclass(frozen=True)
class ScanJob:
    """A verify request checked and parsed, ready to be judged (and recorded)."""

    caller: Caller
    code: ProductCode
    scan: ScanFacts  # scan_id None: judged but not recorded
    given_scan_id: bool  # the client chose the scan_id, so it may be a repeat
    # The Ed25519 check, done while preparing (outside the batch's locks), and the trust
    # list it was done against: a list replaced meanwhile means checking again.
    signature: SignatureCheck | None = None
    checked_by: TrustList | None = None
    # The request's context (its request id for the logs), for judging in the writer thread.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)

    @property
    def records(self) -> bool:
        return self.scan.scan_id is not None


# What judging one job gives: the answer, or the error that request gets.
JobResult = VerifyOut | Exception


@dataclass
class _Batch:
    """A batch judged on one reading of the state: what it read and what it would write."""

    queries: list[StateQuery]
    stored: dict[str, Scan]  # the client-chosen scan_ids already stored
    products: dict[str, Product]  # the brands' product data of the batch's GTINs
    images: dict[str, str]  # the URLs of their uploaded images
    seen: dict[Identity, frozenset[str]]  # the recent scan_ids read per code
    results: list[JobResult] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[tuple[str, AlertSubject, tuple[Finding, ...]]] = field(default_factory=list)
    judged: dict[Identity, list[ScanFacts]] = field(default_factory=dict)  # as stored, per code
    answered: dict[str, tuple[ScanJob, VerifyOut]] = field(default_factory=dict)  # by scan_id
    judged_outcomes: list[tuple[ScanJob, Outcome]] = field(default_factory=list)
    # Codes this batch flags as cloned: (scan_id that showed it, reasons), per code.
    flags: dict[Identity, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


def _seen(states: dict[Identity, CodeState]) -> dict[Identity, frozenset[str]]:
    return {identity: state.window_ids for identity, state in states.items() if state.window_ids}


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

    # -- preparing: no I/O -------------------------------------------------------------------

    def prepare(self, caller: Caller, request: VerifyIn) -> ScanJob:
        """Check and parse a request; raises :class:`SealtraceError` for a bad one."""
        if not request.record and caller.role is not Role.OFFICER:
            raise PermissionDenied("only customs officers may verify without recording the scan")
        now = self.clock()
        code = parse_code(request.code)
        location = request.location
        scan = ScanFacts(
            scanned_at=self._scanned_at(request, now),
            role=caller.role.value,
            device_id=request.device_id,
            country=request.country,
            lat=location.lat if location else None,
            lon=location.lon if location else None,
            accuracy_m=location.accuracy_m if location else None,
            scan_id=str(request.scan_id or uuid4()) if request.record else None,
            recorded_at=now,
        )
        trust_list = self.trust.current()
        return ScanJob(
            caller, code, scan, given_scan_id=request.scan_id is not None,
            signature=trust_list.signature_check(code), checked_by=trust_list,
        )  # fmt: skip

    # -- judging -------------------------------------------------------------------------------

    def verify(self, session: Session, caller: Caller, request: VerifyIn) -> VerifyOut:
        """Judge (and record) one request in its own transaction."""
        result = self.judge(session, [self.prepare(caller, request)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def judge(self, session: Session, jobs: Sequence[ScanJob]) -> list[JobResult]:
        """Judge ``jobs`` in order and record those that record, with one commit.

        Optimistic: the batch is judged on state read without locks, then the codes are
        locked and their recent scans read again; only if another transaction recorded a
        scan of one of them meanwhile is the batch judged again, under the locks. Locks
        are so held for two short statements, not for the judging, and scans of the same
        codes on other workers wait only that long.

        An error of one job (a repeated scan_id used for another code, say) is that job's
        result; an error of the database fails the whole batch and is raised, with nothing
        stored.
        """
        now = self.clock()
        self.trust.refresh(session)
        trust_list = self.trust.current()
        batch = self._judge_all(session, jobs, trust_list, now)
        recording = [job.code.identity() for job in jobs if job.records]
        if not recording:
            session.rollback()  # nothing to write; end the read transaction
            return batch.results
        # The locks, then (in the same round trip on PostgreSQL) which scans are there now.
        seen_now = recent_ids_from(
            begin_scan_writes(
                session, recording,
                then=recent_ids_step(session, batch.queries, history_limit=self.history_limit),
            )
        )  # fmt: skip
        if seen_now != batch.seen:
            batch = self._judge_all(session, jobs, trust_list, now)  # under the locks now
        inserted = insert_scans(session, batch.rows)
        results = batch.results
        taken = [
            i for i, job in enumerate(jobs)
            if job.scan.scan_id is not None and not isinstance(results[i], Exception)
            and job.scan.scan_id not in inserted and job.scan.scan_id not in batch.stored
        ]  # fmt: skip
        if taken:
            # Stored meanwhile by a transaction the code locks did not order against ours
            # (the same scan_id sent for another code, or scanned outside the history window).
            stored = self._stored_scans(session, (jobs[i].scan.scan_id for i in taken))
            for i in taken:
                results[i] = self._late_repeat(jobs[i], stored)
        flag_codes(
            session,
            {identity: flag for identity, flag in batch.flags.items() if flag[0] in inserted},
            now=now,
        )
        raise_batch_alerts(
            session,
            [(subject, findings) for scan_id, subject, findings in batch.alerts
             if scan_id in inserted],
            now=now,
        )  # fmt: skip
        session.commit()
        for job, outcome in batch.judged_outcomes:
            if job.scan.scan_id is None or job.scan.scan_id in inserted:
                job.context.run(self._log, job, outcome)
        return results

    def _judge_all(
        self, session: Session, jobs: Sequence[ScanJob], trust_list: TrustList, now: datetime
    ) -> _Batch:
        """Read the state of the jobs' codes and judge every job on it, in order; no writes."""
        stored = self._stored_scans(session, (j.scan.scan_id for j in jobs if j.given_scan_id))
        history = timedelta(days=self.history_days)
        queries = [StateQuery(job.code, since=job.scan.scanned_at - history) for job in jobs]
        gtins = {job.code.gtin for job in jobs}
        dialect = session.get_bind().dialect.name
        # The product data and image URLs need nothing from the state: read in the same
        # pipeline as the code rows and histories (one round trip on PostgreSQL).
        states, (products, images) = load_states_and(
            session, queries, history_limit=self.history_limit,
            also=[products_step(dialect, gtins), image_urls_step(dialect, gtins)],
        )  # fmt: skip
        batch = _Batch(
            queries=queries, stored=stored, products=products_from(products),
            images=image_urls_from(images), seen=_seen(states),
        )  # fmt: skip
        decisions = self._decisions(jobs, states, stored, trust_list, now)
        routes = self._route_findings(session, jobs, states, decisions)
        for index, job in enumerate(jobs):
            try:
                repeat = self._repeat(job, stored, batch)
                if repeat is not None:
                    batch.results.append(repeat)
                    continue
                state = states[job.code.identity()]
                batch.results.append(
                    job.context.run(
                        self._judge_one, job, state, trust_list, batch, now,
                        decisions.get(index), routes.get(index, ()),
                    )
                )  # fmt: skip
            except SealtraceError as exc:
                batch.results.append(exc)
            except Exception as exc:  # a bug must cost one answer, not the whole batch's
                log.exception("judging scan %s failed", job.scan.scan_id)
                batch.results.append(exc)
        return batch

    @staticmethod
    def _stored_answer(job: ScanJob, row: Scan) -> VerifyOut:
        """The answer stored for ``job``'s scan_id: only the same caller's scan of the same code."""
        if (row.gtin, row.serial) != job.code.identity() or row.account_id != job.caller.account_id:
            raise Conflict("this scan_id was already used for another scan")
        return VerifyOut.model_validate_json(row.answer)

    def _late_repeat(self, job: ScanJob, stored: dict[str, Scan]) -> JobResult:
        row = stored.get(job.scan.scan_id or "")
        if row is None:
            return Conflict("this scan_id was already used for another scan")
        try:
            return self._stored_answer(job, row)
        except Conflict as exc:
            return exc

    @staticmethod
    def _log(job: ScanJob, outcome: Outcome) -> None:
        log.info(
            "verify gtin=%s serial=%s role=%s verdict=%s reasons=%s",
            job.code.gtin, job.code.serial, job.caller.role.value, outcome.verdict,
            ",".join(f.reason for f in outcome.findings),
        )  # fmt: skip

    def _repeat(self, job: ScanJob, stored: dict[str, Scan], batch: _Batch) -> VerifyOut | None:
        """The stored answer when ``job`` repeats a scan_id; None for a new scan."""
        scan_id = job.scan.scan_id
        if not job.given_scan_id or scan_id is None:
            return None
        if scan_id in batch.answered:
            first, answer = batch.answered[scan_id]
            same = (first.code.identity(), first.caller.account_id)
            if same != (job.code.identity(), job.caller.account_id):
                raise Conflict("this scan_id was already used for another scan")
            return answer
        row = stored.get(scan_id)
        return None if row is None else self._stored_answer(job, row)

    def _decisions(
        self,
        jobs: Sequence[ScanJob],
        states: dict[Identity, CodeState],
        stored: dict[str, Scan],
        trust_list: TrustList,
        now: datetime,
    ) -> dict[int, TrustDecision | Exception]:
        """Each new scan's trust decision (by position), made once, before the batch's reads
        that only a genuine code needs; an error is that job's, raised in its own turn."""
        decisions: dict[int, TrustDecision | Exception] = {}
        for index, job in enumerate(jobs):
            if job.given_scan_id and job.scan.scan_id in stored:
                continue  # a repeat: its stored answer is given back, nothing is judged
            record = states[job.code.identity()].record
            signature = job.signature if job.checked_by is trust_list else None
            try:
                decisions[index] = trust_list.evaluate(
                    job.code, now=now, registered_at=record.registered_at if record else None,
                    online=True, signature=signature,
                )  # fmt: skip
            except Exception as exc:
                decisions[index] = exc
        return decisions

    @staticmethod
    def _route_findings(
        session: Session,
        jobs: Sequence[ScanJob],
        states: dict[Identity, CodeState],
        decisions: dict[int, TrustDecision | Exception],
    ) -> dict[int, list[Finding]]:
        """The EPCIS aggregation and route findings of the batch's genuine registered codes
        scanned in a country, read for the whole batch at once (:mod:`epcis.findings`)."""
        asked: list[tuple[int, RouteQuestion]] = []
        for index, decision in decisions.items():
            job = jobs[index]
            record = states[job.code.identity()].record
            if (
                isinstance(decision, Exception)
                or decision.outcome != "genuine"
                or record is None
                or job.scan.country is None
            ):
                continue
            question = RouteQuestion(
                unit_uri(record.gtin, record.serial), brand_id=record.brand_id,  # the key
                scan_country=job.scan.country, now=job.scan.scanned_at,
            )  # fmt: skip
            asked.append((index, question))
        found = findings_for_scans(session, [question for _, question in asked])
        return {index: findings for (index, _), findings in zip(asked, found, strict=True)}

    def _judge_one(
        self,
        job: ScanJob,
        stored_state: CodeState,
        trust_list: TrustList,
        batch: _Batch,
        now: datetime,
        decision: TrustDecision | Exception | None,
        route: Sequence[Finding],
    ) -> VerifyOut:
        code, scan, caller = job.code, job.scan, job.caller
        earlier = batch.judged.get(code.identity(), [])
        recent = tuple(
            sorted(
                (s for s in (*stored_state.recent, *earlier) if s.scan_id != scan.scan_id),
                key=lambda s: s.scanned_at,
                reverse=True,
            )[: self.history_limit]
        )
        state = replace(stored_state, recent=recent)
        if isinstance(decision, Exception):
            raise decision
        if decision is None:
            registered_at = state.record.registered_at if state.record is not None else None
            signature = job.signature if job.checked_by is trust_list else None
            decision = trust_list.evaluate(
                code, now=now, registered_at=registered_at, online=True, signature=signature
            )
        if decision.outcome == "genuine":
            status = effective_status_of(state.record, state.lot_status, scan.scanned_at)
            flag = flag_finding(state.record, batch.flags.get(code.identity()))
            outcome = genuine_outcome(
                decision, code=code, state=state, scan=scan, status=status,
                extra=[*flag, *route],
                settings=self.detection, now=now,
            )  # fmt: skip
            if job.records and state.record is not None and not flag:
                self._maybe_flag(batch, job, outcome, recent)
        else:
            outcome = untrusted_outcome(decision)
        full = caller.is_privileged or caller_owns(caller, trust_list, code.gtin)
        answer = shape(
            code=code, decision=decision, outcome=outcome, scanned_at=scan.scanned_at,
            scan_id=scan.scan_id, full=full, history=recent,
            flagged=flag_state(state.record, batch.flags.get(code.identity()), now=now),
            product=batch.products.get(code.gtin), image=batch.images.get(code.gtin),
        )  # fmt: skip
        batch.judged_outcomes.append((job, outcome))
        if job.records:
            self._add_to_batch(batch, job, decision, outcome, answer)
            self._add_alerts(batch, job, decision, outcome, state, trust_list)
        return answer

    def _maybe_flag(
        self, batch: _Batch, job: ScanJob, outcome: Outcome, recent: Sequence[ScanFacts]
    ) -> None:
        """Flag the code when this recorded scan's findings show two items (detection.flagging)."""
        assert job.scan.scan_id is not None
        flag = scan_flag(outcome.findings, job.scan, recent, self.detection)
        if flag is not None:
            batch.flags[job.code.identity()] = flag

    @staticmethod
    def _add_to_batch(
        batch: _Batch, job: ScanJob, decision: TrustDecision, outcome: Outcome, answer: VerifyOut
    ) -> None:
        """The scan as it will be stored, and the alerts it raises."""
        code, scan = job.code, job.scan
        assert scan.scan_id is not None
        assert scan.recorded_at is not None
        lat, lon, accuracy = scan.lat, scan.lon, scan.accuracy_m
        if job.caller.role is Role.ANONYMOUS and lat is not None and lon is not None:
            # Consumers' exact whereabouts are not ours to keep.
            lat, lon, accuracy = coarse_position(lat, lon, accuracy)
        stored = replace(scan, lat=lat, lon=lon, accuracy_m=accuracy, verdict=outcome.verdict)
        batch.judged.setdefault(code.identity(), []).append(stored)
        batch.answered[scan.scan_id] = (job, answer)
        batch.rows.append(
            {
                "scan_id": scan.scan_id, "gtin": code.gtin, "serial": code.serial,
                "scanned_at": scan.scanned_at, "recorded_at": scan.recorded_at,
                "role": scan.role, "account_id": job.caller.account_id,
                "device_id": scan.device_id, "country": scan.country, "lat": lat, "lon": lon,
                "accuracy_m": accuracy, "verdict": outcome.verdict,
                # Every reason code, the trust decision's first, as officers see them.
                "reasons": json.dumps(
                    [outcome.trust.reason, *(f.reason for f in outcome.findings)]
                ),
                "answer": answer.model_dump_json(),
                "code": code.bracketed(),
            }
        )  # fmt: skip

    @staticmethod
    def _add_alerts(
        batch: _Batch,
        job: ScanJob,
        decision: TrustDecision,
        outcome: Outcome,
        state: CodeState,
        trust_list: TrustList,
    ) -> None:
        """The alerts the scan raises: its findings, or its failed signature.

        A code failing the signature alerts the brand owning the GTIN's prefix (the one
        imitated), whoever's key it names; a code of no enrolled brand alerts nobody."""
        code, scan = job.code, job.scan
        assert scan.scan_id is not None
        findings = outcome.findings
        brand = decision.brand
        if outcome.verdict == "counterfeit" and outcome.trust.reason in SIGNATURE_FAILURES:
            brand = trust_list.brand_owning(code.gtin)
            findings = (outcome.trust,) if brand is not None else ()
        if not findings:
            return
        subject = AlertSubject(
            brand_id=brand.id if brand else None, gtin=code.gtin, serial=code.serial,
            key_id=decision.key_id, scan_id=scan.scan_id, country=scan.country,
            lot=state.record.lot if state.record is not None else code.lot,
        )  # fmt: skip
        batch.alerts.append((scan.scan_id, subject, findings))

    @staticmethod
    def _stored_scans(session: Session, scan_ids: Iterable[str | None]) -> dict[str, Scan]:
        wanted = sorted({s for s in scan_ids if s is not None})
        if not wanted:
            return {}
        return {
            row.scan_id: row
            for row in session.exec(select(Scan).where(col(Scan.scan_id).in_(wanted)))
        }

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
