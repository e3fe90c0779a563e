"""Fixtures of the mobile tests: a trust hierarchy, a settable clock, the full app (verifier
plus mobile_api) on SQLite or PostgreSQL, accounts with tokens, and a real uvicorn server."""

from __future__ import annotations

import io
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import make_url, text
from sqlmodel import Session, SQLModel

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from authn.signing import sign_code
from http_api.deps import Services
from issuer.render import render_png
from keys.authority import BrandApplication, issue_line_certificate, register_brand, revoke
from keys.filestore import export_public_key
from keys.model import Brand, Contact, LineCertificate, Revocation
from keys.sample import gtin_with_prefix
from keys.trust import TrustList, build_trust_list
from mobile_api.app import create_app
from mobile_api.settings import MobileSettings
from verifier import accounts
from verifier.db.engine import make_engine
from verifier.db.migrate import upgrade
from verifier.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACME_GTIN = "0" + gtin_with_prefix("9506000", "42")
PEPPER = "test-pepper-" + "m" * 40
ACCOUNTS = {"officer": ("officer", None), "admin": ("admin", None), "acme": ("brand", "acme")}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    registry: Ed25519PrivateKey
    acme: Brand
    acme_line: Ed25519PrivateKey
    acme_cert: LineCertificate
    leaked_line: Ed25519PrivateKey  # revoked as compromised since NOW - 1 day
    leaked_cert: LineCertificate
    revocation: Revocation
    trust_list: TrustList
    directory: Path
    bundle_key: Ed25519PrivateKey

    @property
    def registry_key_path(self) -> Path:
        return self.directory / "registry.pub.pem"

    @property
    def bundle_key_path(self) -> Path:
        return self.directory / "bundle.pub.pem"

    @property
    def trust_list_path(self) -> Path:
        return self.directory / "trust-list.json"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    directory = tmp_path_factory.mktemp("mobile-trust")
    root = Ed25519PrivateKey.generate()
    acme = register_brand(
        BrandApplication(
            id="acme", name="Acme Pharma", prefixes=("9506000",), root_key=root.public_key(),
            contact=Contact(email="security@acme.example", url="https://acme.example/report"),
        ),
        registered_by="registry", at=NOW - timedelta(days=30),
    )  # fmt: skip

    def certify(name: str) -> tuple[Ed25519PrivateKey, LineCertificate]:
        line = Ed25519PrivateKey.generate()
        cert = issue_line_certificate(
            root, acme, line.public_key(), name=name, prefixes=acme.prefixes,
            not_before=NOW - timedelta(days=30), not_after=NOW + timedelta(days=365),
            issued_at=NOW - timedelta(days=30),
        )  # fmt: skip
        return line, cert

    acme_line, acme_cert = certify("line-1")
    leaked_line, leaked_cert = certify("line-leaked")
    revocation = revoke(
        leaked_cert, compromised_since=NOW - timedelta(days=1), revoked_at=NOW,
        reason="key copied from a line PC",
    )  # fmt: skip
    registry = Ed25519PrivateKey.generate()
    trust_list = build_trust_list(
        registry, version=1, issued_at=NOW - timedelta(days=1), expires_at=NOW + timedelta(days=90),
        brands=[acme], line_keys=[acme_cert, leaked_cert], revocations=[revocation],
    )  # fmt: skip
    w = World(
        registry, acme, acme_line, acme_cert, leaked_line, leaked_cert, revocation, trust_list,
        directory, Ed25519PrivateKey.generate(),
    )  # fmt: skip
    w.registry_key_path.write_bytes(export_public_key(registry.public_key()))
    w.bundle_key_path.write_bytes(export_public_key(w.bundle_key.public_key()))
    w.trust_list_path.write_bytes(trust_list.to_signed_json())
    return w


def signed_uri(
    key: Ed25519PrivateKey,
    serial: str,
    *,
    gtin: str = ACME_GTIN,
    lot: str | None = None,
    expiry: str | None = None,
    base: str = "https://id.example.com",
) -> str:
    code = sign_code(ProductCode(gtin=gtin, serial=serial, lot=lot, expiry=expiry), key)
    return format_digital_link(code.ais(), base)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mobile-sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database(postgres_url: str) -> Iterator[str]:
    admin_dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    name = f"sealtrace_mobile_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(url: str) -> None:
    import verifier.db.models  # noqa: F401  (tables on the metadata)

    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def sqlite_url(tmp_path: Path, template: Path) -> str:
    path = tmp_path / "sealtrace.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path, sqlite_template)
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def sqlite_database(tmp_path: Path, sqlite_template: Path) -> str:
    return sqlite_url(tmp_path, sqlite_template)


