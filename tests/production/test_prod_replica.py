"""Read-only traffic goes to a read replica when one is configured (#22).

The routing is declared at each route (``ReadSessionDep``), so the first test reads it off
the app. The others run the service on a real primary and hot standby that the test
starts (tests/production/standby.py): writes land on the primary; with the standby's WAL
replay paused, the routed reads answer from the standby's older copy while verify, which
must see the latest registration and history, answers from the primary; a console action
is followed by a page read from the primary; and the standby refuses writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlmodel import Session

from http_api.deps import Services, get_read_session
from tests.console.console_world import csrf_of
from tests.production.conftest import (
    ACME_GTIN,
    START,
    Env,
    EnvFactory,
    create_accounts,
    free_port,
)
from tests.production.standby import Pair
from verifier import console_auth
from verifier.db.engine import make_engine
from verifier.settings import Settings

pytestmark = pytest.mark.postgres

# Every route that reads from the replica when one is set; any other route uses the
# primary. A route joins this list only if a reader a moment behind the primary is fine
# for it (docs/deploy.md, "Read replicas").
ROUTED_READS = {
    ("GET", "/v1/alerts"),
    ("GET", "/v1/alerts/{alert_id}"),
    ("GET", "/v1/seizures"),
    ("GET", "/v1/epcis/events"),
    ("GET", "/v1/epcis/export"),
    ("GET", "/epcis/events"),
    ("GET", "/epcis/events/{eventID:path}"),
    ("GET", "/epcis/eventTypes"),
    ("GET", "/epcis/eventTypes/{eventType}/events"),
    ("GET", "/epcis/epcs"),
    ("GET", "/epcis/epcs/{epc:path}/events"),
    ("GET", "/v1/offline-bundle"),
}
# What writes or judges a scan, or must show its caller's own write at once.
ON_THE_PRIMARY = {
    ("POST", "/v1/verify"),
    ("POST", "/v1/registrations"),
    ("POST", "/v1/codes/{gtin}/{serial}/status"),
    ("POST", "/v1/epcis/capture"),
    ("POST", "/epcis/capture"),
    ("GET", "/epcis/capture/{captureID}"),
    ("POST", "/v1/scans:batch"),
    ("GET", "/v1/codes/{gtin}/{serial}"),
    ("GET", "/v1/log/proof/inclusion"),
}


def _calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def routes_by_reader(app: FastAPI) -> dict[tuple[str, str], bool]:
    """(method, path) of every API route -> whether it takes the read session."""
    found: dict[tuple[str, str], bool] = {}
    for route in app.routes:
        included = getattr(route, "effective_candidates", None)
        for candidate in included() if included is not None else [route]:
            dependant = getattr(candidate, "dependant", None)
            if dependant is None:
                continue
            reads = get_read_session in set(_calls(dependant))
            for method in set(candidate.methods) - {"HEAD", "OPTIONS"}:
                found[(method, candidate.path)] = reads
    return found


def test_each_route_declares_where_it_reads(sqlite_url: str, make_env: EnvFactory) -> None:
    routes = routes_by_reader(make_env(sqlite_url).app)
    routed = {route for route, reads in routes.items() if reads}
    assert routed == ROUTED_READS
    assert set(routes) >= ON_THE_PRIMARY, sorted(ON_THE_PRIMARY - set(routes))
    assert not routed & ON_THE_PRIMARY
    assert all(method == "GET" for method, _ in routed)


def test_a_replica_needs_postgresql_on_both_sides(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="REPLICA_URL needs PostgreSQL"):
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=f"sqlite:///{tmp_path}/a.db",
            database_replica_url="postgresql+psycopg://replica/sealtrace",
        )
    with pytest.raises(ValueError, match="REPLICA_URL needs PostgreSQL"):
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url="postgresql+psycopg://primary/sealtrace",
            database_replica_url=f"sqlite:///{tmp_path}/b.db",
        )


def test_a_replica_that_is_down_fails_only_the_routed_reads(
    pg_url: str, make_env: EnvFactory
) -> None:
    """Nothing listens on the replica's port: its reads answer 503, verify is unaffected."""
    env = make_env(
        pg_url, database_replica_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"
    )
    assert env.register(["DOWN1"]).status_code == 200
    listing = env.client.get("/v1/alerts", headers=env.auth("acme"))
    assert listing.status_code == 503
    assert listing.headers["content-type"].startswith("application/problem+json")
    assert listing.headers["retry-after"]
    assert _verify(env, "DOWN1")["verdict"] == "authentic"
    assert env.client.get("/readyz").status_code == 200  # readiness is the primary's


