"""Every anonymous route draws on the one shared limiter, against a real ``sealtrace serve``:
label URLs (every method), decode, /scan, /report, the location, verify and the log; empty
or bogus Authorization headers count as anonymous; X-Forwarded-For counts only from a
trusted proxy; with Redis the budget is shared by the workers."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from authn.digital_link import compress_digital_link, parse_digital_link
from http_api.ratelimit import client_ip, parse_networks
from tests.production.conftest import (
    Server,
    ServerFactory,
    World,
    create_accounts,
    settings_env,
    signed_uri,
)
from verifier.settings import Settings

LIMIT = 2
WINDOW = 3600  # seconds
# The test client connects from 127.0.0.1 (a trusted proxy, so the X-Forwarded-For it sends
# names the client) or from 127.0.0.2 (not trusted: its header must be ignored).
PROXIES = "127.0.0.1, 192.0.2.0/24"
_addresses = itertools.count(1)


def fresh_client_ip() -> str:
    """A client address no other test used: its own budget on the shared server."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


class Limited:
    def __init__(self, server: Server, tokens: dict[str, str], world: World) -> None:
        self.server, self.tokens, self.world = server, tokens, world

    def label_path(self, serial: str) -> str:
        url = httpx.URL(signed_uri(self.world, serial))
        return url.raw_path.decode("ascii")


@pytest.fixture(scope="module")
def limited(
    world: World, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Limited]:
    """One server for the module (each test uses its own client addresses), limit 2."""
    directory = tmp_path_factory.mktemp("anon-limits")
    shutil.copy(sqlite_template, directory / "sealtrace.db")
    url = f"sqlite:///{directory / 'sealtrace.db'}"
    tokens = create_accounts(url)
    extra = {
        "SEALTRACE_ANONYMOUS_VERIFY_LIMIT": str(LIMIT),
        # Fixed windows: an hour-long one keeps a test's few requests inside one window
        # (with 60 s, a busy machine sometimes let the window turn between them).
        "SEALTRACE_RATE_LIMIT_WINDOW_SECONDS": str(WINDOW),
        "SEALTRACE_TRUSTED_PROXIES": PROXIES,  # the comma-separated form
    }
    environ = {**os.environ, **settings_env(url, world, **extra)}
    command = [
        sys.executable, "-m", "sealtrace", "serve", "--db", url, "--no-migrate",
        "--log-level", "warning",
    ]  # fmt: skip
    server = Server(command, environ, directory / "server.log")
    server.start()
    try:
        yield Limited(server, tokens, world)
    finally:
        server.stop()


def compressed(label: str) -> str:
    link = parse_digital_link("https://id.example" + label)
    return urlsplit(compress_digital_link(link.ais, "https://id.example")).path


def routes(limited: Limited) -> dict[str, tuple[str, str, dict[str, Any]]]:
    label = limited.label_path("LIM1")
    html = {"Accept": "text/html"}
    return {
        "label GET": ("GET", label, {"headers": {"Accept": "application/json"}}),
        "label page": ("GET", label, {"headers": html}),
        "label HEAD": ("HEAD", label, {}),
        "label OPTIONS": ("OPTIONS", label, {}),
        "label linkset": ("GET", label.split("?")[0] + "?linkType=all", {}),
        "compressed label": ("GET", compressed(label), {"headers": {"Accept": "application/json"}}),
        "resolver description": ("GET", "/.well-known/gs1resolver", {}),
        "decode": ("POST", "/v1/decode", {"content": b"not an image"}),
        "scan page": ("GET", "/scan", {}),
        "scan form": ("POST", "/scan", {"content": b"not an image"}),
        "report": ("POST", "/report", {"data": {"scan_id": "nope", "what": "fake"}}),
        "location": ("POST", "/v1/scans/nope/location", {"json": {"lat": 1.0, "lon": 2.0}}),
        "verify": ("POST", "/v1/verify", {"json": {"code": signed_uri(limited.world, "V1")}}),
        "verify-only": (
            "POST",
            "/v1/verify-only",
            {"json": {"code": signed_uri(limited.world, "V2")}},
        ),
        "log checkpoint": ("GET", "/v1/log/checkpoint", {}),
        "log key": ("GET", "/v1/log/key", {}),
        "product image": ("GET", "/v1/product-images/" + "0" * 64 + ".png", {}),
    }


