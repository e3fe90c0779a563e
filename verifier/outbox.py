"""Brand webhooks and the outbox that delivers alert events to them.

A new alert writes an outbox row in the verify transaction (so an event is
never lost, nor sent for an alert that was rolled back). A worker claims due
rows one at a time with a conditional UPDATE (``... WHERE id = ? AND status =
'pending'``): of several workers, exactly one gets each row, on SQLite and
PostgreSQL alike. It posts the event with :func:`verifier.webhooks.deliver`
(one attempt per claim, so a slow receiver never blocks the worker), then
records the outcome: delivered, failed for good (the receiver refused it, or
too many attempts), or pending again with a later ``next_attempt_at``. A claim
lapses after ``CLAIM_LEASE`` so a crashed worker's row is taken up again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from authn.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from keys.trust import TrustList
from verifier.accounts import Caller, Role
from verifier.db.models import AuditEvent, BrandWebhook, WebhookOutbox
from verifier.webhooks import Destinations, WebhookEvent, check_endpoint, deliver, guarded_client

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

CLAIM_LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 12
BASE_DELAY = dt.timedelta(seconds=30)
MAX_DELAY = dt.timedelta(hours=6)
MIN_SECRET_CHARS = 16
BATCH = 20

Clock = Callable[[], dt.datetime]


# Configuration ---------------------------------------------------------------------------------


class WebhookConfigOut(BaseModel):
    brand_id: str
    url: str
    secret: str | None  # shown once, when generated or set; never read back
    updated_at: dt.datetime


def set_webhook(
    session: Session,
    caller: Caller,
    brand_id: str,
    url: str,
    secret: str | None,
    *,
    now: dt.datetime,
    require_https: bool,
    trust: TrustList,
    destinations: Destinations,
) -> WebhookConfigOut:
    """Set (or replace) the brand's webhook; a secret is generated when none is given.

    The brand must be in the trust list; the endpoint must not point inside the network
    (``destinations``). The change is audited (never the secret)."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("this needs a bearer token")
    if caller.role is Role.BRAND and caller.brand_id != brand_id:
        raise NotFound("no such brand")
    if caller.role not in (Role.BRAND, Role.ADMIN):
        raise PermissionDenied("only the brand's own accounts and admins set its webhook")
    if trust.brand_for(brand_id) is None:
        raise NotFound("no such brand")
    endpoint = check_endpoint(url)
    if require_https and endpoint.scheme != "https":
        raise InvalidInput("the webhook endpoint must use https")
    destinations.check_url(endpoint)
    if secret is not None and not MIN_SECRET_CHARS <= len(secret) <= 200:
        raise InvalidInput(f"a webhook secret has {MIN_SECRET_CHARS} to 200 characters")
    secret = secret or "whsec_" + secrets.token_urlsafe(32)
    row = session.exec(select(BrandWebhook).where(BrandWebhook.brand_id == brand_id)).first()
    before = None if row is None else row.url
    if row is None:
        row = BrandWebhook(brand_id=brand_id, url=url, secret=secret, updated_at=now)
    row.url, row.secret, row.updated_at, row.updated_by = url, secret, now, caller.account_id
    session.add(row)
    session.add(
        AuditEvent(
            at=now, account_id=caller.account_id, action="webhook.set", before=before,
            after=url, comment=f"brand {brand_id}; secret replaced",
        )
    )  # fmt: skip
    session.commit()
    return WebhookConfigOut(brand_id=brand_id, url=url, secret=secret, updated_at=now)


# Delivery --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxStats:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def _event(row: WebhookOutbox) -> WebhookEvent:
    document = json.loads(row.payload)
    created = dt.datetime.fromisoformat(document["created_at"])
    return WebhookEvent(document["id"], document["type"], created, document["data"])


def claim(session: Session, row_id: int, *, now: dt.datetime) -> bool:
    """Take one due row for this worker; False when another worker was first."""
    claimed = session.execute(
        update(WebhookOutbox)
        .where(
            col(WebhookOutbox.id) == row_id,
            or_(
                col(WebhookOutbox.status) == "pending",
                and_(
                    col(WebhookOutbox.status) == "delivering",
                    col(WebhookOutbox.claimed_until) < now,
                ),
            ),
        )
        .values(status="delivering", claimed_until=now + CLAIM_LEASE)
    )
    session.commit()
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _due_ids(session: Session, now: dt.datetime, limit: int) -> list[int]:
    rows = session.exec(
        select(WebhookOutbox.id)
        .where(
            or_(
                and_(
                    col(WebhookOutbox.status) == "pending",
                    col(WebhookOutbox.next_attempt_at) <= now,
                ),
                and_(
                    col(WebhookOutbox.status) == "delivering",
                    col(WebhookOutbox.claimed_until) < now,
                ),
            )
        )
        .order_by(col(WebhookOutbox.id))
        .limit(limit)
    ).all()
    return [r for r in rows if r is not None]


def retry_delay(attempts: int, retry_after_s: float | None) -> dt.timedelta:
    """Exponential backoff from 30 s, at most 6 h, never sooner than the receiver asked."""
    delay: dt.timedelta = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1))
    if retry_after_s is not None:
        delay = max(delay, dt.timedelta(seconds=retry_after_s))
    return delay


def run_once(
    engine: Engine, client: httpx.Client, *, clock: Clock, limit: int = BATCH
) -> OutboxStats:
    """Deliver the due rows this worker manages to claim; returns what happened."""
    delivered = retrying = failed = 0
    with Session(engine) as session:
        ids = _due_ids(session, clock(), limit)
    for row_id in ids:
        with Session(engine) as session:
            if not claim(session, row_id, now=clock()):
                continue
            row = session.get(WebhookOutbox, row_id)
            assert row is not None
            hook = session.exec(
                select(BrandWebhook).where(BrandWebhook.brand_id == row.brand_id)
            ).first()
            now = clock()
            row.attempts += 1
            row.claimed_until = None
            if hook is None:
                row.status, row.last_error = "failed", "the brand has no webhook any more"
                failed += 1
            else:
                result = deliver(
                    _event(row), hook.url, hook.secret, client=client, max_attempts=1,
                    clock=lambda: clock().timestamp(),
                )  # fmt: skip
                row.last_status_code, row.last_error = result.status_code, result.error
                if result.delivered:
                    row.status, row.delivered_at = "delivered", now
                    delivered += 1
                elif result.permanent or row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                    failed += 1
                else:
                    row.status = "pending"
                    row.next_attempt_at = now + retry_delay(row.attempts, result.retry_after_s)
                    retrying += 1
            session.add(row)
            session.commit()
    return OutboxStats(delivered, retrying, failed)


class OutboxWorker:
    """A daemon thread running :func:`run_once` every ``interval_s`` until stopped.

    The worker owns ``engine`` (give it one of its own) and disposes it on :meth:`stop`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        destinations: Destinations,
        interval_s: float = 2.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.engine = engine
        self.destinations = destinations
        self.clock = clock
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="webhook-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None
        self.engine.dispose()

    def _run(self) -> None:
        with guarded_client(self.destinations, timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                try:
                    run_once(self.engine, client, clock=self.clock)
                except Exception:  # a bad row or a database hiccup must not end the worker
                    log.exception("webhook outbox round failed")
                self._stop.wait(self.interval_s)
