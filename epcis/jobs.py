"""Capture jobs of the EPCIS 2.0 REST binding: accepted at once, run after the answer.

:func:`open_job` records a job as running and commits it, so any worker of the
service can answer ``GET /capture/{captureID}`` from the database;
:func:`run_job` captures the document and records the outcome. Two error
behaviours, as the standard's ``GS1-Capture-Error-Behaviour`` names them:
``rollback`` (the default: all events or none, as the synchronous capture) and
``proceed`` (every good event is stored; each bad or repeated one is an error
of the job and fails none of its neighbours).

Crash safety. The job row keeps the document until the job has finished, and a
lease: the run holding it (``lease_owner``) renews ``lease_until`` while it works.
The events and the job's outcome are committed in one transaction, so a job is
either finished with its events stored or not finished with none of them stored;
running it again can neither double nor lose an event. A worker that finds a job
running past its lease (at start-up, or when a client polls it) takes it over
(an atomic conditional update: one taker wins) and runs it again from the stored
document. After ``MAX_ATTEMPTS`` runs that never finished (a document that kills
its worker every time), the job is failed with an error saying so.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import Session, col, select

from authn.errors import InvalidInput, NotFound
from epcis.hashing import context_namespaces
from epcis.store import (
    CaptureConflict,
    CaptureRejected,
    capture,
    existing_hashes,
    store_events,
    upsert_locations,
)
from epcis.tables import EpcisCaptureJob, EpcisEvent
from epcis.validation import EventError, read_document

log = logging.getLogger(__name__)

# The brand column of what a registry admin captures without naming a brand: no
# brand id can look like it (brand ids are lowercase letters, digits and '-'), so
# no brand reads these events; officers and admins do.
REGISTRY_SCOPE = "_registry"
BEHAVIOURS = ("rollback", "proceed")
VALIDATION = "epcisException:ValidationException"
IMPLEMENTATION = "epcisException:ImplementationException"
DEFAULT_LEASE_SECONDS = 30.0
MAX_ATTEMPTS = 3

Clock = Callable[[], dt.datetime]


def _problem(kind: str, title: str, status: int, error: EventError | str) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "title": title, "status": status}
    if isinstance(error, EventError):
        body.update(error.as_dict())
        body["detail"] = body.pop("message")
    else:
        body["detail"] = error
    return body


def _time(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def open_job(
    session: Session,
    *,
    brand_id: str,
    account_id: int | None,
    behaviour: str,
    document: Any,
    prefixes: Sequence[str] | None,
    now: dt.datetime,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> tuple[str, str]:
    """Record a running job with its document; returns its capture id and the lease owner
    the first run uses (the lease covers the wait until that run starts)."""
    if behaviour not in BEHAVIOURS:
        raise InvalidInput(
            f"GS1-Capture-Error-Behaviour must be rollback or proceed, not {behaviour!r}"
        )
    owner = str(uuid.uuid4())
    job = EpcisCaptureJob(
        capture_id=str(uuid.uuid4()),
        brand_id=brand_id,
        account_id=account_id,
        created_at=now,
        behaviour=behaviour,
        document=json.dumps(document, separators=(",", ":")),
        prefixes=None if prefixes is None else json.dumps(list(prefixes)),
        lease_owner=owner,
        lease_until=now + dt.timedelta(seconds=lease_seconds),
    )
    session.add(job)
    session.commit()
    return job.capture_id, owner


def _proceed(
    session: Session,
    document: Any,
    *,
    capture_id: str,
    brand_id: str,
    prefixes: Sequence[str] | None,
    account_id: int | None,
    now: dt.datetime,
) -> tuple[list[str], list[dict[str, Any]]]:
    read = read_document(document, prefixes=prefixes)
    errors = [_problem(VALIDATION, "Event not valid", 400, e) for e in read.errors]
    existing = existing_hashes(session, [e.event_hash for e in read.events])
    fresh = [e for e in read.events if e.event_hash not in existing]
    errors += [
        _problem("epcisException:ValidationException", "Event captured before", 409,
                 f"already captured as {e.event_hash}")
        for e in read.events if e.event_hash in existing
    ]  # fmt: skip
    if fresh:
        store_events(
            session,
            fresh,
            brand_id=brand_id,
            namespaces=context_namespaces(document["@context"]),
            account_id=account_id,
            now=now,
            capture_id=capture_id,
        )
        upsert_locations(session, brand_id, read.locations, now)
        session.flush()
    return [e.event_hash for e in fresh], errors


def _claim(session: Session, capture_id: str, owner: str, now: dt.datetime, lease: float) -> bool:
    """Take the job's lease for ``owner`` if it holds it already or the lease has expired.

    One conditional UPDATE, committed: of two workers taking over the same job, one
    matches the row and the other matches nothing.
    """
    result = session.execute(
        update(EpcisCaptureJob)
        .where(
            col(EpcisCaptureJob.capture_id) == capture_id,
            col(EpcisCaptureJob.running).is_(True),
            or_(
                col(EpcisCaptureJob.lease_owner) == owner,
                col(EpcisCaptureJob.lease_until).is_(None),
                col(EpcisCaptureJob.lease_until) < now,
            ),
        )
        .values(
            lease_owner=owner,
            lease_until=now + dt.timedelta(seconds=lease),
            attempts=EpcisCaptureJob.attempts + 1,
        )
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _finish(
    session: Session,
    capture_id: str,
    owner: str,
    *,
    stored: Sequence[str],
    errors: Sequence[dict[str, Any]],
    now: dt.datetime,
) -> bool:
    """Record the outcome, in the transaction that holds the events, if ``owner`` still
    holds the lease; else roll everything back (the run that took over stores them)."""
    result = session.execute(
        update(EpcisCaptureJob)
        .where(
            col(EpcisCaptureJob.capture_id) == capture_id,
            col(EpcisCaptureJob.running).is_(True),
            col(EpcisCaptureJob.lease_owner) == owner,
        )
        .values(
            running=False,
            success=not errors,
            finished_at=now,
            errors=json.dumps(list(errors)),
            event_ids=json.dumps(list(stored)),
            document=None,
            prefixes=None,
            lease_owner=None,
            lease_until=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.rollback()
        log.warning("capture job %s was taken over by another worker", capture_id)
        return False
    session.commit()
    return True


class _Lease:
    """Renews the lease from its own connection every third of its length while a run works.

    On SQLite the capture's write transaction holds the database lock, so a renewal
    waits and may fail; the lock itself then keeps a taker out (its UPDATE waits for
    the same lock, and finds the job finished once the capture commits).
    """

    def __init__(self, engine: Engine, capture_id: str, owner: str, clock: Clock, lease: float):
        self._stop = threading.Event()
        self._args = (engine, capture_id, owner, clock, lease)
        self._thread = threading.Thread(target=self._renew, name=f"lease-{capture_id}", daemon=True)

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        engine, capture_id, owner, clock, lease = self._args
        while not self._stop.wait(lease / 3):
            try:
                with Session(engine) as session:
                    session.execute(
                        update(EpcisCaptureJob)
                        .where(
                            col(EpcisCaptureJob.capture_id) == capture_id,
                            col(EpcisCaptureJob.lease_owner) == owner,
                            col(EpcisCaptureJob.running).is_(True),
                        )
                        .values(lease_until=clock() + dt.timedelta(seconds=lease))
                    )
                    session.commit()
            except OperationalError:
                log.info("lease of capture job %s not renewed this time", capture_id)


def _failed(detail: str) -> list[dict[str, Any]]:
    return [_problem(IMPLEMENTATION, "Capture failed", 500, detail)]


def run_job(
    engine: Engine,
    capture_id: str,
    owner: str,
    *,
    clock: Clock,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> bool:
    """Run the job from its stored document if ``owner`` gets its lease; False if not."""
    with Session(engine) as session:
        if not _claim(session, capture_id, owner, clock(), lease_seconds):
            return False
        job = _job(session, capture_id)
        # A run that stored events committed its outcome with them: seeing this job's
        # events here means it finished, and the job row would say so. Never twice.
        done = list(
            session.exec(select(EpcisEvent.event_hash).where(EpcisEvent.capture_id == capture_id))
        )
        if done:
            return _finish(session, capture_id, owner, stored=done, errors=[], now=clock())
        if job.document is None:
            errors = _failed(
                "the capture was interrupted and its document was not kept; nothing was stored, "
                "capture the document again"
            )
            return _finish(session, capture_id, owner, stored=[], errors=errors, now=clock())
        if job.attempts > MAX_ATTEMPTS:
            errors = _failed(
                f"the capture was interrupted {MAX_ATTEMPTS} times; nothing was stored, "
                "split the document or capture it again"
            )
            return _finish(session, capture_id, owner, stored=[], errors=errors, now=clock())
        document = json.loads(job.document)
        prefixes = None if job.prefixes is None else json.loads(job.prefixes)
        with _Lease(engine, capture_id, owner, clock, lease_seconds):
            stored, errors = _capture(session, job, document, prefixes)
        return _finish(session, capture_id, owner, stored=stored, errors=errors, now=clock())


def _capture(
    session: Session, job: EpcisCaptureJob, document: Any, prefixes: Sequence[str] | None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Capture ``document`` for the job's brand, flushed and not committed; the record
    time is when the job was accepted, the same on every run."""
    capture_id, now = job.capture_id, job.created_at
    try:
        if job.behaviour == "proceed":
            return _proceed(
                session, document, capture_id=capture_id, brand_id=job.brand_id,
                prefixes=prefixes, account_id=job.account_id, now=now,
            )  # fmt: skip
        stored = capture(
            session, document, capture_id=capture_id, brand_id=job.brand_id,
            prefixes=prefixes, account_id=job.account_id, now=now, commit=False,
        ).event_hashes  # fmt: skip
        return stored, []
    except CaptureRejected as exc:
        session.rollback()
        return [], [_problem(VALIDATION, "Event not valid", 400, e) for e in exc.errors]
    except CaptureConflict as exc:
        session.rollback()
        return [], [_problem(VALIDATION, "Event captured before", 409, e) for e in exc.errors]
    except InvalidInput as exc:
        session.rollback()
        return [], [_problem(VALIDATION, "Document not valid", 400, str(exc))]
    except (IntegrityError, SQLAlchemyError):
        session.rollback()
        log.exception("capture job %s failed", capture_id)
        return [], _failed("the repository could not store the events; capture the document again")


