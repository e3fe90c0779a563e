"""What a real ``sealtrace serve`` shows the world: no Server header, and no secret from a
query string in its access log."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.production.conftest import Server, World, settings_env
from verifier.logging_setup import RedactQueryFilter, redact_query


def test_secret_query_values_are_redacted() -> None:
    assert redact_query("/v1/alerts?token=st_abc&brand=acme") == (
        "/v1/alerts?token=[redacted]&brand=acme"
    )
    assert redact_query("/x?API_KEY=k1&Password=p&8030=sig") == (
        "/x?API_KEY=[redacted]&Password=[redacted]&8030=sig"
    )
    assert redact_query("/01/09506000000428/21/X") == "/01/09506000000428/21/X"
    import logging

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/healthz?token=st_x", "1.1", 200), None,
    )  # fmt: skip
    assert RedactQueryFilter().filter(record)
    assert "st_x" not in record.getMessage()


def test_no_server_header_and_no_token_in_the_access_log(
    sqlite_url: str, world: World, tmp_path: Path
) -> None:
    environ = {**os.environ, **settings_env(sqlite_url, world)}
    command = [
        sys.executable, "-m", "sealtrace", "serve", "--db", sqlite_url, "--no-migrate",
        "--log-level", "info",
    ]  # fmt: skip
    server = Server(command, environ, tmp_path / "server.log")
    server.start()
    try:
        response = httpx.get(f"{server.base}/healthz?token=st_leaked_secret_value&x=1")
        assert response.status_code == 200
        assert "server" not in response.headers
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "/healthz?token=[redacted]&x=1" in log
    assert "st_leaked_secret_value" not in log


def test_docs_load_swagger_ui_from_this_server_only(sqlite_url: str, make_env: Any) -> None:
    env = make_env(sqlite_url)
    page = env.client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/docs/assets/"), source
        assert env.client.get(source).status_code == 200, source
    assert env.client.get("/redoc").status_code == 404  # ReDoc would need a CDN
