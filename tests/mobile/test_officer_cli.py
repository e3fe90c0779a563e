"""`sealtrace officer record` and `sealtrace officer sync` against a real uvicorn server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from sealtrace.cli.officer_cmd import app as officer_app
from tests.mobile.conftest import LiveServer
from verifier.db.models import Scan


def _bundle(server: LiveServer, directory: Path) -> list[str]:
    env = server.env
    response = httpx.get(server.base_url + "/v1/offline-bundle", headers=env.auth("officer"))
    assert response.status_code == 200
    path = directory / "bundle.json"
    path.write_bytes(response.content)
    return [
        "--bundle", str(path), "--registry-key", str(env.world.registry_key_path),
        "--bundle-key", str(env.world.bundle_key_path), "--at", env.clock().isoformat(),
    ]  # fmt: skip


def _rows(server: LiveServer) -> dict[str, int]:
    with Session(server.env.services.engine) as session:
        rows = session.exec(
            select(Scan.scan_id, func.count())
            .where(col(Scan.device_id) == "cli-test")
            .group_by(col(Scan.scan_id))
        ).all()
    return dict(rows)


def test_record_queues_offline_and_sync_uploads_each_scan_once(
    live_server: LiveServer, tmp_path: Path
) -> None:
    env = live_server.env
    env.register(["CLI-1", "CLI-2"])
    env.set_status("CLI-2", "destroyed")
    keys = _bundle(live_server, tmp_path)
    queue = tmp_path / "queue.jsonl"
    runner = CliRunner()
    common = [*keys, "--queue", str(queue), "--device-id", "cli-test"]
    ok = runner.invoke(officer_app, ["record", *common, "--country", "fr", env.sign("CLI-1")])
    assert ok.exit_code == 0, ok.output
    assert "verdict: authentic" in ok.output
    assert "queued: scan" in ok.output
    suspect = runner.invoke(officer_app, ["record", *common, "--lat", "48.85", "--lon", "2.35",
                                          env.sign("CLI-2")])  # fmt: skip
    assert suspect.exit_code == 1
    assert "SCANNED_AFTER_DECOMMISSION" in suspect.output
    bad = runner.invoke(officer_app, ["record", *common, "not a code"])
    assert bad.exit_code == 2
    assert bad.output.count("error:") == 1
    queued = [json.loads(line) for line in queue.read_text().splitlines()]
    assert [(e["state"], e["offline"]["verdict"]) for e in queued] == [
        ("queued", "authentic"), ("queued", "suspect"),
    ]  # fmt: skip
    assert _rows(live_server) == {}

    token = {"SEALTRACE_TOKEN": env.tokens["officer"]}
    sync = ["sync", "--queue", str(queue), "--url", live_server.base_url]
    first = runner.invoke(officer_app, sync, env=token)
    assert first.exit_code == 0, first.output
    assert "2 synced, 0 refused, 0 still queued" in first.output
    scan_ids = [e["scan_id"] for e in queued]
    assert _rows(live_server) == dict.fromkeys(scan_ids, 1)
    synced = [json.loads(line) for line in queue.read_text().splitlines()]
    assert [e["online"]["verdict"] for e in synced] == ["authentic", "suspect"]
    with Session(env.services.engine) as session:
        stored = session.exec(select(Scan).where(Scan.scan_id == scan_ids[1])).one()
    assert stored.lat is not None
    assert stored.lon is not None
    assert stored.role == "officer"

    # A crash after the upload but before the queue was rewritten: the same items go again.
    queue.write_text("\n".join(json.dumps({**e, "state": "queued"}) for e in synced) + "\n")
    replay = runner.invoke(officer_app, sync, env=token)
    assert replay.exit_code == 0, replay.output
    assert _rows(live_server) == dict.fromkeys(scan_ids, 1)


def test_sync_keeps_the_queue_when_the_service_cannot_be_reached(
    live_server: LiveServer, tmp_path: Path
) -> None:
    env = live_server.env
    env.register(["CLI-3"])
    keys = _bundle(live_server, tmp_path)
    queue = tmp_path / "queue.jsonl"
    runner = CliRunner()
    recorded = runner.invoke(officer_app, ["record", *keys, "--queue", str(queue), "--device-id",
                                           "cli-test", env.sign("CLI-3")])  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    token = {"SEALTRACE_TOKEN": env.tokens["officer"]}
    down = runner.invoke(officer_app, ["sync", "--queue", str(queue), "--url",
                                       "http://127.0.0.1:9"], env=token)  # fmt: skip
    assert down.exit_code == 1
    assert "1 still queued" in down.output
    sync = ["sync", "--queue", str(queue), "--url", live_server.base_url]
    wrong = runner.invoke(officer_app, sync, env={"SEALTRACE_TOKEN": env.tokens["acme"]})
    assert wrong.exit_code == 2
    assert json.loads(queue.read_text())["state"] == "queued"
    good = runner.invoke(officer_app, sync, env=token)
    assert good.exit_code == 0, good.output
    assert len(_rows(live_server)) == 1
