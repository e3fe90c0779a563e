"""A table locked by someone else (a long migration, a stuck admin session): verify answers
503 with Retry-After within the configured lock timeout instead of hanging, /readyz says not
ready, and both recover once the lock goes. On a real server process over PostgreSQL."""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest
from sqlalchemy import make_url

from tests.production.conftest import (
    ServerFactory,
    World,
    create_accounts,
    registration,
    signed_uri,
)

LOCK_TIMEOUT_MS = 1000


@pytest.mark.postgres
def test_a_locked_table_gives_503_within_the_lock_timeout_and_recovers(
    pg_url: str, serve: ServerFactory, world: World
) -> None:
    tokens = create_accounts(pg_url)
    server = serve(pg_url, SEALTRACE_DB_LOCK_TIMEOUT_MS=str(LOCK_TIMEOUT_MS))
    officer = {"Authorization": f"Bearer {tokens['officer']}"}
    with httpx.Client(base_url=server.base, timeout=60) as client:
        auth = {"Authorization": f"Bearer {tokens['acme']}"}
        body = registration(world, ["LOCK1"])
        assert client.post("/v1/registrations", json=body, headers=auth).status_code == 200
        code = signed_uri(world, "LOCK1")
        assert client.post("/v1/verify", json={"code": code}, headers=officer).status_code == 200

        dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(dsn) as locker:
            locker.execute("LOCK TABLE scan IN ACCESS EXCLUSIVE MODE")  # held until rollback
            started = time.monotonic()
            locked = client.post("/v1/verify", json={"code": code}, headers=officer)
            waited = time.monotonic() - started
            assert locked.status_code == 503, locked.text
            assert int(locked.headers["retry-after"]) > 0
            assert locked.json()["type"] == "urn:sealtrace:problem:unavailable"
            # Well within the 29 s it once hung: the lock timeout plus the request's own work.
            assert waited < LOCK_TIMEOUT_MS / 1000 * 4 + 2, waited
            ready = client.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert client.get("/healthz").status_code == 200  # alive: do not restart it
            locker.rollback()

        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/verify", json={"code": code}, headers=officer).status_code == 200
