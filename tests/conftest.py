"""Fixtures shared by every test area.

External things a test may need (the ../shared reference data, PostgreSQL,
Redis, Chromium, SoftHSM2) are found here once. Where one is missing the test
skips with a message that says what to install, except in CI (CI=true), where
the missing thing is a failure: CI has all of them, so a skip there would hide
a test that never ran.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# The suite writes hundreds of key files; each would cost a quarter of a second
# at the production scrypt work factor. 2^14 is the lowest the setting allows;
# tests/keys/test_keys_kdf.py checks the production default without it.
os.environ.setdefault("SEALTRACE_KEY_KDF_LOG2N", "14")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEALTRACE_SHARED_DIR") or REPO.parent / "shared")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, what: str) -> None:
    """Skip (outside CI) or fail (in CI) when ``what`` is not available."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} is not available on this machine")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared reference data (GS1 dictionary, Digital Link vectors, EPCIS)."""
    require(SHARED.is_dir(), "../shared (GS1 and EPCIS reference data beside the checkout)")
    return SHARED


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL for the test database at 127.0.0.1:5432."""
    url = os.environ.get(
        "SEALTRACE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    require(port_open("127.0.0.1", 5432), "PostgreSQL at 127.0.0.1:5432")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    require(port_open("127.0.0.1", 6379), "Redis at 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    require(path is not None, "Debian's chromium (apt-get install chromium)")
    assert path is not None
    return path


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Debian's headless chromium driven by Playwright, one per test module (every area)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's source, to inject into a page under test (installed by `make test`)."""
    path = REPO / "tests" / "browser_tools" / "node_modules" / "axe-core" / "axe.min.js"
    require(path.is_file(), "axe-core (npm; `make test` installs it into tests/browser_tools)")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def softhsm_module() -> str:
    candidates = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    found = next((c for c in candidates if Path(c).exists()), None)
    require(
        found is not None and shutil.which("softhsm2-util") is not None,
        "SoftHSM2 (apt-get install softhsm2)",
    )
    assert found is not None
    return found


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and other artefacts for a person to look at."""
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@dataclass
class Receiver:
    """A brand's webhook endpoint, a real HTTP server on 127.0.0.1: answers the queued
    statuses in turn, then 200, and keeps every request (headers, body)."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.requests.append((headers, body))
            return self.answers.pop(0) if self.answers else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.handle(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/sealtrace"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(timeout=5)