ROUTE_NAMES = [
    "label GET", "label page", "label HEAD", "label OPTIONS", "label linkset",
    "compressed label", "resolver description", "decode",
    "scan page", "scan form", "report", "location", "verify", "verify-only",
    "log checkpoint", "log key", "product image",
]  # fmt: skip


def call(
    client: httpx.Client, limited: Limited, name: str, headers: dict[str, str]
) -> httpx.Response:
    method, path, kwargs = routes(limited)[name]
    kwargs = {**kwargs, "headers": {**kwargs.get("headers", {}), **headers}}
    return client.request(method, limited.server.base + path, **kwargs)


@pytest.mark.parametrize("name", ROUTE_NAMES)
def test_each_anonymous_route_answers_429_past_the_limit(limited: Limited, name: str) -> None:
    forwarded = {"X-Forwarded-For": fresh_client_ip()}
    with httpx.Client(timeout=30) as client:
        under = [call(client, limited, name, forwarded).status_code for _ in range(LIMIT)]
        over = call(client, limited, name, forwarded)
    assert 429 not in under, under
    assert all(status < 500 for status in under), under
    assert over.status_code == 429, (under, over.status_code, over.headers, over.text[:300])
    assert 1 <= int(over.headers["retry-after"]) <= WINDOW
    if name != "label HEAD":
        assert over.json()["type"] == "urn:sealtrace:problem:rate-limited"


def test_the_routes_share_one_budget(limited: Limited) -> None:
    forwarded = {"X-Forwarded-For": fresh_client_ip()}
    with httpx.Client(timeout=30) as client:
        statuses = [
            call(client, limited, name, forwarded).status_code
            for name in ("label GET", "decode", "verify")
        ]
    assert 429 not in statuses[:2]
    assert statuses[2] == 429


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer nonsense", "Basic b2ZmaWNlcjpwdw==", "st_" + "a" * 43]
)
def test_an_empty_or_bogus_authorization_header_is_limited_like_anonymous(
    limited: Limited, authorization: str
) -> None:
    headers = {"X-Forwarded-For": fresh_client_ip(), "Authorization": authorization}
    with httpx.Client(timeout=30) as client:
        statuses = [call(client, limited, "verify", headers).status_code for _ in range(LIMIT + 1)]
    assert statuses[-1] == 429
    assert 429 not in statuses[:-1]


def test_a_token_is_not_limited_and_a_wrong_one_is_refused(limited: Limited) -> None:
    ip = fresh_client_ip()
    with httpx.Client(timeout=30) as client:
        for _ in range(LIMIT + 1):
            call(client, limited, "verify", {"X-Forwarded-For": ip})
        officer = {"X-Forwarded-For": ip, "Authorization": f"Bearer {limited.tokens['officer']}"}
        assert [call(client, limited, "verify", officer).status_code for _ in range(3)] == [200] * 3
        # A well-formed token that is no one's is refused before any verification work.
        unknown = {"X-Forwarded-For": ip, "Authorization": "Bearer st_" + "x" * 43}
        assert call(client, limited, "verify", unknown).status_code == 401


def test_forwarded_for_from_an_untrusted_peer_is_ignored(limited: Limited) -> None:
    # 127.0.0.2 is not a trusted proxy: a new X-Forwarded-For each time buys no new budget.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport, timeout=30) as client:
        statuses = [
            call(client, limited, "verify", {"X-Forwarded-For": fresh_client_ip()}).status_code
            for _ in range(LIMIT + 1)
        ]
    assert statuses == [200] * LIMIT + [429]


