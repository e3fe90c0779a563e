"""Settings, migrations, CLI commands, failure mapping and a real uvicorn server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import SQLModel, select
from typer.testing import CliRunner

from http_api.app import create_app
from sealtrace.cli import accounts_cmd, db_cmd
from tests.verifier.conftest import free_port, running
from verifier.db.engine import make_engine
from verifier.db.migrate import alembic_config, current, upgrade
from verifier.settings import Settings

if TYPE_CHECKING:
    from tests.verifier.conftest import AppFactory, Clock, Env, World

PEPPER = "a-test-pepper-that-is-long-enough-for-production"


# Settings ---------------------------------------------------------------------------------------


def test_development_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SEALTRACE_DATABASE_URL", "DATABASE_URL", "SEALTRACE_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite:///./data/sealtrace.db"


def test_database_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEALTRACE_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db/one")
    assert Settings(_env_file=None).database_url.endswith("/one")  # type: ignore[call-arg]
    monkeypatch.setenv("SEALTRACE_DATABASE_URL", "postgresql+psycopg://db/two")
    assert Settings(_env_file=None).database_url.endswith("/two")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"environment": "production"}, "TOKEN_PEPPER"),
        ({"environment": "test", "token_pepper": "short"}, "TOKEN_PEPPER"),
        ({"environment": "production", "token_pepper": PEPPER}, "PostgreSQL"),
        (
            {
                "environment": "production",
                "token_pepper": PEPPER,
                "database_url": "postgresql+psycopg://db/x",
            },
            "REGISTRY_PUBLIC_KEY",
        ),
    ],
)
def test_unsafe_settings_are_refused_outside_development(
    values: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_production_settings_accepted_when_safe(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        token_pepper=PEPPER,
        database_url="sqlite:///x.db",
        allow_sqlite_in_production=True,
        registry_public_key=tmp_path / "registry.pub.pem",
        log_key=tmp_path / "log.key.pem",
    )
    assert settings.is_sqlite


def test_production_refuses_to_run_without_a_log_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SEALTRACE_LOG_KEY"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="production",
            token_pepper=PEPPER,
            database_url="sqlite:///x.db",
            allow_sqlite_in_production=True,
            registry_public_key=tmp_path / "registry.pub.pem",
        )


# Migrations -------------------------------------------------------------------------------------


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_migrations_match_the_models_and_go_down_and_up(database_url: str) -> None:
    import epcis.tables  # noqa: F401  (every table the migrations must create)
    import verifier.console_auth  # noqa: F401

    names = {t.name for t in SQLModel.metadata.sorted_tables}
    assert {"code", "scan", "account", "api_token", "audit_event", "trust_list"} <= names
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True},
            )
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()
    assert current(database_url) == head()
    if database_url.startswith("sqlite"):  # the shared PostgreSQL database stays migrated
        command.downgrade(alembic_config(database_url), "base")
        assert current(database_url) is None
        upgrade(database_url)
        assert current(database_url) == head()


def test_upgrade_drops_scans_an_old_version_left_pending(tmp_path: Path) -> None:
    # Versions before 0005 stored a scan as 'pending' first; a crash could leave one behind.
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004_console")
    engine = make_engine(url)
    row = (
        "INSERT INTO scan (scan_id, gtin, serial, scanned_at, recorded_at, role, verdict, "
        "reasons, answer) VALUES (:id, '09506000134352', 'S1', '2026-11-20 09:00:00', "
        "'2026-11-20 09:00:00', 'anonymous', :verdict, '[]', :answer)"
    )
    try:
        with engine.begin() as connection:
            for scan_id, verdict, answer in (("left", "pending", ""), ("done", "authentic", "{}")):
                connection.execute(text(row), {"id": scan_id, "verdict": verdict, "answer": answer})
        upgrade(url)
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT scan_id FROM scan")).scalars().all()
    finally:
        engine.dispose()
    assert kept == ["done"]


# CLI --------------------------------------------------------------------------------------------


def test_cli_db_upgrade_and_accounts_lifecycle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(db_cmd.app, ["upgrade", "--db", url])
    assert result.exit_code == 0, result.output
    assert str(head()) in result.output
    create = ["create", "--role", "brand", "--name", "acme-1", "--brand", "acme", "--db", url]
    assert runner.invoke(accounts_cmd.app, create).exit_code == 0
    duplicate = runner.invoke(accounts_cmd.app, create)
    assert duplicate.exit_code == 2
    assert "already exists" in duplicate.output
    no_brand = ["create", "--role", "brand", "--name", "x", "--db", url]
    assert runner.invoke(accounts_cmd.app, no_brand).exit_code == 2
    token = runner.invoke(accounts_cmd.app, ["token", "acme-1", "--db", url])
    assert token.exit_code == 0
    issued = token.stdout.strip().splitlines()[-1]
    assert issued.startswith("st_")
    assert len(issued) == 46
    revoked = runner.invoke(accounts_cmd.app, ["revoke", issued[:8], "--db", url])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked 1" in revoked.output
    again = runner.invoke(accounts_cmd.app, ["revoke", "acme-1", "--db", url])
    assert again.exit_code == 2  # nothing left to revoke
    listing = runner.invoke(accounts_cmd.app, ["list", "--db", url])
    assert "acme-1\tbrand\tacme" in listing.output


def test_tokens_are_stored_only_as_peppered_hashes(env: Env) -> None:
    from verifier.db.models import ApiToken

    with env.session() as session:
        rows = session.exec(select(ApiToken)).all()
    stored = {r.token_hash for r in rows} | {r.prefix for r in rows}
    assert not set(env.tokens.values()) & stored
    assert all(len(r.token_hash) == 64 for r in rows)


# Failures ---------------------------------------------------------------------------------------


def test_without_a_trust_list_verify_is_503(make_app: AppFactory) -> None:
    with TestClient(make_app(trust_list=None)) as client:
        response = client.post("/v1/verify", json={"code": "(01)09506000000428(21)A1"})
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert client.get("/readyz").status_code == 503


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/never-migrated.db",  # tables missing: OperationalError
        "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",  # nothing listens
    ],
)
def test_database_down_is_503(world: World, clock: Clock, tmp_path: Path, url: str) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=url.format(tmp=tmp_path),
        token_pepper=PEPPER,
        registry_public_key=world.registry_key_path,
        trust_list=world.trust_list_path,
    )
    with TestClient(create_app(settings, clock=clock)) as client:  # starts despite the database
        for response in (
            client.get("/readyz"),
            client.post("/v1/verify", json={"code": world.sign("A1")}),
        ):
            assert response.status_code == 503
            assert response.json()["title"] == "Service unavailable"
        assert client.get("/healthz").status_code == 200


def test_unexpected_errors_are_500_with_only_a_request_id(env: Env) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    env.app.add_api_route("/boom", boom)
    with TestClient(env.app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    body = response.json()
    assert body["request_id"] == "req-42"
    assert "secret" not in response.text


# A real server ----------------------------------------------------------------------------------


@pytest.fixture
def live_server(
    make_app: AppFactory, add_accounts: Callable[[FastAPI], dict[str, str]]
) -> Iterator[tuple[str, dict[str, str]]]:
    app = make_app()
    with running(app) as base:
        yield base, add_accounts(app)


def test_real_server_registers_and_judges_concurrent_scans(
    live_server: tuple[str, dict[str, str]], world: World
) -> None:
    base, tokens = live_server
    brand = {"Authorization": f"Bearer {tokens['acme']}"}
    officer = {"Authorization": f"Bearer {tokens['officer']}"}
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/healthz").text == "ok"
        registered = client.post(
            "/v1/registrations",
            headers=brand,
            json={"batch_id": "LIVE", "gtin": world.acme_gtin, "key_id": world.acme_cert.key_id,
                  "serials": ["LIVE1"]},
        )  # fmt: skip
        assert registered.json()["registered"] == 1
        uri = world.sign("LIVE1")

        def scan(i: int) -> str:
            # Two phones checking repeatedly: concurrent, but no crowd of devices to flag.
            body = {"code": uri, "scan_id": str(uuid.uuid4()), "device_id": f"phone-{i % 2}"}
            verdict: str = client.post("/v1/verify", json=body).json()["verdict"]
            return verdict

        with ThreadPoolExecutor(max_workers=4) as pool:
            verdicts = list(pool.map(scan, range(8)))
        assert verdicts == ["authentic"] * 8
        answer = client.post("/v1/verify", json={"code": uri}, headers=officer).json()
        assert len(answer["history"]) == 8  # every concurrent scan landed
        bad = client.post("/v1/verify", content=b"{", headers={"Content-Type": "application/json"})
        assert bad.status_code == 422


def test_cli_accounts_on_an_unmigrated_database_fails_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(accounts_cmd.app, ["token", "nobody", "--db", url])
    assert result.exit_code == 2
    assert "sealtrace db upgrade" in result.output


def test_serve_migrates_and_serves(tmp_path: Path) -> None:
    """`sealtrace serve` as a process: migrations at start, the factory app, a clean stop."""
    import os
    import subprocess
    import sys
    from datetime import UTC, datetime

    from authn.code import ProductCode
    from authn.digital_link import format_digital_link
    from authn.signing import sign_code
    from keys.filestore import export_public_key
    from keys.sample import gtin_with_prefix, sample_hierarchy

    # The server runs on the real clock, so its trust hierarchy starts now.
    hierarchy = sample_hierarchy(datetime.now(UTC))
    (tmp_path / "registry.pub.pem").write_bytes(export_public_key(hierarchy.registry.public_key()))
    (tmp_path / "trust.json").write_bytes(hierarchy.trust_list.to_signed_json())
    code = ProductCode(gtin=gtin_with_prefix("9506000", "42"), serial="S1")
    uri = format_digital_link(sign_code(code, hierarchy.line_key).ais())
    port = free_port()
    database = tmp_path / "served.db"
    env = {
        **os.environ,
        "SEALTRACE_ENVIRONMENT": "development",
        "SEALTRACE_REGISTRY_PUBLIC_KEY": str(tmp_path / "registry.pub.pem"),
        "SEALTRACE_TRUST_LIST": str(tmp_path / "trust.json"),
    }
    env.pop("SEALTRACE_DATABASE_URL", None)
    script = "import typer; from sealtrace.cli.serve_cmd import serve; typer.run(serve)"
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--port", str(port), "--db", f"sqlite:///{database}"],
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not become ready"
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert ready.json()["trust_list_version"] == 1
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/verify", json={"code": uri})
        assert answer.json()["verdict"] == "suspect"  # genuine, never registered
        assert current(f"sqlite:///{database}") == head()
    finally:
        process.terminate()
        process.wait(timeout=10)
