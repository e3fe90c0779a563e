"""Rate limits for anonymous routes: one fixed-window counter per client IP.

Every route a caller can use without an account (see :func:`is_limited`) draws on
the same budget, so a client cannot spread a flood over label URLs, decode,
``/scan``, reports and verify to multiply its allowance.

Two counters share one interface. :class:`LocalCounter` lives in the worker
process (one machine, one worker, or tests). :class:`RedisCounter` is shared by
every worker and machine: one Lua script increments the window's key and sets
its expiry atomically, so two workers can never both see the last free slot.

Only a request that carries a well-formed sealtrace bearer token skips the
limit: officers, brands and admins are accountable by their token, and a
well-formed but unknown token is refused with 401 before any verification
work. Any other ``Authorization`` header (empty, another scheme, garbage) is
counted as anonymous: a header alone must not buy a way round the limit.
A Redis outage lets requests through (logged): verification matters more than
its limit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from http_api.problems import PROBLEM_JSON, TYPE_BASE

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LIMITED_PATHS = frozenset(
    {"/v1/verify", "/v1/verify-only", "/v1/decode", "/scan", "/report", "/.well-known/gs1resolver"}
)
# A Digital Link opens with an Application Identifier (the resolver's route) or is one
# compressed segment (the resolver's other route); the location a page shares later; the
# public transparency log; uploaded product images.
LIMITED_PATTERN = re.compile(
    r"/\d{2,4}/.*|/[A-Za-z0-9_-]{8,}|/v1/scans/[^/]+/location|/v1/log/.*|/v1/product-images/.*"
)
# "Bearer st_" and 43 base64url characters (verifier.accounts.new_token).
TOKEN_SHAPE = re.compile(rb"[Bb][Ee][Aa][Rr][Ee][Rr] +st_[A-Za-z0-9_-]{43} *")

# KEYS[1]: the window's counter; ARGV[1]: window seconds. Returns {count, ttl ms}.
INCREMENT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 1000)
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 1000)
  ttl = tonumber(ARGV[1]) * 1000
end
return {count, ttl}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the window resets (0 when allowed)
    counted: bool = True  # False: the store was unreachable and the request let through


class Counter(Protocol):
    limit: int
    window: int

    async def hit(self, key: str) -> Decision: ...


class LocalCounter:
    """Per-process fixed windows; old windows are dropped as new ones start."""

    def __init__(self, limit: int, window: int, *, clock: Monotonic = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._window_index = -1
        self._counts: dict[str, int] = {}

    async def hit(self, key: str) -> Decision:
        now = self.clock()
        index = int(now // self.window)
        if index != self._window_index:
            self._window_index = index
            self._counts = {}
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count <= self.limit:
            return Decision(True, 0)
        return Decision(False, max(1, math.ceil((index + 1) * self.window - now)))


class RedisCounter:
    """Shared fixed windows in Redis (``INCR`` + ``PEXPIRE`` in one script).

    The client is made per event loop: an asyncio connection cannot cross loops
    (tests run several apps, each on its own loop)."""

    def __init__(self, url: str, limit: int, window: int, *, prefix: str) -> None:
        self.url = url
        self.limit = limit
        self.window = window
        self.prefix = prefix
        self._clients: dict[int, object] = {}

    def _client(self) -> object:
        import redis.asyncio as aioredis

        loop_id = id(asyncio.get_running_loop())
        client = self._clients.get(loop_id)
        if client is None:
            # A blocking pool makes a burst wait for a free connection (briefly) instead of
            # failing, which would let the burst through unlimited.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=32,
                timeout=2.0,
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
            client = aioredis.Redis(connection_pool=pool)
            self._clients = {loop_id: client}  # the old loop is gone; keep one client
        return client

    async def hit(self, key: str) -> Decision:
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        client = self._client()
        assert isinstance(client, aioredis.Redis)
        window_index = int(time.time() // self.window)
        redis_key = f"{self.prefix}{key}:{window_index}"
        try:
            result = await client.eval(INCREMENT_SCRIPT, 1, redis_key, str(self.window))
        except (RedisError, OSError) as exc:
            log.warning("rate limit store unavailable, request let through: %s", type(exc).__name__)
            return Decision(True, 0, counted=False)
        count, ttl_ms = int(result[0]), int(result[1])
        if count <= self.limit:
            return Decision(True, 0)
        return Decision(False, max(1, math.ceil(ttl_ms / 1000)))


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks (a bare address is a /32 or /128); ValueError if bad."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(scope: Scope, *, trusted_proxies: tuple[Network, ...]) -> str:
    """The caller's IP: the TCP peer, unless the peer is one of our trusted proxies.

    Then it is the rightmost ``X-Forwarded-For`` entry that is not itself a trusted proxy:
    each proxy appends the address it saw, so everything left of that entry was written
    by the caller and could be anything. From any other peer the header is ignored."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not trusted_proxies or not _within(peer, trusted_proxies):
        return peer
    hops: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops.extend(bytes(value).decode("latin-1").split(","))
    chosen = peer
    for hop in reversed([hop.strip() for hop in hops if hop.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return chosen  # not an address: our proxy did not write it
        chosen = hop
        if not _within(hop, trusted_proxies):
            return hop
    return chosen  # every hop is one of ours: the leftmost is the closest to the caller


def is_limited(path: str) -> bool:
    """The anonymous routes: label URLs (compressed too), the resolver description, decode,
    /scan, /report, location, verify, log."""
    return path in LIMITED_PATHS or LIMITED_PATTERN.fullmatch(path) is not None


def has_token(scope: Scope) -> bool:
    """A well-formed bearer token (valid or not: get_caller answers 401 to a bad one)."""
    values = [value for name, value in scope.get("headers", []) if name == b"authorization"]
    return len(values) == 1 and TOKEN_SHAPE.fullmatch(bytes(values[0])) is not None


class RateLimitMiddleware:
    """Answers 429 (problem+json, Retry-After) to anonymous requests over the limit, on every
    anonymous route and method (HEAD and OPTIONS of a label URL too)."""

    def __init__(self, app: ASGIApp, counter: Counter, *, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.counter = counter
        self.trusted_proxies = parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_limited(scope["path"]) or has_token(scope):
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope, trusted_proxies=self.trusted_proxies)
        decision = await self.counter.hit(f"anon:{ip}")
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        from http_api.metrics import RATE_LIMITED

        RATE_LIMITED.inc()
        await refuse(send, decision.retry_after, self.counter.limit, self.counter.window)


async def refuse(send: Send, retry_after: int, limit: int, window: int) -> None:
    body = json.dumps(
        {
            "type": TYPE_BASE + "rate-limited",
            "title": "Too many requests",
            "status": 429,
            "detail": f"over {limit} anonymous requests per {window} s from this address; "
            f"retry in {retry_after} s",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
