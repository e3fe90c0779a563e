"""Fixtures of the verifier tests: a two-brand trust hierarchy, a settable clock, the app on
SQLite and on PostgreSQL (a fresh database per session), and accounts with tokens."""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import psycopg
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text
from sqlmodel import Session

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from authn.signing import sign_code
from http_api.app import create_app
from http_api.deps import Services
from keys.authority import BrandApplication, issue_line_certificate, register_brand, revoke
from keys.filestore import export_public_key
from keys.model import Brand, Contact, LineCertificate, Revocation
from keys.sample import gtin_with_prefix
from keys.trust import TrustList, build_trust_list
from verifier import accounts
from verifier.db.engine import make_engine
from verifier.db.migrate import upgrade
from verifier.db.models import Account, ApiToken
from verifier.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACME_GTIN = "0" + gtin_with_prefix("9506000", "42")
ACME_GTIN_2 = "0" + gtin_with_prefix("9506000", "77")
OTHER_GTIN = "0" + gtin_with_prefix("9512345", "42")
UNENROLLED_GTIN = "0" + gtin_with_prefix("4000001", "7")
PEPPER = "test-pepper-" + "x" * 40
ACCOUNTS = {
    "officer": ("officer", None),
    "admin": ("admin", None),
    "acme": ("brand", "acme"),
    "acme-clerk": ("brand", "acme"),
    "other": ("brand", "other"),
}


