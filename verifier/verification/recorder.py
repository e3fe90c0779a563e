"""Group commit: the verify requests one process has in flight share one transaction.

Each worker process has one writer thread. A request hands it a prepared scan
and waits; the thread takes every scan waiting at that moment (at most
``max_batch``), judges them all in one transaction (:meth:`Verifier.judge`)
and answers each request only after the commit. Under load a batch fills
while the previous one commits, so the cost of a commit and of the state
queries is shared by the whole batch; a lone request is judged at once.

Nothing is answered before it is stored: a crash loses only scans that were
never answered. A transient database error (a deadlock, a lock timeout) is
retried; a database that is down or stays locked fails the whole batch at once
(503); any other failure of a batch of several is retried scan by scan, so that
one scan the database refuses costs only its own answer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from authn.errors import Unavailable
from verifier.metrics import RECORD_BATCH
from verifier.schemas import VerifyOut
from verifier.verification.service import JobResult, ScanJob, Verifier

log = logging.getLogger(__name__)

_Entry = tuple[ScanJob, "Future[VerifyOut]"]
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})  # serialization, deadlock, lock


def is_transient(error: DBAPIError) -> bool:
    """Whether trying the same transaction again may well succeed."""
    if getattr(error.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(error.orig)  # SQLite's busy timeout ran out


def judge_batch(
    engine: Engine, verifier: Verifier, jobs: Sequence[ScanJob], *, retries: int = 2
) -> list[JobResult]:
    """:meth:`Verifier.judge` in a session of its own, retried on a transient database error."""
    attempt = 0
    while True:
        try:
            with Session(engine) as session:
                return verifier.judge(session, jobs)
        except DBAPIError as exc:
            if attempt >= retries or not is_transient(exc):
                raise
            attempt += 1
            log.info("transient database error, retrying the batch: %s", exc.orig)


class ScanRecorder:
    """The writer thread of one process; started on first use, stopped by :meth:`close`."""

    def __init__(
        self,
        engine: Engine,
        verifier: Verifier,
        *,
        max_batch: int = 64,
        max_waiting: int = 4096,
        retries: int = 2,
    ) -> None:
        self._engine = engine
        self._verifier = verifier
        self._max_batch = max_batch
        self._max_waiting = max_waiting
        self._retries = retries
        self._queue: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.batches = 0  # batches judged, and the largest: for tests and operators
        self.largest_batch = 0

    async def judge(self, job: ScanJob) -> VerifyOut:
        """Judge (and record) ``job`` in the next batch; raises what the job raised."""
        return await asyncio.wrap_future(self.submit(job))

    def submit(self, job: ScanJob) -> Future[VerifyOut]:
        future: Future[VerifyOut] = Future()
        with self._lock:
            if self._closed:
                raise Unavailable("the service is shutting down; retry")
            if self._queue.qsize() >= self._max_waiting:
                raise Unavailable("too many scans waiting to be recorded; retry shortly")
            if self._thread is None or not self._thread.is_alive():
                # Started here, not at construction: a worker process must not inherit it
                # (and a thread that died is replaced rather than left to strand requests).
                self._thread = threading.Thread(
                    target=self._run, name="sealtrace-scan-recorder", daemon=True
                )
                self._thread.start()
            self._queue.put((job, future))
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Judge what is waiting, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            entry = self._queue.get()
            if entry is None:
                return
            batch = [entry]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            # A request whose client went away is dropped here, before any work is done.
            live = [(job, f) for job, f in batch if f.set_running_or_notify_cancel()]
            if live:
                self._process(live)

    def _process(self, batch: list[_Entry]) -> None:
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        RECORD_BATCH.observe(len(batch))
        try:
            results = self._judge([job for job, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, OperationalError):
                # The database is down or locked: every scan would fail alike, so answer all
                # at once (503, retry) instead of waiting out each one's timeout in turn.
                if not isinstance(exc, DBAPIError):
                    log.exception("recording a scan failed")
                for _, future in batch:
                    future.set_exception(exc)
                return
            log.warning("a batch of %d scans failed (%s); retrying one by one", len(batch), exc)
            for entry in batch:
                self._process([entry])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _judge(self, jobs: list[ScanJob]) -> list[JobResult]:
        return judge_batch(self._engine, self._verifier, jobs, retries=self._retries)
