"""EPCIS capture jobs survive their worker: kill -9 of the server while a large capture
runs, restart, poll; the job finishes with every event stored once. And a job that can
not be run again fails with an error the client can read."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from epcis.documents import epcis_document
from epcis.identifiers import unit_uri
from epcis.jobs import open_job, run_job
from tests.production.conftest import ACME_GTIN, EnvFactory, ServerFactory, create_accounts
from verifier.db.engine import make_engine

EVENTS = 6000  # enough that the capture is still running when the server is killed
T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def _document(count: int, tag: str = "S") -> dict[str, Any]:
    events = [
        {
            "type": "ObjectEvent",
            "eventTime": (T0 + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "eventTimeZoneOffset": "+00:00",
            "epcList": [unit_uri(ACME_GTIN, f"{tag}{i}")],
            "action": "OBSERVE",
            "bizStep": "inspecting",
        }
        for i in range(count)
    ]
    return epcis_document(events, created=T0)


def _row(url: str, capture_id: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            job = connection.execute(
                text(
                    "SELECT running, success, attempts, document IS NULL AS dropped "
                    "FROM epcis_capture_job WHERE capture_id = :id"
                ),
                {"id": capture_id},
            ).one()
            stored = connection.execute(
                text("SELECT count(*) FROM epcis_event WHERE capture_id = :id"), {"id": capture_id}
            ).scalar_one()
            total = connection.execute(text("SELECT count(*) FROM epcis_event")).scalar_one()
    finally:
        engine.dispose()
    return {**job._asdict(), "stored": stored, "total": total}


def _poll(base: str, location: str, token: str, *, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(
            f"{base}{location}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if not job["running"]:
            return job
        assert time.monotonic() < deadline, f"the job is still running: {job}"
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_9_mid_capture_job_is_taken_over_and_finishes_once(
    backend: str, request: pytest.FixtureRequest, serve: ServerFactory
) -> None:
    url: str = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    tokens = create_accounts(url)
    server = serve(url, SEALTRACE_EPCIS_JOB_LEASE_SECONDS="2")
    accepted = httpx.post(
        f"{server.base}/epcis/capture",
        json=_document(EVENTS),
        headers={"Authorization": f"Bearer {tokens['acme']}"},
        timeout=60,
    )
    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["Location"]
    capture_id = location.rsplit("/", 1)[1]
    # Kill once the worker has taken the job (its first run holds the lease).
    deadline = time.monotonic() + 30
    while _row(url, capture_id)["attempts"] < 1:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    server.kill()

    crashed = _row(url, capture_id)
    assert crashed["running"], "the capture finished before the kill; make the document larger"
    assert crashed["stored"] == 0  # events and outcome commit together: none were kept

    server.start()
    job = _poll(server.base, location, tokens["acme"])
    assert job["success"], job["errors"]
    assert len(job["eventIDs"]) == len(set(job["eventIDs"])) == EVENTS
    after = _row(url, capture_id)
    assert after["stored"] == after["total"] == EVENTS  # no event lost, none doubled
    assert after["attempts"] == 2
    assert after["dropped"]

    # Polling a finished job again changes nothing.
    assert _poll(server.base, location, tokens["acme"]) == job
    assert _row(url, capture_id)["total"] == EVENTS


def _set(url: str, capture_id: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), {"id": capture_id})
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("attempts = 3", "interrupted 3 times"),
        ("document = NULL", "document was not kept"),
    ],
)
def test_a_job_that_cannot_be_run_again_fails_clearly(
    database_url: str, make_env: EnvFactory, change: str, message: str
) -> None:
    env = make_env(database_url)
    # The app's start-up sweep (a thread, once) must be over first, or it may take the
    # job over from its document before the change below makes it unrunnable.
    for thread in threading.enumerate():
        if thread.name == "epcis-resume":
            thread.join(timeout=60)
    # A job its worker never finished: still running, its lease expired long ago.
    capture_id = _open_dead_job(database_url)
    _set(
        database_url,
        capture_id,
        f"UPDATE epcis_capture_job SET {change}, lease_until = '2000-01-01 00:00:00' "  # noqa: S608
        "WHERE capture_id = :id",
    )
    # The poll answers first and takes the job over after it; the job ends failed, and
    # says why.
    job: dict[str, Any] = {"running": True}
    for _ in range(50):
        answer = env.client.get(f"/epcis/capture/{capture_id}", headers=env.auth("acme"))
        assert answer.status_code == 200
        job = answer.json()
        if not job["running"]:
            break
        time.sleep(0.1)
    assert not job["running"]
    assert not job["success"]
    assert job["errors"][0]["type"] == "epcisException:ImplementationException"
    assert message in job["errors"][0]["detail"]
    assert _row(database_url, capture_id)["stored"] == 0
    # Another brand still does not see the job.
    assert (
        env.client.get(f"/epcis/capture/{capture_id}", headers=env.auth("other")).status_code == 404
    )


def _open_dead_job(url: str) -> str:
    """A job as a worker killed before its first run leaves it."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            capture_id, _ = open_job(
                session, brand_id="acme", account_id=None, behaviour="rollback",
                document=_document(3, "D"), prefixes=["9506000"], now=T0,
            )  # fmt: skip
    finally:
        engine.dispose()
    return capture_id


def test_only_the_lease_holder_runs_a_job_and_only_once(database_url: str) -> None:
    engine = make_engine(database_url)
    now = dt.datetime.now(dt.UTC)
    try:
        with Session(engine) as session:
            capture_id, owner = open_job(
                session, brand_id="acme", account_id=None, behaviour="rollback",
                document=_document(3, "L"), prefixes=["9506000"], now=now, lease_seconds=300,
            )  # fmt: skip

        def clock() -> dt.datetime:
            return dt.datetime.now(dt.UTC)

        # Another worker while the lease is held (the first run is still queued): nothing.
        assert run_job(engine, capture_id, "another-worker", clock=clock) is False
        assert _row(database_url, capture_id)["attempts"] == 0
        assert run_job(engine, capture_id, owner, clock=clock) is True
        done = _row(database_url, capture_id)
        assert (done["running"], done["success"], done["stored"]) == (False, True, 3)
        # A finished job is not run again, by its owner or a taker.
        assert run_job(engine, capture_id, owner, clock=clock) is False
        assert run_job(engine, capture_id, "another-worker", clock=clock) is False
        assert _row(database_url, capture_id)["total"] == 3
    finally:
        engine.dispose()
