"""Judging scans in batches: one transaction, each scan seeing the batch's earlier ones.

The HTTP route hands concurrent scans to the worker's recorder, which judges them
together (group commit). These tests drive ``Verifier.judge`` and the recorder
directly on SQLite and PostgreSQL, and the route over the app.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import event
from sqlmodel import Session, func, select

from authn.errors import Conflict
from verifier.accounts import ANONYMOUS
from verifier.db.models import Alert, Scan
from verifier.schemas import Location, VerifyIn, VerifyOut
from verifier.verification.recorder import ScanRecorder
from verifier.verification.state import StateQuery, load_states
from verifier.verification.writes import insert_scans

if TYPE_CHECKING:
    from tests.verifier.conftest import Env

PARIS = Location(lat=48.85, lon=2.35, accuracy_m=50)
SYDNEY = Location(lat=-33.87, lon=151.21, accuracy_m=50)


def request(env: Env, serial: str, **fields: object) -> VerifyIn:
    return VerifyIn.model_validate({"code": env.sign(serial), **fields})


def stored(env: Env, serial: str) -> list[Scan]:
    with env.session() as session:
        return list(session.exec(select(Scan).where(Scan.serial == serial)).all())


def test_a_batch_is_judged_in_order_and_a_copy_sees_the_original(env: Env) -> None:
    env.register(["B1", "B2"])
    verifier = env.services.verifier
    jobs = [
        verifier.prepare(ANONYMOUS, request(env, "B1", location=PARIS.model_dump())),
        verifier.prepare(ANONYMOUS, request(env, "B2")),
        verifier.prepare(ANONYMOUS, request(env, "B1", location=SYDNEY.model_dump())),
    ]
    with env.session() as session:
        results = verifier.judge(session, jobs)
    assert [r.verdict for r in results if isinstance(r, VerifyOut)] == [
        "authentic",
        "authentic",
        "suspect",
    ]
    rows = stored(env, "B1")
    assert len(rows) == 2
    assert {row.verdict for row in rows} == {"authentic", "suspect"}
    with env.session() as session:
        alerts = session.exec(select(Alert).where(Alert.serial == "B1")).all()
    assert alerts, "the copy scanned in the same batch raised no alert"
    assert len(stored(env, "B2")) == 1


def test_a_scan_id_repeated_within_a_batch_is_stored_once(env: Env) -> None:
    env.register(["R1", "R2"])
    verifier = env.services.verifier
    scan_id = str(uuid.uuid4())
    same = request(env, "R1", scan_id=scan_id)
    other_code = request(env, "R2", scan_id=scan_id)
    jobs = [verifier.prepare(ANONYMOUS, r) for r in (same, same, other_code)]
    with env.session() as session:
        first, repeat, clash = verifier.judge(session, jobs)
    assert isinstance(first, VerifyOut)
    assert repeat == first
    assert isinstance(clash, Conflict)
    assert [row.scan_id for row in stored(env, "R1")] == [scan_id]
    assert stored(env, "R2") == []


def test_one_bad_scan_costs_only_its_own_answer(env: Env) -> None:
    env.register(["E1"])
    verifier = env.services.verifier
    taken = str(uuid.uuid4())
    env.verify(env.sign("E1"), scan_id=taken)
    good = verifier.prepare(ANONYMOUS, request(env, "E1"))
    clash = verifier.prepare(ANONYMOUS, VerifyIn(code=env.sign("E2"), scan_id=uuid.UUID(taken)))
    with env.session() as session:
        ok, refused = verifier.judge(session, [good, clash])
    assert isinstance(ok, VerifyOut)
    assert isinstance(refused, Conflict)
    assert len(stored(env, "E1")) == 2


def test_insert_skips_a_scan_id_another_transaction_took_first(env: Env) -> None:
    # The race the code locks cannot prevent: one scan_id sent for two different codes.
    env.register(["I1"])
    taken = str(uuid.uuid4())
    env.verify(env.sign("I1"), scan_id=taken)
    now = env.clock()
    row = {
        "gtin": env.ACME_GTIN, "serial": "I2", "scanned_at": now, "recorded_at": now,
        "role": "anonymous", "account_id": None, "device_id": None, "country": None,
        "lat": None, "lon": None, "accuracy_m": None, "verdict": "authentic",
        "reasons": "[]", "answer": "{}", "code": None,
    }  # fmt: skip
    fresh = str(uuid.uuid4())
    with env.session() as session:
        inserted = insert_scans(session, [{**row, "scan_id": taken}, {**row, "scan_id": fresh}])
        session.commit()
    assert inserted == {fresh}
    assert [r.scan_id for r in stored(env, "I2")] == [fresh]


def test_load_states_bounds_each_code_by_its_own_window_and_limit(env: Env) -> None:
    env.register(["W1", "W2"], intended_markets=["DE"])
    start = env.clock()
    for hour in range(6):  # W1: six scans an hour apart; W2: one
        env.clock.advance(hours=1)
        env.verify(env.sign("W1"), device_id=f"d{hour}")
    env.verify(env.sign("W2"))
    verifier = env.services.verifier
    codes = {s: verifier.prepare(ANONYMOUS, request(env, s)).code for s in ("W1", "W2", "W3")}

    def recent_of_w1(w1_since: timedelta) -> list[str | None]:
        with env.session() as session:
            states = load_states(
                session,
                [
                    StateQuery(codes["W1"], since=start + w1_since),
                    StateQuery(codes["W2"], since=env.clock() - timedelta(minutes=1)),
                    StateQuery(codes["W3"], since=start),  # the batch's earliest bound
                ],
                history_limit=4,
            )
        return [s.device_id for s in states[codes["W1"].identity()].recent]

    assert recent_of_w1(timedelta(0)) == ["d5", "d4", "d3", "d2"]  # newest first, 4 of 6
    assert recent_of_w1(timedelta(hours=4, minutes=30)) == ["d5", "d4"]  # its own window
    with env.session() as session:
        states = load_states(
            session,
            [StateQuery(code, since=start) for code in codes.values()],
            history_limit=4,
        )
    w1 = states[codes["W1"].identity()]
    assert w1.intended_markets == ("DE",)
    assert w1.record is not None
    assert w1.record.serial == "W1"
    assert len(states[codes["W2"].identity()].recent) == 1
    unregistered = states[(env.ACME_GTIN, "W3")]
    assert unregistered.record is None
    assert unregistered.recent == ()


def test_the_recorder_commits_concurrent_scans_together(env: Env) -> None:
    env.register([f"G{i}" for i in range(40)])
    recorder = ScanRecorder(env.services.engine, env.services.verifier, max_batch=16)
    verifier = env.services.verifier
    jobs = [verifier.prepare(ANONYMOUS, request(env, f"G{i}")) for i in range(40)]

    async def all_at_once() -> list[VerifyOut]:
        return await asyncio.gather(*(recorder.judge(job) for job in jobs))

    try:
        answers = asyncio.run(all_at_once())
    finally:
        recorder.close()
    assert [a.verdict for a in answers] == ["authentic"] * 40
    assert recorder.batches < 40, "every scan had its own transaction"
    assert 1 < recorder.largest_batch <= 16
    with env.session() as session:
        count = session.exec(select(func.count()).select_from(Scan)).one()
    assert count == 40


def test_the_route_returns_what_was_stored(env: Env) -> None:
    env.register(["H1"])
    codes = [env.sign("H1")] * 8

    def scan(code: str) -> dict[str, object]:
        response = env.verify(code, device_id="handheld-1")
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(scan, codes))
    rows = {row.scan_id: row for row in stored(env, "H1")}
    assert len(rows) == 8
    for body in bodies:
        assert json.loads(rows[str(body["scan_id"])].answer)["verdict"] == body["verdict"]


@pytest.mark.parametrize("max_batch", [1, 64])
def test_a_recorder_that_was_closed_refuses_new_scans(env: Env, max_batch: int) -> None:
    recorder = ScanRecorder(env.services.engine, env.services.verifier, max_batch=max_batch)
    recorder.close()
    job = env.services.verifier.prepare(ANONYMOUS, request(env, "X1"))
    with pytest.raises(Exception, match="shutting down"):
        recorder.submit(job)


def test_a_judged_batch_leaves_no_transaction_open(env: Env) -> None:
    env.register(["T1"])
    verifier = env.services.verifier
    with Session(env.services.engine) as session:
        verifier.judge(session, [verifier.prepare(ANONYMOUS, request(env, "T1"))])
        assert not session.in_transaction()


def test_a_scan_recorded_while_the_batch_was_judged_makes_it_judge_again(env: Env) -> None:
    """The batch is judged without locks; a scan of its code committed by another worker
    before the locks are taken must still be in the history it is finally judged on."""
    env.register(["O1"])
    verifier = env.services.verifier
    engine = env.services.engine
    interloper = request(env, "O1", location=SYDNEY.model_dump(), device_id="sydney")
    fired: list[VerifyOut] = []
    started: list[bool] = []  # the listener sees the interloper's statements too

    def commit_a_scan_elsewhere(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if started or not ("BEGIN IMMEDIATE" in statement or "pg_advisory_xact_lock" in statement):
            return
        started.append(True)
        # Another worker: its own thread and connection, committing before our locks.
        with ThreadPoolExecutor(max_workers=1) as other:
            fired.append(other.submit(lambda: verify_alone(env, interloper)).result(timeout=30))

    job = verifier.prepare(ANONYMOUS, request(env, "O1", location=PARIS.model_dump()))
    event.listen(engine, "before_cursor_execute", commit_a_scan_elsewhere)
    try:
        with env.session() as session:
            (answer,) = verifier.judge(session, [job])
    finally:
        event.remove(engine, "before_cursor_execute", commit_a_scan_elsewhere)
    assert [a.verdict for a in fired] == ["authentic"]  # first of the two to be stored
    assert isinstance(answer, VerifyOut)
    assert answer.verdict == "suspect"  # judged again, with Sydney in its history
    assert {row.device_id for row in stored(env, "O1")} == {"sydney", None}


def verify_alone(env: Env, scan: VerifyIn) -> VerifyOut:
    with env.session() as session:
        return env.services.verifier.verify(session, ANONYMOUS, scan)