class Clock:
    """The service's clock in tests: set it, advance it; never patch time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    """Keys and signed trust lists: brands acme (9506000) and other (9512345)."""

    registry: Ed25519PrivateKey
    acme: Brand
    acme_line: Ed25519PrivateKey
    acme_cert: LineCertificate
    other: Brand
    other_line: Ed25519PrivateKey
    other_cert: LineCertificate
    leaked_line: Ed25519PrivateKey  # certified for acme, revoked as compromised since NOW + 1 day
    leaked_cert: LineCertificate
    revocation: Revocation
    trust_list: TrustList
    directory: Path
    roots: dict[str, Ed25519PrivateKey] = field(default_factory=dict)

    @property
    def registry_key_path(self) -> Path:
        return self.directory / "registry.pub.pem"

    @property
    def trust_list_path(self) -> Path:
        return self.directory / "trust-list.json"

    acme_gtin: ClassVar[str] = ACME_GTIN

    def sign(self, serial: str, **fields: Any) -> str:
        """A label's Digital Link URI for an acme code, signed by acme's line key."""
        return signed_uri(self.acme_line, serial, **fields)

    def build(self, version: int, *, revocations: bool = True) -> TrustList:
        return build_trust_list(
            self.registry,
            version=version,
            issued_at=NOW,
            expires_at=NOW + timedelta(days=90),
            brands=[self.acme, self.other],
            line_keys=[self.acme_cert, self.other_cert, self.leaked_cert],
            revocations=[self.revocation] if revocations else [],
        )


def _brand(brand_id: str, name: str, prefix: str) -> tuple[Brand, Ed25519PrivateKey]:
    root = Ed25519PrivateKey.generate()
    application = BrandApplication(
        id=brand_id,
        name=name,
        prefixes=(prefix,),
        root_key=root.public_key(),
        contact=Contact(email=f"security@{brand_id}.example"),
    )
    return register_brand(application, registered_by="registry", at=NOW - timedelta(days=30)), root


def _certify(brand: Brand, root: Ed25519PrivateKey, name: str) -> tuple[Ed25519PrivateKey, Any]:
    line = Ed25519PrivateKey.generate()
    cert = issue_line_certificate(
        root,
        brand,
        line.public_key(),
        name=name,
        prefixes=brand.prefixes,
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=365),
        issued_at=NOW - timedelta(days=30),
    )
    return line, cert


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    directory = tmp_path_factory.mktemp("trust")
    acme, acme_root = _brand("acme", "Acme Pharma", "9506000")
    other, other_root = _brand("other", "Other Goods", "9512345")
    acme_line, acme_cert = _certify(acme, acme_root, "line-1")
    other_line, other_cert = _certify(other, other_root, "line-1")
    leaked_line, leaked_cert = _certify(acme, acme_root, "line-leaked")
    revocation = revoke(
        leaked_cert,
        compromised_since=NOW + timedelta(days=1),
        revoked_at=NOW + timedelta(days=1),
        reason="key copied from a line PC",
    )
    registry = Ed25519PrivateKey.generate()
    w = World(
        registry, acme, acme_line, acme_cert, other, other_line, other_cert, leaked_line,
        leaked_cert, revocation, trust_list=None, directory=directory,  # type: ignore[arg-type]
    )  # fmt: skip
    w.trust_list = w.build(1)
    w.registry_key_path.write_bytes(export_public_key(registry.public_key()))
    w.trust_list_path.write_bytes(w.trust_list.to_signed_json())
    return w


def signed_uri(
    key: Ed25519PrivateKey,
    serial: str,
    *,
    gtin: str = ACME_GTIN,
    lot: str | None = None,
    expiry: str | None = None,
) -> str:
    """The Digital Link URI a label would carry."""
    code = sign_code(ProductCode(gtin=gtin, serial=serial, lot=lot, expiry=expiry), key)
    return format_digital_link(code.ais())


def unsigned_uri(serial: str, *, gtin: str) -> str:
    return format_digital_link(ProductCode(gtin=gtin, serial=serial).ais())


# Databases -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database(postgres_url: str) -> Iterator[str]:
    """A uniquely named, migrated database for this session, dropped at the end."""
    admin_url = make_url(postgres_url).set(drivername="postgresql")
    name = f"sealtrace_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = admin_url.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _empty_tables(url: str) -> None:
    """Empty every table of the session database (all migrations' tables, not only ours).

    DELETE with foreign-key triggers off is much faster than TRUNCATE on small tables.
    """
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            names = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version'"
                )
            ).scalars()
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for name in list(names):
                conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608  (names from pg_tables)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "sealtrace.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _empty_tables(url)
    return url


# The app ---------------------------------------------------------------------------------------


@dataclass
class Env:
    """The running app with its clock, keys and one token per account in ``ACCOUNTS``."""

    ACME_GTIN: ClassVar[str] = ACME_GTIN
    ACME_GTIN_2: ClassVar[str] = ACME_GTIN_2
    OTHER_GTIN: ClassVar[str] = OTHER_GTIN
    UNENROLLED_GTIN: ClassVar[str] = UNENROLLED_GTIN
    PEPPER: ClassVar[str] = PEPPER

    client: TestClient
    app: FastAPI
    clock: Clock
    world: World
    settings: Settings
    tokens: dict[str, str]

    @property
    def services(self) -> Services:
        services = self.app.state.services
        assert isinstance(services, Services)
        return services

    def sign(
        self,
        serial: str,
        *,
        key: Ed25519PrivateKey | None = None,
        gtin: str = ACME_GTIN,
        lot: str | None = None,
        expiry: str | None = None,
    ) -> str:
        return signed_uri(key or self.world.acme_line, serial, gtin=gtin, lot=lot, expiry=expiry)

    def unsigned(self, serial: str, *, gtin: str) -> str:
        return unsigned_uri(serial, gtin=gtin)

    def session(self) -> Session:
        return Session(self.services.engine)

    def auth(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def verify(self, code: str, who: str | None = None, **fields: Any) -> httpx.Response:
        return self.client.post("/v1/verify", json={"code": code, **fields}, headers=self.auth(who))

    def register(self, serials: list[str], who: str = "acme", **fields: Any) -> httpx.Response:
        body = {
            "batch_id": "B1",
            "gtin": ACME_GTIN,
            "lot": None,
            "expiry": None,
            "key_id": self.world.acme_cert.key_id,
            "intended_markets": [],
            "serials": serials,
            **fields,
        }
        return self.client.post("/v1/registrations", json=body, headers=self.auth(who))

    def set_status(
        self, serial: str, status: str, who: str = "acme", gtin: str = ACME_GTIN
    ) -> httpx.Response:
        return self.client.post(
            f"/v1/codes/{gtin}/{serial}/status", json={"status": status}, headers=self.auth(who)
        )


def make_settings(database_url: str, world: World, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "token_pepper": PEPPER,
        "registry_public_key": world.registry_key_path,
        "trust_list": world.trust_list_path,
        "trust_refresh_seconds": 0,
        # The webhook tests' receiver listens on 127.0.0.1: allowed here, and only here.
        "webhook_allow_networks": ["127.0.0.1/32"],
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def create_accounts(engine: Any, now: datetime) -> dict[str, str]:
    """The ``ACCOUNTS`` with one token each, in one transaction (the fixture runs per test)."""
    tokens = {}
    with Session(engine) as session:
        rows = {
            name: Account(
                name=name, role=role, brand_id=brand, contact=f"{name}@example.org",
                created_at=now,
            )
            for name, (role, brand) in ACCOUNTS.items()
        }  # fmt: skip
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
                    created_at=now,
                )
            )
        session.commit()
    return tokens


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(database_url: str, world: World, clock: Clock) -> AppFactory:
    """Build an app on this test's database; keyword arguments override settings."""

    def build(**overrides: Any) -> FastAPI:
        url = overrides.pop("database_url", database_url)
        return create_app(make_settings(url, world, **overrides), clock=clock)

    return build


@pytest.fixture
def add_accounts(clock: Clock) -> Callable[[FastAPI], dict[str, str]]:
    """Create the ``ACCOUNTS`` on an app's database; returns their tokens."""
    return lambda app: create_accounts(app.state.services.engine, clock())


@pytest.fixture
def env(database_url: str, world: World, clock: Clock) -> Iterator[Env]:
    settings = make_settings(database_url, world)
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        tokens = create_accounts(app.state.services.engine, clock())
        yield Env(client, app, clock, world, settings, tokens)


# A real server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free port in a thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
