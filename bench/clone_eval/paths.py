"""The evaluation on the real paths: a uvicorn process, and each scan sent the way its
device sends it.

- consumer (anonymous) scans: ``GET`` of the label's Digital Link URL with
  ``Accept: text/html``, as a phone browser opens it: one cookie jar per phone
  (phones without a stable identity send no cookie; some clear theirs), the
  address of the line the phone is on in ``X-Forwarded-For`` (the driver is the
  trusted proxy at 127.0.0.1; addresses on the country's carriers, from
  ``addresses``), and for some the location shared afterwards through
  ``POST /v1/scans/{scan_id}/location`` (the id the page carries in
  ``data-scan-id``). The verdict is the page's ``data-verdict``.
- a quarter of consumers use the ``/scan`` page instead: a photo of the label (a
  rendered QR image, decoded by the service) posted as the page's form does,
  with the same cookies and address; the verdict is the result's ``data-verdict``.
- trade and brand scans, and officers online: ``POST /v1/verify`` with their
  token, location and country, as the handhelds send them.
- officers offline (customs uploads hours late): ``POST /v1/scans:batch``.

Verdicts are what each path answered. Every random choice is a hash of the scan
id, so a simulation drives the same requests every time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from sqlmodel import Session, create_engine, select

from bench.clone_eval import addresses
from bench.clone_eval.geography import MARKETS
from bench.clone_eval.model import START, ScanEvent, Simulation, StatusEvent
from bench.clone_eval.service import (
    BRAND_ACCOUNT,
    EXPIRY,
    GTIN,
    QUIET_REASONS,
    REGISTRATION_CHUNK,
    RunStats,
    Verdicts,
    create_accounts,
    prepare,
    stored_reasons,
)
from issuer.render import render_png
from verifier.db.migrate import upgrade
from verifier.db.models import Scan as ScanRow

Path_ = Literal["page", "scan page", "verify", "batch"]
PATHS: tuple[Path_, ...] = ("page", "scan page", "verify", "batch")
VERDICT_MARK = re.compile(r'id="verdict"[^>]*data-verdict="([a-z]+)"')
SCAN_ID_MARK = re.compile(r'data-scan-id="([0-9a-f-]{36})"')
SCAN_PAGE = 0.25  # consumers who open /scan and photograph the label
SHARE_LOCATION = 0.4  # page viewers who tap "share my location"
CLEAR_COOKIES = 0.1  # page views after the phone's cookies were cleared
OFFLINE_AFTER = dt.timedelta(hours=1)  # a customs upload this late was made offline
HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _chance(scan_id: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{scan_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def network_address(key: str, country: str = "DE") -> str:
    """A stable address for a phone's line ``key``: on one of ``country``'s consumer
    carriers, from geoip2fast's own data (``addresses``), so that the service, which
    locates page views with the same database, puts the phone in its country."""
    return addresses.address_for(key, country)


def path_of(event: ScanEvent) -> Path_:
    if event.role == "anonymous":
        return "scan page" if _chance(event.scan_id, "scan-page") < SCAN_PAGE else "page"
    if event.role == "officer" and event.received_at - event.happened_at > OFFLINE_AFTER:
        return "batch"
    return "verify"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The app in its own uvicorn process on a free port; stopped on exit."""

    def __init__(self, directory: Path, now: dt.datetime, database_url: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.clone_eval.server", str(directory), str(self.port),
             now.isoformat()],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root), "SEALTRACE_DATABASE_URL": database_url},
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode}")
            try:
                httpx.get(self.base + "/healthz", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the service did not start within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def _database(directory: Path, postgres: str | None) -> Iterator[str]:
    """A fresh SQLite file in ``directory``, or a fresh database on the PostgreSQL server
    ``postgres`` (one per scenario, so scenarios run side by side), dropped afterwards."""
    if postgres is None:
        yield f"sqlite:///{directory / 'verifier.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres).set(drivername="postgresql")
    admin_dsn = admin.render_as_string(hide_password=False)
    name = f"clone_eval_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(
    sim: Simulation,
    *,
    progress: Callable[[int, int], None] | None = None,
    postgres: str | None = None,
) -> tuple[Verdicts, dict[str, Path_], RunStats]:
    """Every event of ``sim`` through its real path; verdicts and the path of each scan.

    ``postgres`` (a server URL) runs the service on a fresh PostgreSQL database."""
    opened = START - dt.timedelta(days=2)
    with (
        tempfile.TemporaryDirectory(prefix="clone-eval-") as tmp,
        _database(Path(tmp), postgres) as url,
    ):
        directory = Path(tmp)
        hierarchy, uris = prepare(sim, directory, opened)
        upgrade(url)
        engine = create_engine(url)
        tokens = create_accounts(engine, sim, hierarchy.brand.id, opened)
        with (
            Server(directory, opened, url) as server,
            httpx.Client(base_url=server.base, timeout=60.0) as client,
        ):
            driver = _Driver(client, tokens, uris)
            driver.clock(START - dt.timedelta(days=1))
            driver.register(sim, hierarchy.certificate.key_id)
            started = time.perf_counter()
            for done, event in enumerate(sim.events, 1):
                driver.send(event)
                if progress is not None and done % 2_000 == 0:
                    progress(done, len(sim.events))
            driver.stats.seconds = time.perf_counter() - started
        reasons = stored_reasons(engine)
        by_moment = _reasons_by_moment(engine)
        engine.dispose()
    outcomes = {
        sim_id: (
            verdict,
            reasons.get(driver.server_ids.get(sim_id, sim_id))
            or by_moment.get(driver.moments.get(sim_id, ("", START)), ()),
        )
        for sim_id, verdict in driver.verdicts.items()
    }
    return outcomes, driver.paths, driver.stats


