"""Rate limits for anonymous verification: a fixed-window counter per client IP.

Two counters share one interface. :class:`LocalCounter` lives in the worker
process (one machine, one worker, or tests). :class:`RedisCounter` is shared by
every worker and machine: one Lua script increments the window's key and sets
its expiry atomically, so two workers can never both see the last free slot.

Requests with an ``Authorization`` header are not limited here: officers,
brands and admins are accountable by their token, and a bad token is refused
with 401 before any verification work. A Redis outage lets requests through
(logged): verification matters more than its limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from verifier.api.problems import PROBLEM_JSON, TYPE_BASE

log = logging.getLogger(__name__)

Monotonic = Callable[[], float]
LIMITED_PREFIXES = ("/v1/verify",)  # /v1/verify and /v1/verify-only

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


def client_ip(scope: Scope, *, trust_forwarded_for: bool) -> str:
    """The caller's IP: the socket peer, or the last X-Forwarded-For hop (set by our own
    load balancer, so it cannot be chosen by the caller) when told to trust it."""
    if trust_forwarded_for:
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                last: str = bytes(value).decode("latin-1").split(",")[-1].strip()
                if last:
                    return last
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """Answers 429 (problem+json, Retry-After) to anonymous verify requests over the limit."""

    def __init__(self, app: ASGIApp, counter: Counter, *, trust_forwarded_for: bool) -> None:
        self.app = app
        self.counter = counter
        self.trust_forwarded_for = trust_forwarded_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(LIMITED_PREFIXES)
            or any(name == b"authorization" for name, _ in scope.get("headers", []))
        ):
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope, trust_forwarded_for=self.trust_forwarded_for)
        decision = await self.counter.hit(f"verify:{ip}")
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        from verifier.api.metrics import RATE_LIMITED

        RATE_LIMITED.inc()
        await refuse(send, decision.retry_after, self.counter.limit, self.counter.window)


async def refuse(send: Send, retry_after: int, limit: int, window: int) -> None:
    body = json.dumps(
        {
            "type": TYPE_BASE + "rate-limited",
            "title": "Too many requests",
            "status": 429,
            "detail": f"over {limit} anonymous verifications per {window} s from this address; "
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
