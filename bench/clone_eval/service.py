"""In-process mode (not the real paths): the verifier's JSON API through ``ASGITransport``.

The evaluation of the paths people use is :mod:`bench.clone_eval.paths` (a uvicorn
process, the label URL as a browser opens it, batch sync); this mode is kept because
it is fast, and it sends every scan to ``POST /v1/verify`` with location and country.

The app is the verifier's own ``create_app`` on a fresh, migrated SQLite
database, with a signed trust list, brand and officer accounts with real
tokens, and a clock the driver sets to each event's arrival time. Every
request goes through httpx's ``ASGITransport``: the real routes, schemas,
authentication, registry and verification pipeline, in process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, select

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from authn.signing import sign_code
from bench.clone_eval.geography import MARKETS
from bench.clone_eval.model import START, ScanEvent, Simulation, StatusEvent
from http_api.app import create_app
from keys.filestore import export_public_key
from keys.sample import gtin_with_prefix, sample_hierarchy
from keys.trust import build_trust_list
from verifier import accounts
from verifier.db.migrate import upgrade
from verifier.db.models import Scan as ScanRow
from verifier.settings import Settings

GTIN = "0" + gtin_with_prefix("9506000", "42")
EXPIRY = "291231"
PEPPER = "clone-eval-pepper-" + "x" * 32
# Serials per registration request. The verifier stores one EPCIS commissioning event per
# request and re-reads the event of a code on every verify, so the cost of a verify grows
# with this number (about 0.3 ms per serial in the event): register case by case.
REGISTRATION_CHUNK = 10
BRAND_ACCOUNT = "brand"
# scan id -> (verdict, reason codes the service recorded)
Verdicts = dict[str, tuple[str, tuple[str, ...]]]
QUIET_REASONS = frozenset({"TRUST_OK"})  # the trust decision of every genuine code


@dataclass
class RunStats:
    requests: int = 0
    seconds: float = 0.0
    status_errors: Counter[str] = field(default_factory=Counter)
    # Requests by path and answer status ("page 200", "location 204", ...): real paths only.
    calls: Counter[str] = field(default_factory=Counter)


class SettableClock:
    """The service's only clock: the driver moves it to each event's arrival time."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def settings_for(directory: Path, **extra: Any) -> Settings:
    """The service's settings over the files the driver wrote into ``directory``."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": f"sqlite:///{directory / 'verifier.db'}",
        "token_pepper": PEPPER,
        "registry_public_key": directory / "registry.pub.pem",
        "trust_list": directory / "trust-list.json",
        "trust_refresh_seconds": 3600,
        # Every simulated consumer calls from the one in-process client address; real
        # consumers come from as many addresses as there are phones.
        "anonymous_verify_limit": 0,
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _label_uris(sim: Simulation, line_key: Ed25519PrivateKey) -> dict[str, str]:
    """The Digital Link URI printed on each unit (copies print the very same one)."""
    uris = {}
    for lot, serials in sim.lots.items():
        for serial in serials:
            code = sign_code(
                ProductCode(gtin=GTIN, serial=serial, lot=lot, expiry=EXPIRY), line_key
            )
            uris[serial] = format_digital_link(code.ais())
    return uris


def prepare(sim: Simulation, directory: Path, opened: dt.datetime) -> tuple[Any, dict[str, str]]:
    """Keys, a signed trust list and the registry key in ``directory``; the label URIs."""
    hierarchy = sample_hierarchy(opened, valid_days=3 * 365)
    trust_list = build_trust_list(
        hierarchy.registry, version=1, issued_at=opened,
        expires_at=sim.end + dt.timedelta(days=30), brands=[hierarchy.brand],
        line_keys=[hierarchy.certificate], revocations=[],
    )  # fmt: skip
    (directory / "registry.pub.pem").write_bytes(export_public_key(hierarchy.registry.public_key()))
    (directory / "trust-list.json").write_bytes(trust_list.to_signed_json())
    return hierarchy, _label_uris(sim, hierarchy.line_key)


def run(
    sim: Simulation,
    *,
    progress: Callable[[int, int], None] | None = None,
    app_options: dict[str, Any] | None = None,
) -> tuple[Verdicts, RunStats]:
    """Send every event of ``sim`` to a fresh verifier; the outcome of each scan by scan id."""
    return asyncio.run(_run(sim, progress, app_options or {}))


async def _run(
    sim: Simulation, progress: Callable[[int, int], None] | None, app_options: dict[str, Any]
) -> tuple[Verdicts, RunStats]:
    opened = START - dt.timedelta(days=2)
    with tempfile.TemporaryDirectory(prefix="clone-eval-") as tmp:
        directory = Path(tmp)
        hierarchy, uris = prepare(sim, directory, opened)
        settings = settings_for(directory)
        upgrade(settings.database_url)
        clock = SettableClock(opened)
        app = create_app(settings, clock=clock, **app_options)
        async with app.router.lifespan_context(app):
            tokens = create_accounts(app.state.services.engine, sim, hierarchy.brand.id, opened)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://verifier") as client:
                driver = _Driver(client, clock, tokens, uris)
                await driver.register(
                    sim, hierarchy.certificate.key_id, START - dt.timedelta(days=1)
                )
                started = time.perf_counter()
                total = len(sim.events)
                for done, event in enumerate(sim.events, 1):
                    await driver.send(event)
                    if progress is not None and done % 5_000 == 0:
                        progress(done, total)
                driver.stats.seconds = time.perf_counter() - started
            reasons = stored_reasons(app.state.services.engine)
    outcomes = {
        scan_id: (verdict, reasons.get(scan_id, ())) for scan_id, verdict in driver.verdicts.items()
    }
    return outcomes, driver.stats


def stored_reasons(engine: Any) -> dict[str, tuple[str, ...]]:
    """Every finding the service recorded with each scan (consumers' answers hide them)."""
    with Session(engine) as session:
        rows = session.exec(select(ScanRow.scan_id, ScanRow.reasons)).all()
    return {
        scan_id: tuple(r for r in json.loads(reasons or "[]") if r not in QUIET_REASONS)
        for scan_id, reasons in rows
    }


def create_accounts(
    engine: Any, sim: Simulation, brand_id: str, now: dt.datetime
) -> dict[str, str]:
    tokens: dict[str, str] = {}
    with Session(engine) as session:
        for name, role in sorted(sim.accounts.items()):
            accounts.create_account(
                session, name=name, role=accounts.Role(role), now=now,
                brand_id=brand_id if role == "brand" else None,
            )  # fmt: skip
            tokens[name] = accounts.issue_token(session, name, pepper=PEPPER.encode(), now=now)
    return tokens


class _Driver:
    def __init__(
        self,
        client: httpx.AsyncClient,
        clock: SettableClock,
        tokens: dict[str, str],
        uris: dict[str, str],
    ) -> None:
        self.client = client
        self.clock = clock
        self.headers = {
            name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()
        }
        self.uris = uris
        self.verdicts: dict[str, str] = {}
        self.stats = RunStats()

    async def register(self, sim: Simulation, key_id: str, at: dt.datetime) -> None:
        self.clock.now = at
        for lot, serials in sorted(sim.lots.items()):
            for first in range(0, len(serials), REGISTRATION_CHUNK):
                body = {
                    "batch_id": lot, "gtin": GTIN, "lot": lot, "expiry": EXPIRY, "key_id": key_id,
                    "intended_markets": list(MARKETS),
                    "serials": serials[first : first + REGISTRATION_CHUNK],
                }  # fmt: skip
                answer = await self.client.post(
                    "/v1/registrations", json=body, headers=self.headers[BRAND_ACCOUNT]
                )
                answer.raise_for_status()
                if answer.json()["rejected"]:
                    raise RuntimeError(
                        f"registration rejected serials: {answer.json()['rejected'][:3]}"
                    )

    async def send(self, event: ScanEvent | StatusEvent) -> None:
        self.clock.now = event.received_at
        self.stats.requests += 1
        if isinstance(event, StatusEvent):
            await self._status(event)
            return
        body: dict[str, Any] = {
            "code": self.uris[event.serial],
            "scanned_at": event.scanned_at.isoformat(),
            "location": {"lat": event.lat, "lon": event.lon, "accuracy_m": event.accuracy_m},
            "country": event.country,
            "scan_id": event.scan_id,
        }
        if event.device_id is not None:
            body["device_id"] = event.device_id
        headers = self.headers[event.caller] if event.caller else {}
        answer = await self.client.post("/v1/verify", json=body, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"verify answered {answer.status_code}: {answer.text[:300]}")
        verdict = answer.json()["verdict"]
        self.verdicts[event.scan_id] = verdict

    async def _status(self, event: StatusEvent) -> None:
        headers = self.headers[BRAND_ACCOUNT]
        if event.kind == "lot_recall":
            url, body = f"/v1/lots/{GTIN}/{event.lot}/status", {"status": "recalled"}
        elif event.kind == "sold":
            url, body = f"/v1/codes/{GTIN}/{event.serial}/status", {"status": "sold"}
        else:
            url, body = f"/v1/codes/{GTIN}/{event.serial}/status/undo", None
        answer = await self.client.post(url, json=body, headers=headers)
        if answer.status_code != 200:
            # A copy sold first, an undo out of reach: the registry refuses, and the chain goes on.
            self.stats.status_errors[f"{event.kind} {answer.status_code}"] += 1