def stale_jobs(session: Session, now: dt.datetime, *, limit: int = 100) -> list[str]:
    """Capture ids of jobs running past their lease (their worker died, or is stuck)."""
    statement = (
        select(EpcisCaptureJob.capture_id)
        .where(
            col(EpcisCaptureJob.running).is_(True),
            or_(
                col(EpcisCaptureJob.lease_until).is_(None),
                col(EpcisCaptureJob.lease_until) < now,
            ),
        )
        .order_by(col(EpcisCaptureJob.id))
        .limit(limit)
    )
    return list(session.exec(statement))


def resume_stale(engine: Engine, *, clock: Clock, lease_seconds: float) -> int:
    """Take over and run every job past its lease; returns how many this worker ran."""
    try:
        with Session(engine) as session:
            stale = stale_jobs(session, clock())
    except SQLAlchemyError:
        log.exception("capture jobs left running could not be listed")
        return 0
    ran = 0
    for capture_id in stale:
        try:
            ran += run_job(
                engine, capture_id, str(uuid.uuid4()), clock=clock, lease_seconds=lease_seconds
            )
        except SQLAlchemyError:
            log.exception("capture job %s could not be resumed", capture_id)
    return ran


def _job(session: Session, capture_id: str) -> EpcisCaptureJob:
    job = session.exec(
        select(EpcisCaptureJob).where(EpcisCaptureJob.capture_id == capture_id)
    ).first()
    if job is None:
        raise NotFound(f"no capture job {capture_id!r}")
    return job


