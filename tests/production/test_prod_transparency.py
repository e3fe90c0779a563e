"""The transparency log across processes: two workers append to one tree, the CLI audits
it, and a witness keeps checkpoints and catches a history that was rewritten."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.production.conftest import (
    ServerFactory,
    World,
    create_accounts,
    registration,
    signed_uri,
)
from verifier.db.engine import make_engine

CLI = [sys.executable, "-m", "sealtrace"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_workers_share_one_log_that_the_cli_audits_and_a_witness_keeps(
    backend: str,
    request: pytest.FixtureRequest,
    serve: ServerFactory,
    world: World,
    tmp_path: Path,
) -> None:
    url: str = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    tokens = create_accounts(url)
    server = serve(url, workers=2 if backend == "postgres" else 1)
    acme = {"Authorization": f"Bearer {tokens['acme']}"}
    serials = [f"W{i}" for i in range(12)]
    assert httpx.post(f"{server.base}/v1/registrations", json=registration(world, serials),
                      headers=acme, timeout=30).status_code == 200  # fmt: skip
    witness = tmp_path / "witness"
    for serial in serials[:6]:
        httpx.post(f"{server.base}/v1/verify", json={"code": signed_uri(world, serial)}, timeout=30)
    kept = run("audit", "checkpoint", "--url", server.base, "--save", str(witness))
    assert kept.returncode == 0, kept.stdout + kept.stderr
    for serial in serials[6:]:
        httpx.post(f"{server.base}/v1/verify", json={"code": signed_uri(world, serial)}, timeout=30)
    again = run("audit", "checkpoint", "--url", server.base, "--save", str(witness))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "consistent" in again.stdout
    audited = run("audit", "verify", "--db", url)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "0 recorded before the log began" in audited.stdout
    first_checkpoint = sorted(witness.glob("checkpoint-*.txt"))[0]
    with_checkpoint = run("audit", "verify", "--db", url, "--checkpoint", str(first_checkpoint),
                          "--log-key", str(witness / "log-key.pem"))  # fmt: skip
    assert with_checkpoint.returncode == 0, with_checkpoint.stdout + with_checkpoint.stderr

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE scan SET verdict = 'counterfeit' WHERE serial = 'W3'"))
    finally:
        engine.dispose()
    tampered = run("audit", "verify", "--db", url)
    assert tampered.returncode == 1
    assert "MISMATCH scan " in tampered.stdout
    assert "verdict" in tampered.stdout
