"""Signed webhook delivery of alert events to a brand's endpoint.

Wire format (docs/detection.md, "Webhooks", is the receiver's guide)::

    POST <endpoint>
    Content-Type: application/json
    X-Sealtrace-Timestamp: <unix seconds of this attempt>
    X-Sealtrace-Event-Id: <event id, the same on every retry>
    X-Sealtrace-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<event id>.<body>")>

    {"created_at": "...", "data": {...}, "id": "<event id>", "type": "..."}

The body is the same bytes on every attempt; the timestamp and signature are
made afresh for each, so an event retried from an outbox an hour later is
not mistaken for a replay. Receivers drop duplicates by event id.

:func:`deliver` does the I/O through an injected ``httpx.Client``, ``sleep``
and ``clock``, so the service can run it from a background task or an outbox
worker and tests never wait. It retries network errors, 408, 429 and 5xx with
exponential backoff and jitter (honouring ``Retry-After``), never retries
after a 2xx, and treats every other answer as a permanent failure.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import ipaddress
import json
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpcore

if TYPE_CHECKING:
    import httpx  # imported where used: importing it costs a worker's start ~0.1 s (its CLI)

from authn.errors import InvalidInput, Unauthenticated

TIMESTAMP_HEADER = "X-Sealtrace-Timestamp"
EVENT_ID_HEADER = "X-Sealtrace-Event-Id"
SIGNATURE_HEADER = "X-Sealtrace-Signature"
SIGNATURE_VERSION = "v1"
USER_AGENT = "sealtrace-webhooks/1"
MAX_EVENT_ID_LENGTH = 200

# Answers worth another try: the receiver is busy, restarting or timed out.
_RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class WebhookEvent:
    """One alert to tell a brand about; ``data`` must be JSON-serialisable."""

    event_id: str
    event_type: str
    created_at: dt.datetime
    data: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not self.event_id or len(self.event_id) > MAX_EVENT_ID_LENGTH:
            raise InvalidInput(f"event_id must have 1 to {MAX_EVENT_ID_LENGTH} characters")
        if not self.event_id.isascii() or not self.event_id.isprintable():
            raise InvalidInput("event_id must be printable ASCII (it travels in a header)")
        if not self.event_type:
            raise InvalidInput("event_type must not be empty")
        if self.created_at.tzinfo is None:
            raise InvalidInput("created_at must carry a time zone")
        self.body()  # refuse data that cannot be sent, here rather than at delivery

    def body(self) -> bytes:
        """The JSON body: sorted keys, no spaces, UTF-8, the same bytes every time."""
        document = {
            "id": self.event_id,
            "type": self.event_type,
            "created_at": self.created_at.astimezone(dt.UTC).isoformat(),
            "data": self.data,
        }
        try:
            text = json.dumps(
                document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"webhook data is not JSON-serialisable: {exc}") from exc
        return text.encode("utf-8")


def new_event(
    event_type: str, data: Mapping[str, Any], *, now: dt.datetime, event_id: str | None = None
) -> WebhookEvent:
    """An event with a fresh random id (unless given), to be stored in the outbox as is."""
    return WebhookEvent(event_id or f"evt_{uuid.uuid4().hex}", event_type, now, data)


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise InvalidInput("the webhook secret must not be empty")
    return key


def signature(secret: str | bytes, timestamp: int, event_id: str, body: bytes) -> str:
    """The hex HMAC-SHA256 over ``"<timestamp>.<event_id>.<body>"``."""
    message = f"{timestamp}.{event_id}.".encode() + body
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str | bytes, event_id: str, body: bytes, *, timestamp: int
) -> dict[str, str]:
    """The headers of one delivery attempt."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_ID_HEADER: event_id,
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={signature(secret, timestamp, event_id, body)}",
    }


def verify_webhook(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: dt.datetime,
    tolerance_s: int = 300,
) -> str:
    """Check a received webhook; return its event id, or raise :class:`Unauthenticated`.

    Refuses a bad or missing signature, and a timestamp more than
    ``tolerance_s`` from ``now`` either way, so a captured request cannot be
    replayed later. Within the tolerance a replay still verifies: drop
    duplicates by the returned event id (docs/detection.md has an example).
    Several ``v1=`` signatures, comma-separated, are accepted while a
    secret is being rotated.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "").strip()
    event_id = lowered.get(EVENT_ID_HEADER.lower(), "").strip()
    offered = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or not event_id or not offered:
        raise Unauthenticated("webhook is missing its timestamp, event id or signature header")
    timestamp = int(raw_timestamp)
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise Unauthenticated("webhook timestamp is outside the tolerance (old or replayed)")
    expected = signature(secret, timestamp, event_id, body)
    candidates = [part.strip() for part in offered.split(",")]
    prefix = f"{SIGNATURE_VERSION}="
    if not any(
        part.startswith(prefix) and hmac.compare_digest(part[len(prefix) :], expected)
        for part in candidates
    ):
        raise Unauthenticated("webhook signature does not match")
    return event_id


@dataclass(frozen=True)
class DeliveryAttempt:
    number: int
    status_code: int | None  # None when no answer came (network error)
    error: str | None  # None when the attempt succeeded


@dataclass(frozen=True)
class DeliveryResult:
    """How a delivery ended.

    ``delivered`` is true after a 2xx. Otherwise ``permanent`` tells whether
    retrying later is pointless (the receiver refused the event), and
    ``retry_after_s`` carries a receiver's wish to wait longer than this call
    would, for the outbox to honour.
    """

    event_id: str
    delivered: bool
    attempts: tuple[DeliveryAttempt, ...] = field(default_factory=tuple)
    permanent: bool = False
    retry_after_s: float | None = None

    @property
    def status_code(self) -> int | None:
        return self.attempts[-1].status_code if self.attempts else None

    @property
    def error(self) -> str | None:
        """The last attempt's error, ``None`` after success."""
        return self.attempts[-1].error if self.attempts else None