class _Driver:
    def __init__(self, client: httpx.Client, tokens: dict[str, str], uris: dict[str, str]) -> None:
        self.client = client
        self.headers = {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}
        # The label's path and query: the phone opens it on this service's host.
        self.uris = uris
        self.targets = {s: _path_and_query(uri) for s, uri in uris.items()}
        self.jars: dict[str, httpx.Cookies] = {}
        self.photos: dict[str, bytes] = {}
        self.verdicts: dict[str, str] = {}
        self.paths: dict[str, Path_] = {}
        self.server_ids: dict[str, str] = {}  # simulated scan id -> the id the page gave
        self.moments: dict[str, tuple[str, dt.datetime]] = {}  # /scan: (serial, recorded)
        self.stats = RunStats()
        self.calls = self.stats.calls

    def clock(self, at: dt.datetime) -> None:
        self.client.put("/_bench/clock", content=at.isoformat()).raise_for_status()

    def register(self, sim: Simulation, key_id: str) -> None:
        for lot, serials in sorted(sim.lots.items()):
            for first in range(0, len(serials), REGISTRATION_CHUNK):
                body = {
                    "batch_id": lot, "gtin": GTIN, "lot": lot, "expiry": EXPIRY, "key_id": key_id,
                    "intended_markets": list(MARKETS),
                    "serials": serials[first : first + REGISTRATION_CHUNK],
                }  # fmt: skip
                answer = self.client.post(
                    "/v1/registrations", json=body, headers=self.headers[BRAND_ACCOUNT]
                )
                answer.raise_for_status()

    def send(self, event: ScanEvent | StatusEvent) -> None:
        # Every event is sent, also after its serial is detected: a flagged code's later
        # answers to the copies and to the genuine unit are what sticky state is judged on.
        self.clock(event.received_at)
        self.stats.requests += 1
        if isinstance(event, StatusEvent):
            self._status(event)
            return
        path = path_of(event)
        send = {"page": self._page, "scan page": self._scan_page, "verify": self._verify,
                "batch": self._batch}[path]  # fmt: skip
        verdict = send(event)
        self.verdicts[event.scan_id] = verdict
        self.paths[event.scan_id] = path

    def _phone(self, event: ScanEvent) -> str:
        """Hands the client the phone's cookies (kept by ``_keep``); the phone network's
        address."""
        if event.device_id is None:
            jar = httpx.Cookies()  # a browser that keeps nothing
        else:
            if _chance(event.scan_id, "clear") < CLEAR_COOKIES:
                self.jars.pop(event.device_id, None)
            jar = self.jars.setdefault(event.device_id, httpx.Cookies())
        self.client.cookies = jar
        # The line the phone is on: a household's Wi-Fi, a hotel's, or its own mobile data
        # (registered at home, also when roaming abroad).
        key = event.network or event.device_id or f"{event.serial}-{event.label}"
        return network_address(key, event.network_country or event.country)

    def _keep(self, event: ScanEvent) -> None:
        """What the answers set stays with the phone (a phone without identity keeps none)."""
        if event.device_id is not None:
            self.jars[event.device_id] = self.client.cookies

    def _scan_page(self, event: ScanEvent) -> str:
        network = self._phone(event)
        if event.serial not in self.photos:
            self.photos[event.serial] = render_png(self.uris[event.serial], module_px=4)
        answer = self.client.post(
            "/scan", files={"photo": ("label.png", self.photos[event.serial], "image/png")},
            data={"lang": "en"}, headers={"Accept": HTML_ACCEPT, "X-Forwarded-For": network},
        )  # fmt: skip
        self.calls[f"scan page {answer.status_code}"] += 1
        self.moments[event.scan_id] = (event.serial, event.received_at)
        self._keep(event)
        verdict = VERDICT_MARK.search(answer.text)
        if answer.status_code != 200 or verdict is None:
            raise RuntimeError(f"the /scan page answered {answer.status_code} without a verdict")
        return verdict.group(1)

    def _page(self, event: ScanEvent) -> str:
        network = self._phone(event)
        headers = {"Accept": HTML_ACCEPT, "X-Forwarded-For": network}
        answer = self.client.get(self.targets[event.serial], headers=headers)
        self.calls[f"page {answer.status_code}"] += 1
        self._keep(event)
        if answer.status_code != 200:
            raise RuntimeError(f"the label page answered {answer.status_code}")
        verdict = VERDICT_MARK.search(answer.text)
        scan_id = SCAN_ID_MARK.search(answer.text)
        if verdict is None:
            raise RuntimeError("the label page shows no verdict")
        if scan_id is not None:
            self.server_ids[event.scan_id] = scan_id.group(1)
            if _chance(event.scan_id, "share") < SHARE_LOCATION:
                shared = self.client.post(
                    f"/v1/scans/{scan_id.group(1)}/location",
                    json={"lat": event.lat, "lon": event.lon, "accuracy_m": event.accuracy_m},
                    headers={"X-Forwarded-For": network},
                )  # fmt: skip
                self.calls[f"location {shared.status_code}"] += 1
        return verdict.group(1)

    def _body(self, event: ScanEvent) -> dict[str, Any]:
        return {
            "code": self.uris[event.serial],
            "scanned_at": event.scanned_at.isoformat(),
            "location": {"lat": event.lat, "lon": event.lon, "accuracy_m": event.accuracy_m},
            "country": event.country,
            "scan_id": event.scan_id,
            "device_id": event.device_id or "handheld",
        }

    def _verify(self, event: ScanEvent) -> str:
        self.client.cookies = httpx.Cookies()  # handhelds keep no browser session
        answer = self.client.post(
            "/v1/verify", json=self._body(event), headers=self.headers[event.caller]
        )
        self.calls[f"verify {answer.status_code}"] += 1
        if answer.status_code != 200:
            raise RuntimeError(f"verify answered {answer.status_code}: {answer.text[:300]}")
        return str(answer.json()["verdict"])

    def _batch(self, event: ScanEvent) -> str:
        self.client.cookies = httpx.Cookies()
        answer = self.client.post(
            "/v1/scans:batch", json={"scans": [self._body(event)]},
            headers=self.headers[event.caller],
        )  # fmt: skip
        self.calls[f"batch {answer.status_code}"] += 1
        if answer.status_code != 200 or answer.json()["failed"]:
            raise RuntimeError(f"batch answered {answer.status_code}: {answer.text[:300]}")
        return str(answer.json()["results"][0]["answer"]["verdict"])

    def _status(self, event: StatusEvent) -> None:
        headers = self.headers[BRAND_ACCOUNT]
        if event.kind == "lot_recall":
            url, body = f"/v1/lots/{GTIN}/{event.lot}/status", {"status": "recalled"}
        elif event.kind == "sold":
            url, body = f"/v1/codes/{GTIN}/{event.serial}/status", {"status": "sold"}
        else:
            url, body = f"/v1/codes/{GTIN}/{event.serial}/status/undo", None
        answer = self.client.post(url, json=body, headers=headers)
        if answer.status_code != 200:
            self.stats.status_errors[f"{event.kind} {answer.status_code}"] += 1


def _reasons_by_moment(engine: Any) -> dict[tuple[str, dt.datetime], tuple[str, ...]]:
    """Reasons by (serial, moment recorded): the /scan page shows no scan id, and the
    driver sets the service's clock to each event's own arrival time."""
    with Session(engine) as session:
        rows = session.exec(select(ScanRow.serial, ScanRow.recorded_at, ScanRow.reasons)).all()
    return {
        (serial, at.astimezone(dt.UTC)): tuple(
            r for r in json.loads(reasons or "[]") if r not in QUIET_REASONS
        )
        for serial, at, reasons in rows
    }


def _path_and_query(uri: str) -> str:
    parts = urlsplit(uri)
    return parts.path + (f"?{parts.query}" if parts.query else "")
