"""Webhook delivery against a real HTTP receiver on 127.0.0.1 that checks signatures."""

from __future__ import annotations

import datetime as dt
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from authn.errors import InvalidInput, Unauthenticated
from verifier.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookEvent,
    deliver,
    new_event,
    signed_headers,
    verify_webhook,
)

SECRET = "whsec-brand-42"
NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """A brand's endpoint: verifies each request, answers from a script, keeps what it saw."""

    url: str
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # event ids, duplicates dropped
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        with self.lock:
            try:
                event_id = verify_webhook(SECRET, headers, body, now=dt.datetime.now(dt.UTC))
            except Unauthenticated:
                self.requests.append(Received(headers, body, verified=False))
                return 401, {}
            self.requests.append(Received(headers, body, verified=True))
            status, extra = self.script.pop(0) if self.script else (200, {})
            if 200 <= status < 300 and event_id not in self.accepted:
                self.accepted.append(event_id)
            return status, extra


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, extra = state[0].handle(dict(self.headers.items()), body)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/sealtrace"))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def event() -> WebhookEvent:
    data = {"reason": "IMPOSSIBLE_TRAVEL", "gtin": "09506000134352", "serial": "ABC123"}
    return new_event("code.suspect", data, now=NOW)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_500_then_200_is_one_accepted_delivery_with_one_event_id(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.script = [(500, {}), (200, {})]
    sleeps = Sleeps()
    sent = event()
    result = deliver(sent, receiver.url, SECRET, client=client, sleep=sleeps)
    assert result.delivered
    assert [a.status_code for a in result.attempts] == [500, 200]
    assert result.error is None
    assert receiver.accepted == [sent.event_id]
    assert len(receiver.requests) == 2
    assert all(r.verified for r in receiver.requests)
    assert {r.headers[EVENT_ID_HEADER] for r in receiver.requests} == {sent.event_id}
    assert receiver.requests[0].body == receiver.requests[1].body == sent.body()
    assert len(sleeps) == 1


def test_success_is_never_retried(receiver: Receiver, client: httpx.Client) -> None:
    sleeps = Sleeps()
    result = deliver(event(), receiver.url, SECRET, client=client, sleep=sleeps)
    assert result.delivered
    assert len(result.attempts) == 1
    assert len(receiver.requests) == 1
    assert sleeps == []


def test_replayed_old_request_is_refused(receiver: Receiver, client: httpx.Client) -> None:
    sent = event()
    assert deliver(sent, receiver.url, SECRET, client=client, sleep=Sleeps()).delivered
    captured = receiver.requests[0]
    timestamp = int(captured.headers[TIMESTAMP_HEADER])
    fresh = dt.datetime.fromtimestamp(timestamp + 10, dt.UTC)
    assert verify_webhook(SECRET, captured.headers, captured.body, now=fresh) == sent.event_id
    later = dt.datetime.fromtimestamp(timestamp + 301, dt.UTC)
    with pytest.raises(Unauthenticated, match="tolerance"):
        verify_webhook(SECRET, captured.headers, captured.body, now=later)
    # Sent over the wire again, a request captured 400 s ago is refused by the receiver.
    old = int(dt.datetime.now(dt.UTC).timestamp()) - 400
    replay = signed_headers(SECRET, sent.event_id, sent.body(), timestamp=old)
    assert client.post(receiver.url, content=sent.body(), headers=replay).status_code == 401
    assert receiver.accepted == [sent.event_id]


def test_tampered_body_is_refused(receiver: Receiver, client: httpx.Client) -> None:
    sent = event()
    body = sent.body()
    headers = signed_headers(SECRET, sent.event_id, body, timestamp=int(NOW.timestamp()))
    tampered = body.replace(b"ABC123", b"ABC124")
    with pytest.raises(Unauthenticated, match="signature"):
        verify_webhook(SECRET, headers, tampered, now=NOW)
    live = signed_headers(
        SECRET, sent.event_id, body, timestamp=int(dt.datetime.now(dt.UTC).timestamp())
    )
    answer = client.post(receiver.url, content=tampered, headers=live)
    assert answer.status_code == 401
    assert receiver.accepted == []


def test_wrong_secret_is_a_permanent_failure(receiver: Receiver, client: httpx.Client) -> None:
    sleeps = Sleeps()
    result = deliver(event(), receiver.url, "not-the-secret", client=client, sleep=sleeps)
    assert not result.delivered
    assert result.permanent
    assert result.status_code == 401
    assert result.error == "HTTP 401"
    assert sleeps == []
    assert receiver.accepted == []


@pytest.mark.parametrize("status", [400, 404, 410, 301])
def test_other_4xx_and_redirects_are_permanent(
    receiver: Receiver, client: httpx.Client, status: int
) -> None:
    receiver.script = [(status, {"Location": "http://127.0.0.1:1/elsewhere"})]
    result = deliver(event(), receiver.url, SECRET, client=client, sleep=Sleeps())
    assert (result.delivered, result.permanent, len(result.attempts)) == (False, True, 1)


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_transient_answers_are_retried(
    receiver: Receiver, client: httpx.Client, status: int
) -> None:
    receiver.script = [(status, {})]
    result = deliver(event(), receiver.url, SECRET, client=client, sleep=Sleeps())
    assert result.delivered
    assert [a.status_code for a in result.attempts] == [status, 200]


def test_retry_after_is_honoured(receiver: Receiver, client: httpx.Client) -> None:
    receiver.script = [(429, {"Retry-After": "7"})]
    sleeps = Sleeps()
    result = deliver(event(), receiver.url, SECRET, client=client, sleep=sleeps, base_delay_s=1.0)
    assert result.delivered
    assert sleeps == [7.0]


def test_retry_after_beyond_the_cap_goes_back_to_the_outbox(
    receiver: Receiver, client: httpx.Client
) -> None:
    receiver.script = [(503, {"Retry-After": "3600"})]
    sleeps = Sleeps()
    result = deliver(event(), receiver.url, SECRET, client=client, sleep=sleeps)
    assert not result.delivered
    assert not result.permanent
    assert result.retry_after_s == 3600.0
    assert sleeps == []
    assert len(receiver.requests) == 1


def test_5xx_until_the_last_attempt_records_the_last_error(
    receiver: Receiver, client: httpx.Client
) -> None:
    no_headers: dict[str, str] = {}
    receiver.script = [(500, no_headers)] * 3 + [(503, no_headers)]
    result = deliver(event(), receiver.url, SECRET, client=client, sleep=Sleeps(), max_attempts=4)
    assert not result.delivered
    assert not result.permanent
    assert len(result.attempts) == 4
    assert result.error == "HTTP 503"
    assert receiver.accepted == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_network_errors_back_off_exponentially_with_jitter(client: httpx.Client) -> None:
    sleeps = Sleeps()
    result = deliver(
        event(),
        f"http://127.0.0.1:{closed_port()}/hook",
        SECRET,
        client=client,
        sleep=sleeps,
        max_attempts=5,
        base_delay_s=2.0,
        max_delay_s=10.0,
        rng=random.Random(7),
    )
    assert not result.delivered
    assert len(result.attempts) == 5
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("ConnectError")
    assert len(sleeps) == 4
    for delay, backoff in zip(sleeps, [2.0, 4.0, 8.0, 10.0], strict=True):
        assert backoff / 2 <= delay <= backoff


def test_verify_webhook_reads_headers_in_any_case_and_accepts_rotation() -> None:
    sent = event()
    body = sent.body()
    ts = int(NOW.timestamp())
    old = signed_headers("old-secret", sent.event_id, body, timestamp=ts)[SIGNATURE_HEADER]
    new = signed_headers(SECRET, sent.event_id, body, timestamp=ts)[SIGNATURE_HEADER]
    headers = {
        TIMESTAMP_HEADER.lower(): str(ts),
        EVENT_ID_HEADER.upper(): sent.event_id,
        SIGNATURE_HEADER: f"{old}, {new}",
    }
    assert verify_webhook(SECRET, headers, body, now=NOW) == sent.event_id
    assert verify_webhook("old-secret", headers, body, now=NOW) == sent.event_id
    with pytest.raises(Unauthenticated):
        verify_webhook("third-secret", headers, body, now=NOW)


@pytest.mark.parametrize("drop", [TIMESTAMP_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER])
def test_verify_webhook_refuses_missing_headers(drop: str) -> None:
    sent = event()
    headers = signed_headers(SECRET, sent.event_id, sent.body(), timestamp=int(NOW.timestamp()))
    del headers[drop]
    with pytest.raises(Unauthenticated):
        verify_webhook(SECRET, headers, sent.body(), now=NOW)


def test_event_id_is_bound_into_the_signature() -> None:
    sent = event()
    headers = signed_headers(SECRET, sent.event_id, sent.body(), timestamp=int(NOW.timestamp()))
    headers[EVENT_ID_HEADER] = "evt_other"
    with pytest.raises(Unauthenticated):
        verify_webhook(SECRET, headers, sent.body(), now=NOW)


def test_bad_events_and_endpoints_are_refused(client: httpx.Client) -> None:
    with pytest.raises(InvalidInput):
        new_event("code.suspect", {"when": NOW}, now=NOW)  # a datetime is not JSON
    with pytest.raises(InvalidInput):
        new_event("code.suspect", {"score": float("nan")}, now=NOW)
    with pytest.raises(InvalidInput):
        WebhookEvent("evt\n1", "code.suspect", NOW, {})
    for endpoint in ("ftp://example.org/hook", "/relative/hook", "http:///nohost"):
        with pytest.raises(InvalidInput):
            deliver(event(), endpoint, SECRET, client=client, sleep=Sleeps())
    with pytest.raises(InvalidInput):
        deliver(event(), "http://127.0.0.1:1/hook", "", client=client, sleep=Sleeps())


def test_body_is_canonical_json() -> None:
    sent = WebhookEvent("evt_1", "code.suspect", NOW, {"b": 1, "a": "é"})
    assert (
        sent.body()
        == (
            '{"created_at":"2025-03-01T08:00:00+00:00","data":{"a":"é","b":1},'
            '"id":"evt_1","type":"code.suspect"}'
        ).encode()
    )