@dataclass
class Env:
    client: TestClient
    app: FastAPI
    clock: Clock
    world: World
    tokens: dict[str, str]

    @property
    def services(self) -> Services:
        services = self.app.state.services
        assert isinstance(services, Services)
        return services

    def session(self) -> Session:
        return Session(self.services.engine)

    def auth(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def sign(self, serial: str, *, key: Ed25519PrivateKey | None = None, **fields: Any) -> str:
        return signed_uri(key or self.world.acme_line, serial, **fields)

    def register(
        self, serials: list[str], *, lot: str | None = None, key_id: str | None = None
    ) -> None:
        body = {
            "batch_id": f"B-{lot or 'none'}-{key_id or 'main'}", "gtin": ACME_GTIN, "lot": lot,
            "expiry": None, "key_id": key_id or self.world.acme_cert.key_id,
            "intended_markets": [], "serials": serials,
        }  # fmt: skip
        response = self.client.post("/v1/registrations", json=body, headers=self.auth("acme"))
        assert response.status_code == 200, response.text

    def set_status(self, serial: str, status: str) -> None:
        response = self.client.post(
            f"/v1/codes/{ACME_GTIN}/{serial}/status", json={"status": status},
            headers=self.auth("acme"),
        )  # fmt: skip
        assert response.status_code == 200, response.text

    def recall_lot(self, lot: str) -> None:
        response = self.client.post(
            f"/v1/lots/{ACME_GTIN}/{lot}/status", json={"status": "recalled"},
            headers=self.auth("acme"),
        )  # fmt: skip
        assert response.status_code == 200, response.text


def make_app(database_url: str, world: World, clock: Clock, **overrides: Any) -> FastAPI:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test", database_url=database_url, token_pepper=SecretStr(PEPPER),
        registry_public_key=world.registry_key_path, trust_list=world.trust_list_path,
        trust_refresh_seconds=0, **overrides,
    )  # fmt: skip
    mobile = MobileSettings(_env_file=None, filter_min_capacity=1024)  # type: ignore[call-arg]
    return create_app(settings, mobile_settings=mobile, bundle_signer=world.bundle_key, clock=clock)


def create_accounts(engine: Any, now: datetime) -> dict[str, str]:
    tokens = {}
    with Session(engine) as session:
        for name, (role, brand) in ACCOUNTS.items():
            accounts.create_account(
                session, name=name, role=accounts.Role(role), now=now, brand_id=brand
            )
            tokens[name] = accounts.issue_token(session, name, pepper=PEPPER.encode(), now=now)
    return tokens


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def env_with(database_url: str, world: World, clock: Clock, **overrides: Any) -> Iterator[Env]:
    """The app with its accounts; ``overrides`` are service settings (a test's own limits)."""
    app = make_app(database_url, world, clock, **overrides)
    with TestClient(app, base_url="https://id.example.com") as client:
        tokens = create_accounts(app.state.services.engine, clock())
        yield Env(client, app, clock, world, tokens)


@pytest.fixture
def env(sqlite_database: str, world: World, clock: Clock) -> Iterator[Env]:
    """The app on SQLite (most tests)."""
    yield from env_with(sqlite_database, world, clock)


@pytest.fixture
def any_env(database_url: str, world: World, clock: Clock) -> Iterator[Env]:
    """The app on SQLite and on PostgreSQL."""
    yield from env_with(database_url, world, clock)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    base_url: str
    env: Env


@pytest.fixture
def live_server(sqlite_database: str, world: World, clock: Clock) -> Iterator[LiveServer]:
    """The app under a real uvicorn on 127.0.0.1 (a thread), with accounts created."""
    yield from live_server_with(sqlite_database, world, clock)


def live_server_with(
    database_url: str, world: World, clock: Clock, **overrides: Any
) -> Iterator[LiveServer]:
    """:func:`live_server` with service settings of a test's own (a trusted proxy list)."""
    app = make_app(database_url, world, clock, **overrides)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    tokens = create_accounts(app.state.services.engine, clock())
    client = TestClient(app, base_url=base)  # for setup calls (registrations) in-process
    try:
        yield LiveServer(base, Env(client, app, clock, world, tokens))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def http(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30)


# Label photos ---------------------------------------------------------------------------------


def label_png(payload: str, *, carrier: str = "qr", module_px: int = 8) -> bytes:
    return render_png(payload, carrier=carrier, module_px=module_px)  # type: ignore[arg-type]


def photograph(
    png: bytes, *, angle: float = 20, scale: float = 0.5, quality: int = 40, canvas: int = 900
) -> bytes:
    """Like a phone photo of a label on a grey box: off-axis, smaller, lossy."""
    label = Image.open(io.BytesIO(png)).convert("L")
    background = Image.new("L", (canvas, canvas), 170)
    background.paste(label, ((canvas - label.width) // 2, (canvas - label.height) // 2))
    rotated = background.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=170)
    small = rotated.resize(
        (int(canvas * scale), int(canvas * scale)), resample=Image.Resampling.LANCZOS
    )
    out = io.BytesIO()
    small.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()
