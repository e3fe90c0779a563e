"""Registration with the verifier, against a real HTTP server on 127.0.0.1.

The server implements the registration contract (docs/issuer.md) in memory,
with failures injected by request number: a 503/429 with Retry-After, or a
connection closed without an answer.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from authn.errors import PermissionDenied, Unauthenticated
from authn.signing import key_id
from issuer.batch import build_spec, create_batch, run_batch
from issuer.journal import JOURNAL_NAME, BatchJournal
from issuer.register import RetryPolicy, register_batch
from keys.filestore import write_private_key
from sealtrace.cli.issue_cmd import issue

GTIN = "09506000134352"
TOKEN = "brand-token-1"
NO_WAIT = RetryPolicy(attempts=4, base_delay=0.0)


@dataclass
class Verifier:
    """The verifier's registration endpoint, in memory."""

    token: str = TOKEN
    failures: dict[int, str] = field(default_factory=dict)  # request number -> kind
    requests: list[dict[str, Any]] = field(default_factory=list)
    registered: dict[tuple[str, str], str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, auth: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        """(status, JSON answer, failure kind or '')."""
        with self.lock:
            number = len(self.requests)
            self.requests.append(body)
            kind = self.failures.get(number, "")
            if kind:
                return 0, {}, kind
            if auth != f"Bearer {self.token}":
                return 401, {"title": "Unauthorized"}, ""
            if body.get("gtin") == "00000000000000":
                return 403, {"title": "Forbidden"}, ""
            serials = body.get("serials")
            if not isinstance(serials, list) or not 1 <= len(serials) <= 10_000:
                return 422, {"title": "Invalid", "detail": "serials must hold 1..10000 items"}, ""
            fresh = already = 0
            rejected = []
            for serial in serials:
                owner = self.registered.get((body["gtin"], serial))
                if owner is None:
                    self.registered[(body["gtin"], serial)] = body["batch_id"]
                    fresh += 1
                elif owner == body["batch_id"]:
                    already += 1
                else:
                    rejected.append({"serial": serial, "reason": "registered to another batch"})
            answer = {
                "batch_id": body["batch_id"],
                "registered": fresh,
                "already_registered": already,
                "rejected": rejected,
            }
            return 200, answer, ""


def make_handler(verifier: Verifier) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            if self.path != "/v1/registrations":
                self.send_error(404)
                return
            status, answer, kind = verifier.handle(self.headers.get("Authorization"), body)
            if kind == "drop":
                self.close_connection = True  # hang up without a word
                return
            if kind in ("503", "429"):
                status, answer = int(kind), {"title": "try again"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            content_type = "application/json" if status == 200 else "application/problem+json"
            self.send_header("Content-Type", content_type)
            if kind:
                self.send_header("Retry-After", "2")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def verifier() -> Iterator[tuple[Verifier, str]]:
    state = Verifier()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def make_batch(tmp_path: Path, key: Ed25519PrivateKey, count: int, name: str = "batch") -> Path:
    spec = build_spec(
        gtin=GTIN, count=count, fmt="csv", key_spec="test", key_id=key_id(key.public_key()),
        registry=tmp_path / "registry.sqlite", now=dt.datetime(2026, 11, 21, tzinfo=dt.UTC),
        resolver="https://id.example.com", expiry="281231", markets=("DE", "FR"),
    )  # fmt: skip
    journal = create_batch(tmp_path / name, spec)
    run_batch(journal, key)
    journal.close()
    return tmp_path / name


def serials_of(batch: Path) -> list[str]:
    journal = BatchJournal.open(batch)
    try:
        return journal.serials(0, journal.spec.count)
    finally:
        journal.close()


def test_batch_is_registered_in_chunks_of_at_most_10000(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    state, url = verifier
    batch = make_batch(tmp_path, key, 12_000)
    report = register_batch(batch, url, TOKEN, retry=NO_WAIT)
    assert report.complete
    assert (report.registered, report.already_registered, report.chunks) == (12_000, 0, 2)
    assert [len(r["serials"]) for r in state.requests] == [10_000, 2_000]
    first = state.requests[0]
    assert first["gtin"] == GTIN
    assert first["expiry"] == "281231"
    assert first["lot"] is None
    assert first["intended_markets"] == ["DE", "FR"]
    assert first["key_id"] == key_id(key.public_key())
    assert {s for (_, s) in state.registered} == set(serials_of(batch))


def test_registering_twice_sends_nothing_and_resending_changes_nothing(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    state, url = verifier
    batch = make_batch(tmp_path, key, 2500)
    first = register_batch(batch, url, TOKEN, chunk_size=1000, retry=NO_WAIT)
    again = register_batch(batch, url, TOKEN, chunk_size=1000, retry=NO_WAIT)
    assert len(state.requests) == 3  # the second run had nothing left to send
    assert (again.registered, again.sent_now, again.complete) == (2500, 0, True)
    # Forget the confirmations and send everything again: the verifier's
    # registry is unchanged and says so.
    before = dict(state.registered)
    with sqlite3.connect(batch / "journal.sqlite") as conn:
        conn.execute("DELETE FROM confirmations")
    resent = register_batch(batch, url, TOKEN, chunk_size=1000, retry=NO_WAIT)
    assert state.registered == before
    assert (resent.registered, resent.already_registered) == (0, 2500)
    assert first.registered == 2500


@pytest.mark.parametrize("kind", ["503", "429", "drop"])
def test_transient_failures_are_retried_with_backoff(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str], kind: str
) -> None:
    state, url = verifier
    state.failures = {0: kind, 1: kind}
    waits: list[float] = []
    batch = make_batch(tmp_path, key, 300)
    policy = RetryPolicy(attempts=4, base_delay=0.25)
    report = register_batch(batch, url, TOKEN, retry=policy, sleep=waits.append)
    assert report.complete
    assert report.registered == 300
    assert len(state.requests) == 3
    # 503/429 carry Retry-After: 2, which wins; a dropped connection backs off 0.25, 0.5.
    assert waits == ([2.0, 2.0] if kind != "drop" else [0.25, 0.5])


def test_an_outage_leaves_a_clear_report_and_a_rerun_sends_only_the_rest(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    state, url = verifier
    state.failures = dict.fromkeys(range(1, 5), "503")  # down after the first chunk
    batch = make_batch(tmp_path, key, 2500)
    report = register_batch(batch, url, TOKEN, chunk_size=1000, retry=NO_WAIT, sleep=lambda _: None)
    assert not report.complete
    assert (report.confirmed_chunks, report.confirmed_serials) == (1, 1000)
    assert report.error is not None
    assert "after 4 attempts" in report.error
    assert "NOT registered: 1,500 serials" in report.summary()

    sent_before = len(state.requests)
    rerun = register_batch(batch, url, TOKEN, chunk_size=1000, retry=NO_WAIT)
    assert rerun.complete
    resent = [s for r in state.requests[sent_before:] for s in r["serials"]]
    assert resent == serials_of(batch)[1000:], "only the unconfirmed chunks are sent"
    assert (rerun.registered, rerun.already_registered) == (2500, 0)


def test_rejected_serials_are_reported(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    state, url = verifier
    batch = make_batch(tmp_path, key, 50)
    taken = serials_of(batch)[7]
    state.registered[(GTIN, taken)] = "someone-else"
    report = register_batch(batch, url, TOKEN, retry=NO_WAIT)
    assert not report.complete
    assert report.rejected == ((taken, "registered to another batch"),)
    assert report.registered == 49
    assert taken in report.summary()


def test_a_refused_token_stops_at_once(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    state, url = verifier
    batch = make_batch(tmp_path, key, 50)
    with pytest.raises(Unauthenticated):
        register_batch(batch, url, "stolen-token", retry=NO_WAIT)
    assert len(state.requests) == 1
    journal = BatchJournal.open(batch)
    assert journal.confirmations(url + "/v1/registrations") == {}
    journal.close()


def test_a_forbidden_gtin_raises_permission_denied(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    _, url = verifier
    batch = make_batch(tmp_path, key, 5)
    with sqlite3.connect(batch / "journal.sqlite") as conn:
        spec = json.loads(conn.execute("SELECT value FROM meta WHERE key='spec'").fetchone()[0])
        spec["gtin"] = "00000000000000"
        conn.execute("UPDATE meta SET value = ? WHERE key = 'spec'", (json.dumps(spec),))
    with pytest.raises(PermissionDenied):
        register_batch(batch, url, TOKEN, retry=NO_WAIT)


def test_cli_issues_and_registers_in_one_go(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    state, url = verifier
    key_path = tmp_path / "line.key.pem"
    write_private_key(key_path, key, b"pass")
    app = typer.Typer()
    app.command()(issue)
    args = [
        "--gtin", GTIN, "--count", "40", "--key", str(key_path), "--out", str(tmp_path / "b"),
        "--format", "jsonl", "--registry", str(tmp_path / "registry.sqlite"),
        "--register", url, "--markets", "de", "--uncertified",
    ]  # fmt: skip
    env = {"SEALTRACE_KEY_PASSPHRASE": "pass", "SEALTRACE_REGISTRATION_TOKEN": TOKEN}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.stderr
    assert "40 of 40 serials confirmed" in result.stdout
    assert len(state.registered) == 40
    assert state.requests[0]["intended_markets"] == ["DE"]

    # Without the token the command says what is missing, before doing anything.
    result = CliRunner().invoke(
        app, ["--resume", str(tmp_path / "b"), "--register", url, "--uncertified"],
        env={"SEALTRACE_KEY_PASSPHRASE": "pass", "SEALTRACE_REGISTRATION_TOKEN": None},
    )  # fmt: skip
    assert result.exit_code != 0
    assert "SEALTRACE_REGISTRATION_TOKEN" in result.stderr


def test_another_verifier_url_is_a_new_registration(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    """Once, ``--register URL2`` on a batch registered at URL1 reported every chunk confirmed
    while URL2 held none: confirmations are now kept per verifier URL."""
    state, url = verifier
    batch = make_batch(tmp_path, key, 300)
    first = register_batch(batch, url, TOKEN, chunk_size=100, retry=NO_WAIT)
    assert (first.complete, first.sent_now, len(state.requests)) == (True, 3, 3)
    again = register_batch(batch, url + "/", TOKEN, chunk_size=100, retry=NO_WAIT)
    assert (again.sent_now, len(state.requests)) == (0, 3)  # the same target: nothing to send
    other = url.replace("127.0.0.1", "localhost")  # another target (here the same server)
    second = register_batch(batch, other, TOKEN, chunk_size=100, retry=NO_WAIT)
    assert (second.complete, second.sent_now, len(state.requests)) == (True, 3, 6)
    assert [s for r in state.requests[3:] for s in r["serials"]] == serials_of(batch)


def test_a_journal_from_before_targets_sends_every_chunk_again(
    tmp_path: Path, key: Ed25519PrivateKey, verifier: tuple[Verifier, str]
) -> None:
    state, url = verifier
    batch = make_batch(tmp_path, key, 100)
    conn = sqlite3.connect(batch / JOURNAL_NAME)
    conn.execute("DROP TABLE confirmations")  # as the old layout had it: no target recorded
    conn.commit()
    conn.close()
    report = register_batch(batch, url, TOKEN, retry=NO_WAIT)
    assert (report.complete, report.sent_now, len(state.requests)) == (True, 1, 1)
