"""POST /v1/scans:batch: per-item results, idempotent replays, concurrent replays."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import select

from tests.mobile.conftest import Env
from verifier.db.models import Scan


def batch(env: Env, serials: list[str]) -> list[dict[str, Any]]:
    items = []
    for i, serial in enumerate(serials):
        items.append({
            "scan_id": str(uuid.uuid4()),
            # Out of order on purpose: later items were scanned earlier.
            "scanned_at": (env.clock() - timedelta(hours=i + 1)).isoformat(),
            "code": env.sign(serial),
            "location": {"lat": 50.94, "lon": 6.96, "accuracy_m": 25},
            "country": "DE",
            "device_id": "handheld-17",
        })  # fmt: skip
    return items


def post(env: Env, items: list[dict[str, Any]], who: str = "officer") -> httpx.Response:
    response: httpx.Response = env.client.post(
        "/v1/scans:batch", json={"scans": items}, headers=env.auth(who)
    )
    return response


def count_scans(env: Env) -> dict[str, int]:
    with env.session() as session:
        rows = session.exec(select(Scan.scan_id, func.count()).group_by(Scan.scan_id)).all()
    return dict(rows)


def test_partial_failures_are_reported_per_item(env: Env) -> None:
    env.register(["B1", "B2", "B4"])
    items = batch(env, ["B1", "B2", "B3", "B4"])
    items[2]["code"] = "https://id.example.com/01/123/21/X"  # malformed GTIN
    del items[3]["location"]
    response = post(env, items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["failed"]) == (3, 1)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [200, 200, 400, 200]
    assert body["results"][0]["answer"]["verdict"] == "authentic"
    assert "history" in body["results"][0]["answer"]  # officers get the full answer
    assert set(count_scans(env)) == {items[i]["scan_id"] for i in (0, 1, 3)}


def test_items_missing_scan_id_or_with_bad_fields_fail_alone(env: Env) -> None:
    env.register(["V1"])
    items = batch(env, ["V1", "V1", "V1"])
    del items[0]["scan_id"]
    items[1]["country"] = "germany"
    body = post(env, items).json()
    assert [r["status"] for r in body["results"]] == [422, 422, 200]


def test_only_officers_and_limits(env: Env) -> None:
    items = batch(env, ["L1"])
    assert post(env, items, who="acme").status_code == 403
    assert env.client.post("/v1/scans:batch", json={"scans": items}).status_code == 401
    too_many = [items[0]] * 1001
    assert post(env, too_many).status_code == 413
    huge = env.client.post(
        "/v1/scans:batch", content=b"x" * (3 * 1024 * 1024), headers=env.auth("officer")
    )
    assert huge.status_code == 413


def test_replayed_batch_leaves_one_record_per_scan_id(any_env: Env) -> None:
    env = any_env
    env.register(["R1", "R2"])
    items = batch(env, ["R1", "R2", "R1"])
    first = post(env, items).json()
    second = post(env, items).json()
    assert first == second  # the stored answers come back
    assert count_scans(env) == {item["scan_id"]: 1 for item in items}
    reused = [{**items[0], "code": env.sign("R2")}]
    assert post(env, reused).json()["results"][0]["status"] == 409


def test_concurrent_replays_leave_one_record_per_scan_id(any_env: Env) -> None:
    env = any_env
    env.register([f"C{i}" for i in range(10)])
    items = batch(env, [f"C{i}" for i in range(10)])
    barrier = threading.Barrier(2)
    answers: list[dict[str, Any]] = []

    def upload() -> None:
        barrier.wait()
        answers.append(post(env, items).json())

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 2
    for answer in answers:
        assert answer["failed"] == 0, [
            [r for r in a["results"] if r["status"] != 200] for a in answers
        ]
    assert count_scans(env) == {item["scan_id"]: 1 for item in items}
    verdicts = [[r["answer"]["verdict"] for r in a["results"]] for a in answers]
    assert verdicts[0] == verdicts[1]
