"""Registering an issued batch with the verifier, over its HTTP API.

The verifier learns which serials exist (a signed code that was never
registered suggests a leaked key). The contract::

    POST {verifier}/v1/registrations
    Authorization: Bearer <brand token>
    {"batch_id", "gtin", "lot", "expiry", "key_id", "intended_markets", "serials": [1..10000]}
    -> 200 {"batch_id", "registered", "already_registered", "rejected": [{"serial", "reason"}]}

Serials go in chunks of at most 10,000, in journal order, so chunk ``i`` is
always the same serials. Each confirmed chunk is recorded in the batch
journal; a second run sends only the chunks not yet confirmed, and sending a
chunk twice is harmless (the verifier counts it as ``already_registered``).
Network errors, 5xx and 429 are retried with exponential backoff (429 and 503
honour ``Retry-After``); 401/403 stop at once; any other 4xx stops the run
with the verifier's problem detail, since sending the same data again cannot
help.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from authn.errors import Conflict, InvalidInput, PermissionDenied, Unauthenticated
from issuer.journal import STATUS_COMPLETE, BatchJournal, ChunkConfirmation

REGISTRATIONS_PATH = "/v1/registrations"
MAX_CHUNK = 10_000
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a chunk is retried."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.max_delay, self.base_delay * 2**attempt)
        return min(self.max_delay, retry_after) if retry_after is not None else backoff


@dataclass(frozen=True)
class RegistrationReport:
    """What the verifier has confirmed for a batch, over this run and earlier ones."""

    batch_id: str
    serials: int
    chunks: int
    confirmed_chunks: int
    confirmed_serials: int
    registered: int
    already_registered: int
    rejected: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    sent_now: int = 0
    error: str | None = None

    @property
    def complete(self) -> bool:
        """Every chunk confirmed and nothing rejected."""
        return self.confirmed_chunks == self.chunks and not self.rejected

    def summary(self) -> str:
        lines = [
            f"batch {self.batch_id}: {self.confirmed_serials:,} of {self.serials:,} serials "
            f"confirmed by the verifier ({self.confirmed_chunks}/{self.chunks} chunks; "
            f"{self.sent_now} chunks sent now)",
            f"  newly registered {self.registered:,}, already registered "
            f"{self.already_registered:,}, rejected {len(self.rejected):,}",
        ]
        lines += [f"  rejected {serial}: {reason}" for serial, reason in self.rejected[:20]]
        if len(self.rejected) > 20:
            lines.append(f"  ... and {len(self.rejected) - 20} more rejected")
        if self.confirmed_chunks < self.chunks:
            lines.append(
                f"  NOT registered: {self.serials - self.confirmed_serials:,} serials; "
                "run the registration again to send only those"
            )
        if self.error:
            lines.append(f"  stopped: {self.error}")
        return "\n".join(lines)


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Stop(Exception):
    """A chunk the verifier will never accept as sent; stop and report."""


def register_batch(
    directory: Path,
    verifier: str,
    token: str,
    *,
    client: httpx.Client | None = None,
    chunk_size: int = MAX_CHUNK,
    retry: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int, int], None] | None = None,
) -> RegistrationReport:
    """Send every unconfirmed chunk of the complete batch in ``directory`` to ``verifier``.

    Raises :class:`Unauthenticated`/:class:`PermissionDenied` when the verifier
    refuses the token; any other failure ends the run early and is described
    in the returned report (``error``), with what was confirmed so far.
    """
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise InvalidInput(f"chunk size must be 1..{MAX_CHUNK}")
    if not token:
        raise Unauthenticated("no registration token given")
    if not verifier.startswith(("http://", "https://")):
        raise InvalidInput(f"verifier must be an http(s) URL, got {verifier!r}")
    # The journal keys confirmations by this URL: another verifier is another registration.
    url = str(httpx.URL(verifier.rstrip("/") + REGISTRATIONS_PATH))
    journal = BatchJournal.open(directory)
    own_client = client is None
    http = client or httpx.Client(timeout=_TIMEOUT_S)
    try:
        if journal.status != STATUS_COMPLETE:
            raise Conflict(f"{directory} is not a complete batch; finish it with --resume first")
        return _register(journal, http, url, token, chunk_size, retry, sleep, progress)
    finally:
        journal.close()
        if own_client:
            http.close()


def _register(
    journal: BatchJournal,
    http: httpx.Client,
    url: str,
    token: str,
    chunk_size: int,
    retry: RetryPolicy,
    sleep: Callable[[float], None],
    progress: Callable[[int, int], None] | None,
) -> RegistrationReport:
    spec = journal.spec
    confirmed = journal.confirmations(url)
    chunks = -(-spec.count // chunk_size)
    headers = {"Authorization": f"Bearer {token}"}
    sent, error = 0, None
    for index in range(chunks):
        first, end = index * chunk_size, min((index + 1) * chunk_size, spec.count)
        known = confirmed.get(index)
        if known is not None:
            if (known.first_seq, known.end_seq) != (first, end):
                raise Conflict("this batch was registered with another chunk size; keep it")
            continue
        body = {
            "batch_id": spec.batch_id,
            "gtin": spec.gtin,
            "lot": spec.lot,
            "expiry": spec.expiry,
            "key_id": spec.key_id,
            "intended_markets": list(spec.markets),
            "serials": journal.serials(first, end),
        }
        try:
            answer = _send(http, url, headers, body, retry, sleep)
            confirmation = _confirmation(index, first, end, answer)
        except _Stop as stop:
            error = str(stop)
            break
        journal.confirm(confirmation, target=url)
        confirmed[index] = confirmation
        sent += 1
        if progress is not None:
            progress(end, spec.count)
    done = list(confirmed.values())
    return RegistrationReport(
        batch_id=spec.batch_id,
        serials=spec.count,
        chunks=chunks,
        confirmed_chunks=len(done),
        confirmed_serials=sum(c.end_seq - c.first_seq for c in done),
        registered=sum(c.registered for c in done),
        already_registered=sum(c.already_registered for c in done),
        rejected=tuple(pair for c in done for pair in c.rejected),
        sent_now=sent,
        error=error,
    )


def _send(
    http: httpx.Client,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any],
    retry: RetryPolicy,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    last = "no attempt made"
    for attempt in range(retry.attempts):
        try:
            return _post_once(http, url, headers, body)
        except _Retryable as failure:
            last = str(failure)
            if attempt + 1 < retry.attempts:
                sleep(retry.delay(attempt, failure.retry_after))
    raise _Stop(f"the verifier did not answer after {retry.attempts} attempts ({last})")


def _post_once(
    http: httpx.Client, url: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    try:
        response = http.post(url, json=body, headers=headers)
    except httpx.TransportError as exc:
        raise _Retryable(f"network error: {type(exc).__name__}: {exc}") from None
    status = response.status_code
    if status == 401:
        raise Unauthenticated("the verifier did not accept the registration token (401)")
    if status == 403:
        raise PermissionDenied("this token may not register codes for this GTIN or key (403)")
    if status == 429 or status >= 500:
        raise _Retryable(f"HTTP {status}", _retry_after(response))
    if status != 200:
        raise _Stop(f"the verifier refused the chunk (HTTP {status}): {_problem(response)}")
    try:
        answer = response.json()
    except ValueError:
        raise _Stop("the verifier's answer is not JSON") from None
    if not isinstance(answer, dict) or answer.get("batch_id") != body["batch_id"]:
        raise _Stop("the verifier's answer is not for this batch")
    return answer


def _confirmation(index: int, first: int, end: int, answer: dict[str, Any]) -> ChunkConfirmation:
    rejected = answer.get("rejected") or []
    try:
        pairs = tuple((str(item["serial"]), str(item["reason"])) for item in rejected)
        return ChunkConfirmation(
            chunk=index,
            first_seq=first,
            end_seq=end,
            registered=int(answer["registered"]),
            already_registered=int(answer["already_registered"]),
            rejected=pairs,
        )
    except (KeyError, TypeError, ValueError):
        raise _Stop("the verifier's answer does not follow the registration contract") from None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _problem(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(problem, dict):
        return str(problem.get("detail") or problem.get("title") or problem)[:500]
    return str(problem)[:500]