# On a real primary and hot standby -------------------------------------------------------------

PASSWORD = "replica-console-password-1"


@pytest.fixture(scope="module")
def replica_tokens(standby_pair: Pair) -> dict[str, str]:
    tokens = create_accounts(standby_pair.primary.url())
    engine = make_engine(standby_pair.primary.url())
    try:
        with Session(engine) as session:
            console_auth.set_password(session, "acme", PASSWORD, now=START)
    finally:
        engine.dispose()
    standby_pair.caught_up()
    return tokens


@pytest.fixture
def replica_env(standby_pair: Pair, replica_tokens: dict[str, str], make_env: EnvFactory) -> Env:
    return make_env(
        standby_pair.primary.url(),
        tokens=replica_tokens,
        database_replica_url=standby_pair.standby.url(),
    )


def _in_recovery(engine: Any) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one())


def _events(env: Env, serial: str) -> list[Any]:
    answer = env.client.get(
        "/v1/epcis/events", params={"code": f"(01){ACME_GTIN}(21){serial}"},
        headers=env.auth("acme"),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    events: list[Any] = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events


def _verify(env: Env, serial: str) -> dict[str, Any]:
    answer = env.client.post("/v1/verify", json={"code": env.sign(serial)})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_read_session_is_the_standby(replica_env: Env) -> None:
    services = replica_env.app.state.services
    assert isinstance(services, Services)
    assert _in_recovery(services.reader)
    assert not _in_recovery(services.engine)


def test_the_standby_refuses_writes(standby_pair: Pair, replica_env: Env) -> None:
    with psycopg.connect(standby_pair.standby.dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE written_on_the_standby (id int)")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM account")
    # The service's own replica engine opens read-only transactions too, so a replica URL
    # that names a primary by mistake still writes nothing.
    reader = make_engine(standby_pair.primary.url(), read_only=True)
    try:
        with reader.connect() as conn, pytest.raises(Exception, match="read-only transaction"):
            conn.execute(text("DELETE FROM account"))
    finally:
        reader.dispose()


def test_reads_answer_from_the_standby_and_writes_land_on_the_primary(
    standby_pair: Pair, replica_env: Env
) -> None:
    env = replica_env
    assert env.register(["SEEN1"]).status_code == 200
    standby_pair.caught_up()
    assert _events(env, "SEEN1"), "registration records a commissioning event"

    standby_pair.pause_replay()
    try:
        assert env.register(["LATE1"]).status_code == 200
        with psycopg.connect(standby_pair.primary.dsn()) as conn:
            row = conn.execute("SELECT count(*) FROM code WHERE serial = 'LATE1'").fetchone()
        assert row == (1,), "the write landed on the primary"
        # The routed read answers from the standby, which has not replayed it yet.
        assert _events(env, "LATE1") == []
        assert _events(env, "SEEN1")
        # Verify judges on the primary: the code registered a moment ago is authentic.
        assert _verify(env, "LATE1")["verdict"] == "authentic"
    finally:
        standby_pair.resume_replay()
    standby_pair.caught_up()
    assert _events(env, "LATE1")


def _console_sign_in(env: Env) -> None:
    form = env.client.get("/console/login")
    answer = env.client.post(
        "/console/login",
        data={"csrf": csrf_of(form.text), "username": "acme", "password": PASSWORD,
              "next": "/console/"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text


def test_a_console_action_is_followed_by_a_page_from_the_primary(
    standby_pair: Pair, replica_env: Env
) -> None:
    env = replica_env
    page = f"/console/codes/{ACME_GTIN}/HOLD1"
    assert env.register(["HOLD1"]).status_code == 200
    standby_pair.caught_up()
    _console_sign_in(env)
    shown = env.client.get(page)
    assert "Now: <strong>active</strong>" in shown.text

    standby_pair.pause_replay()
    try:
        done = env.client.post(
            page + "/status", data={"csrf": csrf_of(shown.text), "action": "lock"},
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303
        assert "st_console_fresh" in done.headers["set-cookie"]
        # The page the action leads to reads from the primary: it shows the change.
        after = env.client.get(done.headers["location"])
        assert "Now: <strong>locked</strong>" in after.text
        # Without the fresh-write cookie the page reads from the standby, still behind.
        env.client.cookies.delete("st_console_fresh", path="/console")
        assert "Now: <strong>active</strong>" in env.client.get(page).text
    finally:
        standby_pair.resume_replay()
    standby_pair.caught_up()
    assert "Now: <strong>locked</strong>" in env.client.get(page).text
