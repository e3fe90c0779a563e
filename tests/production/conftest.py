"""Fixtures of the production tests: two brands under one registry, the full app (verifier
plus mobile API) in-process or as a real ``sealtrace serve`` subprocess with N workers, on
SQLite or PostgreSQL, accounts with tokens, and a TCP proxy that can cut the database off.

Time is the real clock here: servers in subprocesses cannot share a test clock, so the
trust list is made valid around now.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text
from sqlmodel import Session

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from authn.signing import sign_code
from keys.authority import BrandApplication, issue_line_certificate, register_brand
from keys.filestore import export_public_key
from keys.model import Brand, Contact, LineCertificate
from keys.sample import gtin_with_prefix
from keys.trust import build_trust_list
from mobile_api.app import create_app
from tests.conftest import require
from tests.production import standby
from verifier import accounts
from verifier.db.engine import make_engine
from verifier.db.migrate import upgrade
from verifier.db.models import Account, ApiToken
from verifier.settings import Settings

REPO = Path(__file__).resolve().parents[2]
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
ACME_GTIN = "0" + gtin_with_prefix("9506000", "42")
OTHER_GTIN = "0" + gtin_with_prefix("9512345", "42")
PEPPER = "prod-test-pepper-" + "p" * 40
ACCOUNTS = {
    "officer": ("officer", None),
    "admin": ("admin", None),
    "acme": ("brand", "acme"),
    "other": ("brand", "other"),
}


@dataclass
class World:
    """Brands acme (9506000) and other (9512345), each with a root and one line key."""

    registry: Ed25519PrivateKey
    roots: dict[str, Ed25519PrivateKey]
    lines: dict[str, Ed25519PrivateKey]
    brands: dict[str, Brand]
    certs: dict[str, LineCertificate]
    directory: Path

    @property
    def registry_key_path(self) -> Path:
        return self.directory / "registry.pub.pem"

    @property
    def trust_list_path(self) -> Path:
        return self.directory / "trust-list.json"

    def private_keys(self) -> list[Ed25519PrivateKey]:
        return [self.registry, *self.roots.values(), *self.lines.values()]


def _brand(brand_id: str, prefix: str) -> tuple[Brand, Ed25519PrivateKey]:
    root = Ed25519PrivateKey.generate()
    application = BrandApplication(
        id=brand_id,
        name=f"{brand_id.title()} Goods",
        prefixes=(prefix,),
        root_key=root.public_key(),
        contact=Contact(email=f"security@{brand_id}.example"),
    )
    return register_brand(application, registered_by="registry", at=START), root


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    directory = tmp_path_factory.mktemp("trust")
    registry = Ed25519PrivateKey.generate()
    brands, roots, lines, certs = {}, {}, {}, {}
    for brand_id, prefix in (("acme", "9506000"), ("other", "9512345")):
        brand, root = _brand(brand_id, prefix)
        line = Ed25519PrivateKey.generate()
        certs[brand_id] = issue_line_certificate(
            root, brand, line.public_key(), name="line-1", prefixes=brand.prefixes,
            not_before=START, not_after=START + timedelta(days=365), issued_at=START,
        )  # fmt: skip
        brands[brand_id], roots[brand_id], lines[brand_id] = brand, root, line
    w = World(registry, roots, lines, brands, certs, directory)
    trust_list = build_trust_list(
        registry, version=1, issued_at=START, expires_at=START + timedelta(days=30),
        brands=list(brands.values()), line_keys=list(certs.values()), revocations=[],
    )  # fmt: skip
    w.registry_key_path.write_bytes(export_public_key(registry.public_key()))
    w.trust_list_path.write_bytes(trust_list.to_signed_json())
    return w


def signed_uri(world: World, serial: str, *, brand: str = "acme") -> str:
    gtin = ACME_GTIN if brand == "acme" else OTHER_GTIN
    code = sign_code(ProductCode(gtin=gtin, serial=serial), world.lines[brand])
    return format_digital_link(code.ais())


def registration(world: World, serials: list[str], *, brand: str = "acme") -> dict[str, Any]:
    return {
        "batch_id": f"B-{uuid.uuid4().hex[:8]}",
        "gtin": ACME_GTIN if brand == "acme" else OTHER_GTIN,
        "key_id": world.certs[brand].key_id,
        "intended_markets": [],
        "serials": serials,
    }


# Databases -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "sealtrace.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def pg_session_db(postgres_url: str) -> Iterator[str]:
    """A uniquely named, migrated database for this session, dropped at the end."""
    admin_dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    name = f"sealtrace_prod_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_session_db: str) -> str:
    """The session database, emptied (every table but alembic_version)."""
    engine = make_engine(pg_session_db)
    try:
        with engine.begin() as conn:
            names = list(
                conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                        "AND tablename <> 'alembic_version'"
                    )
                ).scalars()
            )
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for name in names:
                conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608  (names from pg_tables)
    finally:
        engine.dispose()
    return pg_session_db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


def create_accounts(url: str) -> dict[str, str]:
    """The ``ACCOUNTS`` with one token each; returns the tokens."""
    engine = make_engine(url)
    tokens = {}
    try:
        with Session(engine) as session:
            rows = {
                name: Account(name=name, role=role, brand_id=brand, created_at=START)
                for name, (role, brand) in ACCOUNTS.items()
            }
            session.add_all(rows.values())
            session.flush()
            for name, account in rows.items():
                assert account.id is not None
                tokens[name] = accounts.new_token()
                session.add(
                    ApiToken(
                        account_id=account.id,
                        prefix=tokens[name][: accounts.PREFIX_CHARS],
                        token_hash=accounts.hash_token(tokens[name], PEPPER.encode()),
                        created_at=START,
                    )
                )
            session.commit()
    finally:
        engine.dispose()
    return tokens


def settings_env(url: str, world: World, **extra: str) -> dict[str, str]:
    """The SEALTRACE_* variables of a server on ``url`` (for subprocesses and Settings)."""
    return {
        "SEALTRACE_ENVIRONMENT": "test",
        "SEALTRACE_DATABASE_URL": url,
        "SEALTRACE_TOKEN_PEPPER": PEPPER,
        "SEALTRACE_REGISTRY_PUBLIC_KEY": str(world.registry_key_path),
        "SEALTRACE_TRUST_LIST": str(world.trust_list_path),
        "SEALTRACE_TRUST_REFRESH_SECONDS": "0",
        **extra,
    }


def make_settings(url: str, world: World, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": url,
        "token_pepper": PEPPER,
        "registry_public_key": world.registry_key_path,
        "trust_list": world.trust_list_path,
        "trust_refresh_seconds": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# The app in-process ----------------------------------------------------------------------------


@dataclass
class Env:
    client: TestClient
    app: FastAPI
    world: World
    tokens: dict[str, str]
    url: str

    def auth(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def sign(self, serial: str, brand: str = "acme") -> str:
        return signed_uri(self.world, serial, brand=brand)

    def register(self, serials: list[str], brand: str = "acme") -> httpx.Response:
        body = registration(self.world, serials, brand=brand)
        response: httpx.Response = self.client.post(
            "/v1/registrations", json=body, headers=self.auth(brand)
        )
        return response


EnvFactory = Callable[..., Env]


@pytest.fixture
def make_env(world: World) -> Iterator[EnvFactory]:
    """Build an in-process app on a database URL; keyword arguments override settings."""
    clients: list[TestClient] = []

    def build(
        url: str,
        *,
        bundle_signer: Any = None,
        tokens: dict[str, str] | None = None,
        **overrides: Any,
    ) -> Env:
        """``tokens``: accounts made before on ``url`` (else they are made now)."""
        tokens = tokens if tokens is not None else create_accounts(url)
        app = create_app(make_settings(url, world, **overrides), bundle_signer=bundle_signer)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return Env(client, app, world, tokens, url)

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def env(database_url: str, make_env: EnvFactory) -> Env:
    return make_env(database_url)


# Real servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """``sealtrace serve`` in its own process group (workers die with it on kill)."""

    command: list[str]
    environ: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.command, "--port", str(self.port)],
            env=self.environ, cwd=REPO, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise AssertionError(f"server not ready: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL to the whole group: the master and every worker, no clean shutdown."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


ServerFactory = Callable[..., Server]


@pytest.fixture
def serve(world: World, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start ``sealtrace serve --workers N`` on a database URL (already migrated)."""
    servers: list[Server] = []

    def start(url: str, *, workers: int = 1, **extra_env: str) -> Server:
        environ = {**os.environ, **settings_env(url, world, **extra_env)}
        environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / f"metrics-{len(servers)}")
        command = [
            sys.executable, "-m", "sealtrace", "serve", "--db", url, "--no-migrate",
            "--workers", str(workers), "--log-level", "warning",
        ]  # fmt: skip
        server = Server(command, environ, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


# A TCP proxy to the database that a test can cut and restore -----------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` closes every connection and refuses
    new ones, ``restore()`` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.restore()

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.writers.difference_update((writer, up_writer))

    def restore(self) -> None:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._handle, "127.0.0.1", self.port)

        self.server = self._run(start())

    def cut(self) -> None:
        async def stop() -> None:
            if self.server is not None:
                self.server.close()
            for writer in list(self.writers):
                transport = writer.transport
                transport.abort()
            self.writers.clear()

        self._run(stop())
        self.server = None

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def pg_proxy(pg_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A proxy to PostgreSQL and the database URL through it."""
    parsed = make_url(pg_url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    try:
        yield proxy, parsed.set(port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.close()


# A primary and its hot standby -----------------------------------------------------------------


@pytest.fixture(scope="module")
def standby_pair() -> Iterator[standby.Pair]:
    """A migrated primary and its hot standby on free ports, stopped and removed at the end."""
    reason = standby.missing()
    require(reason is None, reason or "")
    pair = standby.start_pair(free_port(), free_port())
    try:
        upgrade(pair.primary.url())
        pair.caught_up()
        yield pair
    finally:
        pair.stop()
