"""Capture jobs of the EPCIS 2.0 REST binding: accepted at once, run after the answer.

:func:`open_job` records a job as running and commits it, so any worker of the
service can answer ``GET /capture/{captureID}`` from the database;
:func:`run_job` captures the document and records the outcome. Two error
behaviours, as the standard's ``GS1-Capture-Error-Behaviour`` names them:
``rollback`` (the default: all events or none, as the synchronous capture) and
``proceed`` (every good event is stored; each bad or repeated one is an error
of the job and fails none of its neighbours).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
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
from epcis.tables import EpcisCaptureJob
from epcis.validation import EventError, read_document

log = logging.getLogger(__name__)

# The brand column of what a registry admin captures without naming a brand: no
# brand id can look like it (brand ids are lowercase letters, digits and '-'), so
# no brand reads these events; officers and admins do.
REGISTRY_SCOPE = "_registry"
BEHAVIOURS = ("rollback", "proceed")
VALIDATION = "epcisException:ValidationException"


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
    session: Session, *, brand_id: str, account_id: int | None, behaviour: str, now: dt.datetime
) -> str:
    """Record a running job; returns its capture id."""
    if behaviour not in BEHAVIOURS:
        raise InvalidInput(
            f"GS1-Capture-Error-Behaviour must be rollback or proceed, not {behaviour!r}"
        )
    job = EpcisCaptureJob(
        capture_id=str(uuid.uuid4()),
        brand_id=brand_id,
        account_id=account_id,
        created_at=now,
        behaviour=behaviour,
    )
    session.add(job)
    session.commit()
    return job.capture_id


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
        session.commit()
    return [e.event_hash for e in fresh], errors


def run_job(
    session: Session,
    capture_id: str,
    document: Any,
    *,
    prefixes: Sequence[str] | None,
    now: dt.datetime,
    clock: Callable[[], dt.datetime],
) -> None:
    """Capture ``document`` for the job's brand and record the outcome on the job."""
    job = _job(session, capture_id)
    stored: list[str] = []
    errors: list[dict[str, Any]] = []
    try:
        if job.behaviour == "proceed":
            stored, errors = _proceed(
                session, document, capture_id=capture_id, brand_id=job.brand_id,
                prefixes=prefixes, account_id=job.account_id, now=now,
            )  # fmt: skip
        else:
            stored = capture(
                session, document, capture_id=capture_id, brand_id=job.brand_id,
                prefixes=prefixes, account_id=job.account_id, now=now,
            ).event_hashes  # fmt: skip
    except CaptureRejected as exc:
        errors = [_problem(VALIDATION, "Event not valid", 400, e) for e in exc.errors]
    except CaptureConflict as exc:
        errors = [_problem(VALIDATION, "Event captured before", 409, e) for e in exc.errors]
    except InvalidInput as exc:
        errors = [_problem(VALIDATION, "Document not valid", 400, str(exc))]
    except (IntegrityError, SQLAlchemyError):
        session.rollback()
        log.exception("capture job %s failed", capture_id)
        errors = [
            _problem(
                "epcisException:ImplementationException", "Capture failed", 500,
                "the repository could not store the events; capture the document again",
            )
        ]  # fmt: skip
    job = _job(session, capture_id)
    job.running, job.success = False, not errors
    job.finished_at = clock()
    job.errors = json.dumps(errors)
    job.event_ids = json.dumps(stored)
    session.add(job)
    session.commit()


def _job(session: Session, capture_id: str) -> EpcisCaptureJob:
    job = session.exec(
        select(EpcisCaptureJob).where(EpcisCaptureJob.capture_id == capture_id)
    ).first()
    if job is None:
        raise NotFound(f"no capture job {capture_id!r}")
    return job


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
