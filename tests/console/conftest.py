"""Fixtures of the console tests: the app on SQLite, seeded; a real uvicorn server."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from tests.console.console_world import (
    ACME_GTIN,
    NOW,
    Clock,
    Seeded,
    Trust,
    make_app,
    make_database,
    make_template,
    make_trust,
    seed,
)


@pytest.fixture(scope="session")
def console_trust(tmp_path_factory: pytest.TempPathFactory) -> Trust:
    return make_trust(tmp_path_factory.mktemp("console-trust"))


@pytest.fixture(scope="session")
def console_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("console-sqlite"))


@pytest.fixture(scope="session")
def seeded_template(
    tmp_path_factory: pytest.TempPathFactory, console_template: Path, console_trust: Trust
) -> tuple[Path, Seeded]:
    """A database seeded once (accounts, passwords, codes, scans, the alert), copied per test."""
    directory = tmp_path_factory.mktemp("console-seeded")
    url = make_database(console_template, directory)
    clock = Clock(NOW)
    app = make_app(url, console_trust, clock)
    with TestClient(app, base_url="https://console.example") as client:
        seeded = seed(app, client, console_trust, clock)
    app.state.services.engine.dispose()  # checkpoints the WAL into the file we copy
    return directory / "console.db", seeded


@dataclass
class Console:
    app: FastAPI
    client: TestClient
    clock: Clock
    trust: Trust
    seeded: Seeded

    def client_for(self, base_url: str = "https://console.example") -> TestClient:
        """A fresh browser: its own cookie jar."""
        return TestClient(self.app, base_url=base_url)


@pytest.fixture
def console(
    tmp_path: Path, seeded_template: tuple[Path, Seeded], console_trust: Trust
) -> Iterator[Console]:
    template, seeded = seeded_template
    clock = Clock(NOW)
    app = make_app(make_database(template, tmp_path), console_trust, clock)
    with TestClient(app, base_url="https://console.example") as client:
        yield Console(app, client, clock, console_trust, seeded)


@dataclass
class LiveConsole:
    base_url: str
    console: Console


@pytest.fixture
def live_console(
    tmp_path: Path, seeded_template: tuple[Path, Seeded], console_trust: Trust
) -> Iterator[LiveConsole]:
    template, seeded = seeded_template
    clock = Clock(NOW)
    app = make_app(make_database(template, tmp_path), console_trust, clock)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    client = TestClient(app, base_url=f"http://127.0.0.1:{port}")
    try:
        yield LiveConsole(
            f"http://127.0.0.1:{port}", Console(app, client, clock, console_trust, seeded)
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def pack_png() -> bytes:
    """A small picture of a pack, as a brand would upload it."""
    image = Image.new("RGB", (120, 80), (240, 240, 235))
    ImageDraw.Draw(image).rectangle((10, 10, 110, 70), outline=(31, 59, 87), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload_product(live: LiveConsole, name: str) -> str:
    """The acme owner's product data and uploaded image for ACME_GTIN; the image's URL."""
    owner = {"Authorization": f"Bearer {live.console.seeded.tokens['acme-owner']}"}
    client = live.console.client
    product = client.put(f"/v1/products/{ACME_GTIN}", json={"productName": name}, headers=owner)
    assert product.status_code == 200, product.text
    image = client.put(
        f"/v1/products/{ACME_GTIN}/image", content=pack_png(),
        headers={**owner, "Content-Type": "image/png"},
    )  # fmt: skip
    assert image.status_code == 200, image.text
    url: str = image.json()["url"]
    return url