def check_endpoint(endpoint: str) -> httpx.URL:
    """The endpoint as a URL, refused unless it is an absolute http(s) URL."""
    import httpx

    try:
        url = httpx.URL(endpoint)
    except httpx.InvalidURL as exc:
        raise InvalidInput(f"webhook endpoint is not a valid URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInput("webhook endpoint must be an absolute http or https URL")
    return url


# Destinations ----------------------------------------------------------------------------------
#
# A webhook URL is chosen by a brand's account, and the service posts to it from inside the
# operator's network: without a check, "https://127.0.0.1:8080/internal" or the cloud
# metadata address would be reached (server-side request forgery). Only global unicast
# addresses are accepted, after DNS resolution, both when the URL is set and on every
# connection (a name may resolve elsewhere later: DNS rebinding), unless the operator lists
# the network in ``webhook_allow_networks``.

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForbiddenDestination(InvalidInput):
    """The endpoint resolves to a loopback, private, link-local or otherwise internal address."""


@dataclass(frozen=True)
class Destinations:
    """Which addresses webhooks may reach: global unicast, plus the operator's ``allowed``."""

    allowed: tuple[IpNetwork, ...] = ()

    @classmethod
    def allowing(cls, networks: list[str] | tuple[str, ...]) -> Destinations:
        try:
            return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))
        except ValueError as exc:
            raise InvalidInput(f"webhook_allow_networks: {exc}") from None

    def problem(self, address: IpAddress) -> str | None:
        """Why ``address`` may not be reached, or None."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed):
            return None
        if address.is_multicast or not address.is_global:
            return f"{address} is not a public address (loopback, private, link-local or reserved)"
        return None

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` (each checked); ForbiddenDestination if any is refused."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for text in addresses:
            problem = self.problem(ipaddress.ip_address(text.split("%", 1)[0]))
            if problem is not None:
                raise ForbiddenDestination(f"webhook endpoint {host!r} refused: {problem}")
        return addresses

    def check_url(self, url: httpx.URL) -> None:
        """At configuration: refuse a URL whose host is, or resolves to, a refused address.

        A name that does not resolve now is accepted: every connection resolves it again
        and is refused then if it points inside."""
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            self.resolve(url.host, port)
        except httpcore.ConnectError:
            return


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to checked addresses: the name is resolved here, once, and the socket
    goes to the address that was checked (TLS still verifies the name)."""

    def __init__(self, destinations: Destinations) -> None:
        self.destinations = destinations

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.destinations.resolve(host, port)
        except ForbiddenDestination as exc:
            raise httpcore.ConnectError(str(exc)) from None
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


def guarded_client(destinations: Destinations, *, timeout: float) -> httpx.Client:
    """An httpx client whose every connection is checked against ``destinations``; no proxy
    from the environment (a proxy would connect on our behalf, unchecked)."""
    import httpx

    transport = httpx.HTTPTransport(trust_env=False)
    # httpx (pinned) builds its httpcore pool in the constructor; ours adds the guard.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_GuardedBackend(destinations),
    )
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False)


def deliver(
    event: WebhookEvent,
    endpoint: str,
    secret: str | bytes,
    *,
    client: httpx.Client,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    max_attempts: int = 5,
    base_delay_s: float = 1.0,
    max_delay_s: float = 60.0,
    max_retry_after_s: float = 300.0,
    rng: random.Random | None = None,
) -> DeliveryResult:
    """POST ``event`` to ``endpoint``, signed with ``secret``, retrying what is worth retrying."""
    import httpx

    if max_attempts < 1:
        raise InvalidInput("max_attempts must be at least 1")
    url = check_endpoint(endpoint)
    _key(secret)
    # Jitter only spreads retries out; it needs no secrecy.
    jitter = rng or random.Random()
    body = event.body()
    attempts: list[DeliveryAttempt] = []
    retry_after: float | None = None
    for number in range(1, max_attempts + 1):
        headers = signed_headers(secret, event.event_id, body, timestamp=int(clock()))
        try:
            response = client.post(url, content=body, headers=headers, follow_redirects=False)
        except httpx.TransportError as exc:
            attempts.append(DeliveryAttempt(number, None, f"{type(exc).__name__}: {exc}"))
            retry_after = None
        else:
            status = response.status_code
            if 200 <= status < 300:
                attempts.append(DeliveryAttempt(number, status, None))
                return DeliveryResult(event.event_id, True, tuple(attempts))
            attempts.append(DeliveryAttempt(number, status, f"HTTP {status}"))
            if status < 500 and status not in _RETRY_STATUSES:
                return DeliveryResult(event.event_id, False, tuple(attempts), permanent=True)
            retry_after = _retry_after_s(response, clock())
        if number == max_attempts:
            break
        if retry_after is not None and retry_after > max_retry_after_s:
            # The receiver wants more time than a worker should block for: hand it to the outbox.
            return DeliveryResult(event.event_id, False, tuple(attempts), retry_after_s=retry_after)
        backoff = min(max_delay_s, base_delay_s * 2 ** (number - 1))
        delay = backoff / 2 + jitter.uniform(0, backoff / 2)  # "equal jitter"
        sleep(max(delay, retry_after or 0.0))
    return DeliveryResult(event.event_id, False, tuple(attempts), retry_after_s=retry_after)


def _retry_after_s(response: httpx.Response, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date), if any."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)
