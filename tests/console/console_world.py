"""The console tests' world: two brands, four accounts with passwords, a copied code.

Imported by the console conftest and tests (a plain module, so that its name
does not collide with other areas' conftest modules).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from authn.signing import sign_code
from detection import Finding
from keys.authority import BrandApplication, issue_line_certificate, register_brand, revoke
from keys.filestore import export_public_key
from keys.model import Brand, Contact, LineCertificate
from keys.sample import gtin_with_prefix
from keys.trust import build_trust_list
from mobile_api.app import create_app
from mobile_api.settings import MobileSettings
from verifier import accounts, console_auth
from verifier import alert_raising as alert_service
from verifier.db.migrate import upgrade
from verifier.db.models import Alert
from verifier.settings import Settings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PEPPER = "console-test-pepper-" + "c" * 40
PASSWORD = "correct horse battery staple"
ACME_GTIN = "0" + gtin_with_prefix("9506000", "42")
BRAVO_GTIN = "0" + gtin_with_prefix("9507000", "7")
# name -> (role, brand)
ACCOUNTS = {
    "officer": ("officer", None),
    "admin": ("admin", None),
    "acme-owner": ("brand", "acme"),
    "bravo-owner": ("brand", "bravo"),
    "pharmacy": ("trade", None),  # verifies only: no console page is for it
}
PARIS = (48.8566, 2.3522)
SHANGHAI = (31.2304, 121.4737)
LYON = (45.764, 4.8357)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Trust:
    directory: Path
    lines: dict[str, tuple[Ed25519PrivateKey, LineCertificate]] = field(default_factory=dict)
    brands: dict[str, Brand] = field(default_factory=dict)

    @property
    def registry_key_path(self) -> Path:
        return self.directory / "registry.pub.pem"

    @property
    def trust_list_path(self) -> Path:
        return self.directory / "trust-list.json"


def make_trust(directory: Path) -> Trust:
    trust = Trust(directory)
    certs = []
    revocations = []
    for brand_id, name, prefix in (
        ("acme", "Acme Pharma", "9506000"),
        ("bravo", "Bravo Foods", "9507000"),
    ):
        root = Ed25519PrivateKey.generate()
        brand = register_brand(
            BrandApplication(
                id=brand_id, name=name, prefixes=(prefix,), root_key=root.public_key(),
                contact=Contact(email=f"security@{brand_id}.example"),
            ),
            registered_by="registry", at=NOW - timedelta(days=60),
        )  # fmt: skip
        line = Ed25519PrivateKey.generate()
        cert = issue_line_certificate(
            root, brand, line.public_key(), name="line-1", prefixes=brand.prefixes,
            not_before=NOW - timedelta(days=60), not_after=NOW + timedelta(days=365),
            issued_at=NOW - timedelta(days=60),
        )  # fmt: skip
        trust.brands[brand_id] = brand
        trust.lines[brand_id] = (line, cert)
        certs.append(cert)
        if brand_id == "acme":
            old = Ed25519PrivateKey.generate()
            old_cert = issue_line_certificate(
                root, brand, old.public_key(), name="line-old", prefixes=brand.prefixes,
                not_before=NOW - timedelta(days=60), not_after=NOW + timedelta(days=365),
                issued_at=NOW - timedelta(days=59),
            )  # fmt: skip
            certs.append(old_cert)
            revocations.append(
                revoke(old_cert, compromised_since=NOW - timedelta(days=5),
                       revoked_at=NOW - timedelta(days=4), reason="line PC stolen")
            )  # fmt: skip
    registry = Ed25519PrivateKey.generate()
    trust_list = build_trust_list(
        registry, version=1, issued_at=NOW - timedelta(days=1), expires_at=NOW + timedelta(days=90),
        brands=list(trust.brands.values()), line_keys=certs, revocations=revocations,
    )  # fmt: skip
    trust.registry_key_path.write_bytes(export_public_key(registry.public_key()))
    trust.trust_list_path.write_bytes(trust_list.to_signed_json())
    return trust


def make_database(template: Path, directory: Path) -> str:
    path = directory / "console.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def make_template(directory: Path) -> Path:
    path = directory / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def make_app(database_url: str, trust: Trust, clock: Clock) -> FastAPI:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test", database_url=database_url, token_pepper=SecretStr(PEPPER),
        registry_public_key=trust.registry_key_path, trust_list=trust.trust_list_path,
        trust_refresh_seconds=0,
    )  # fmt: skip
    mobile = MobileSettings(_env_file=None, filter_min_capacity=1024)  # type: ignore[call-arg]
    return create_app(
        settings, mobile_settings=mobile, bundle_signer=Ed25519PrivateKey.generate(), clock=clock
    )


@dataclass
class Seeded:
    tokens: dict[str, str]
    copied_serial: str  # the acme code scanned in Paris and, an hour later, in Shanghai
    quiet_serial: str  # an acme code scanned once
    bravo_serial: str
    alert_id: int
    scan_ids: dict[str, str]


def uri(trust: Trust, brand_id: str, gtin: str, serial: str) -> str:
    code = sign_code(ProductCode(gtin=gtin, serial=serial), trust.lines[brand_id][0])
    return format_digital_link(code.ais(), "https://id.example.com")


def seed(app: FastAPI, client: TestClient, trust: Trust, clock: Clock) -> Seeded:
    """Accounts with tokens and console passwords; codes; scans raising impossible travel."""
    engine = app.state.services.engine
    tokens: dict[str, str] = {}
    with Session(engine) as session:
        for name, (role, brand) in ACCOUNTS.items():
            accounts.create_account(
                session, name=name, role=accounts.Role(role), now=clock(), brand_id=brand
            )
            tokens[name] = accounts.issue_token(session, name, pepper=PEPPER.encode(), now=clock())
            console_auth.set_password(session, name, PASSWORD, now=clock())

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    def register(owner: str, brand_id: str, gtin: str, serials: list[str]) -> None:
        body = {
            "batch_id": f"B-{brand_id}", "gtin": gtin, "lot": None, "expiry": None,
            "key_id": trust.lines[brand_id][1].key_id, "intended_markets": [], "serials": serials,
        }  # fmt: skip
        response = client.post("/v1/registrations", json=body, headers=auth(owner))
        assert response.status_code == 200, response.text

    register("acme-owner", "acme", ACME_GTIN, ["COPY1", "QUIET1"])
    register("bravo-owner", "bravo", BRAVO_GTIN, ["BRAVO1"])
    scan_ids: dict[str, str] = {}

    def scan(
        name: str,
        brand_id: str,
        gtin: str,
        serial: str,
        where: tuple[float, float],
        country: str,
        hours_ago: float,
    ) -> None:
        body: dict[str, Any] = {
            "code": uri(trust, brand_id, gtin, serial),
            "scanned_at": (clock() - timedelta(hours=hours_ago)).isoformat(),
            "location": {"lat": where[0], "lon": where[1], "accuracy_m": 20},
            "country": country, "device_id": f"{name}-{country}",
        }  # fmt: skip
        response = client.post("/v1/verify", json=body, headers=auth(name))
        assert response.status_code == 200, response.text
        scan_ids[f"{serial}@{country}"] = response.json()["scan_id"]

    scan("officer", "acme", ACME_GTIN, "COPY1", LYON, "FR", 30)
    scan("officer", "acme", ACME_GTIN, "COPY1", PARIS, "FR", 3)
    scan("officer", "acme", ACME_GTIN, "COPY1", SHANGHAI, "CN", 2)
    scan("officer", "acme", ACME_GTIN, "QUIET1", PARIS, "FR", 5)
    scan("officer", "bravo", BRAVO_GTIN, "BRAVO1", PARIS, "FR", 5)
    with Session(engine) as session:
        alert = session.exec(
            select(Alert).where(Alert.serial == "COPY1", Alert.kind == "IMPOSSIBLE_TRAVEL")
        ).first()
        if alert is None:
            # Verification does not raise travel alerts yet: raise it as the service will.
            subject = alert_service.AlertSubject(
                brand_id="acme", gtin=ACME_GTIN, serial="COPY1", key_id=None,
                scan_id=scan_ids["COPY1@CN"], country="CN",
            )  # fmt: skip
            finding = Finding(
                "IMPOSSIBLE_TRAVEL", "critical", "Scanned in Paris and an hour later in Shanghai.",
                0.9, (scan_ids["COPY1@FR"],),
            )  # fmt: skip
            alert_service.raise_alerts(session, subject, [finding], now=clock())
            session.commit()
            alert = session.exec(select(Alert).where(Alert.serial == "COPY1")).one()
        assert alert.id is not None
        alert_id = alert.id
    return Seeded(tokens, "COPY1", "QUIET1", "BRAVO1", alert_id, scan_ids)


CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    """Sign in through the form like a browser (login token cookie + field)."""
    form = client.get("/console/login")
    assert form.status_code == 200
    return client.post(
        "/console/login",
        data={
            "csrf": csrf_of(form.text),
            "username": name,
            "password": password,
            "next": "/console/",
        },
        follow_redirects=False,
    )