def is_stale(session: Session, capture_id: str, now: dt.datetime) -> bool:
    """Whether the job runs past its lease (its worker died or stalls)."""
    job = _job(session, capture_id)
    return job.running and (job.lease_until is None or job.lease_until < now)


def job_view(job: EpcisCaptureJob) -> dict[str, Any]:
    """A job as the standard's CaptureJob object, with the hashes of the stored events."""
    return {
        "captureID": job.capture_id,
        "createdAt": _time(job.created_at),
        "finishedAt": _time(job.finished_at),
        "running": job.running,
        "success": job.success,
        "captureErrorBehaviour": job.behaviour,
        "errors": json.loads(job.errors),
        "eventIDs": json.loads(job.event_ids),
    }


def get_job(session: Session, capture_id: str, *, brand_id: str | None) -> dict[str, Any]:
    """One job; a brand (``brand_id``) sees its own only, as if the others did not exist."""
    job = _job(session, capture_id)
    if brand_id is not None and job.brand_id != brand_id:
        raise NotFound(f"no capture job {capture_id!r}")
    return job_view(job)


def list_jobs(
    session: Session, *, brand_id: str | None, limit: int, before: int | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest jobs first; the row id to continue before, when there are more."""
    statement = select(EpcisCaptureJob)
    if brand_id is not None:
        statement = statement.where(EpcisCaptureJob.brand_id == brand_id)
    if before is not None:
        statement = statement.where(col(EpcisCaptureJob.id) < before)
    rows = list(session.exec(statement.order_by(col(EpcisCaptureJob.id).desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return [job_view(r) for r in rows], (rows[-1].id if more and rows else None)