def test_forwarded_for_from_a_trusted_peer_names_the_client(limited: Limited) -> None:
    one, other = fresh_client_ip(), fresh_client_ip()
    with httpx.Client(timeout=30) as client:
        # The caller's own entries (left) vary; the rightmost untrusted entry is the client,
        # behind a second trusted proxy (192.0.2.7).
        first = [
            call(
                client, limited, "verify", {"X-Forwarded-For": f"10.9.9.{i}, {one}, 192.0.2.7"}
            ).status_code
            for i in range(LIMIT + 1)
        ]
        second = call(client, limited, "verify", {"X-Forwarded-For": other}).status_code
    assert first == [200] * LIMIT + [429]
    assert second == 200  # another client behind the same proxy has its own budget


def scope(peer: str, forwarded: str | None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"type": "http", "client": (peer, 5000), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.1", "198.51.100.1", "203.0.113.1"),  # untrusted peer: header ignored
        ("10.0.0.5", None, "10.0.0.5"),  # a proxy without the header: the proxy itself
        ("10.0.0.5", "1.2.3.4, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.5", "198.51.100.1, 10.0.0.6", "198.51.100.1"),  # 10.0.0.6 is one of ours
        ("10.0.0.5", "10.0.0.7, 10.0.0.6", "10.0.0.7"),  # all ours: the leftmost
        ("10.0.0.5", "1.2.3.4, not-an-ip", "10.0.0.5"),  # garbage: not written by us
        ("2001:db8::1", "2001:db8:ffff::9", "2001:db8:ffff::9"),
    ],
)
def test_client_ip_takes_the_rightmost_untrusted_hop(
    peer: str, forwarded: str | None, expected: str
) -> None:
    proxies = parse_networks(["10.0.0.0/24", "2001:db8::1"])
    assert client_ip(scope(peer, forwarded), trusted_proxies=proxies) == expected


def test_trusted_proxies_setting_reads_a_list_or_comma_separated_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEALTRACE_TRUSTED_PROXIES", " 10.0.0.5 , 10.0.1.0/24,")
    assert Settings(_env_file=None).trusted_proxies == ["10.0.0.5", "10.0.1.0/24"]  # type: ignore[call-arg]
    monkeypatch.setenv("SEALTRACE_TRUSTED_PROXIES", '["10.0.0.5", "::1"]')
    assert Settings(_env_file=None).trusted_proxies == ["10.0.0.5", "::1"]  # type: ignore[call-arg]
    monkeypatch.setenv("SEALTRACE_TRUSTED_PROXIES", "10.0.0.5,not-a-network")
    with pytest.raises(ValueError, match="not-a-network"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.redis
def test_two_workers_share_the_anonymous_budget_through_redis(
    sqlite_url: str, serve: ServerFactory, redis_url: str, world: World
) -> None:
    prefix = f"sealtrace-test:{uuid.uuid4().hex}:"
    server = serve(
        sqlite_url,
        workers=2,
        SEALTRACE_REDIS_URL=redis_url,
        SEALTRACE_RATE_LIMIT_KEY_PREFIX=prefix,
        SEALTRACE_ANONYMOUS_VERIFY_LIMIT="4",
        SEALTRACE_RATE_LIMIT_WINDOW_SECONDS=str(WINDOW),
    )
    label = httpx.URL(signed_uri(world, "RW1")).raw_path.decode("ascii")
    statuses = []
    try:
        for i in range(16):
            # A new connection each time, so that both workers take requests.
            with httpx.Client(timeout=30) as client:
                if i % 2:
                    response = client.post(
                        server.base + "/v1/verify", json={"code": signed_uri(world, "RW2")}
                    )
                else:
                    response = client.get(server.base + label)
            statuses.append(response.status_code)
    finally:
        store = redis.Redis.from_url(redis_url)
        keys = list(store.scan_iter(f"{prefix}*"))
        if keys:
            store.delete(*keys)
        store.close()
    # Each worker alone would allow 4 (8 in all); together they allow 4.
    assert statuses.count(429) == 12, statuses
    assert statuses[:4] == [200] * 4
    assert len(keys) == 1
