"""Issuing a batch: draw serials, sign, write labels and manifests, survive a crash.

A batch directory looks like this while it is being written::

    journal.sqlite          parameters, serials in order, checkpoint (issuer.journal)
    BATCH-INCOMPLETE        marker: do not print from here; run --resume
    manifest.csv.part       rows of the units written so far
    labels.partial/         PNG/SVG files (sheets.partial/ for PDF parts)

and like this when complete: ``manifest.csv`` (or ``.jsonl``), ``labels/`` or
``sheets/``, the journal, and no marker. Final names appear by atomic renames
only after every unit is written, so a file under a final name is never half
of a batch.

Work goes in chunks of consecutive units. For each chunk the parent reserves
serials (registry, then journal: both committed before any output uses them),
then the chunk is signed and rendered (in worker processes when ``jobs > 1``),
then the parent appends its manifest rows, fsyncs and commits the checkpoint.
On resume the manifest is cut back to the checkpoint and every unit after it
is produced again from the journalled serials; nothing is drawn twice and
nothing drawn is dropped.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import multiprocessing
import os
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authn.code import ProductCode
from authn.errors import Conflict, InvalidInput
from authn.signing import Signer, key_id_bytes
from issuer.journal import JOURNAL_NAME, STATUS_COMPLETE, BatchJournal, BatchSpec, SerialRegistry
from issuer.outputs.chunk import (
    ChunkOutput,
    Job,
    WorkerContext,
    b64,
    carrier_of,
    output_names,
    process_chunk,
    sample_payload,
    set_context,
    sign_unit,
    template_code,
)
from issuer.outputs.manifest import MANIFEST_FORMATS, RowFormatter, header
from issuer.outputs.payload import CARRIERS, UnitFormatter
from issuer.outputs.pdf import PAGES_PER_PART, PAPERS_MM, sheet_layout
from issuer.serials import SERIAL_CHARS

INCOMPLETE_MARKER = "BATCH-INCOMPLETE"
FORMATS = ("png", "svg", "pdf", "csv", "jsonl")
MAX_COUNT = 100_000_000
# Chunk sizes: big for manifests (one fsync and one journal transaction per
# chunk), small for images so every core gets work and progress moves.
MANIFEST_CHUNK = 10_000
IMAGE_CHUNK = 200
ALLOCATION_BLOCK = 100_000
_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MARKET = re.compile(r"[A-Z]{2}")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BatchResult:
    directory: Path
    count: int
    written_now: int
    seconds: float
    outputs: tuple[Path, ...]


class _Run:
    """One pass over a batch directory, from its checkpoint to the end."""

    def __init__(self, journal: BatchJournal, signer: Signer, progress: Progress | None) -> None:
        self.journal = journal
        self.spec = journal.spec
        self.signer = signer
        self.progress = progress
        self.directory = journal.directory
        manifest, images = output_names(self.spec)
        self.manifest_final = self.directory / manifest
        self.manifest_part = self.directory / (manifest + ".part")
        self.images_final = self.directory / images if images else None
        self.images_partial = self.directory / f"{images}.partial" if images else None
        self.kid = key_id_bytes(signer.public_key())

    def jobs(self, sign_in_workers: bool) -> Iterator[Job]:
        spec, journal = self.spec, self.journal
        registry = SerialRegistry(Path(spec.registry))
        formatter = UnitFormatter(template_code(spec), spec.resolver)
        try:
            allocated = journal.allocated()
            seq = journal.done
            while seq < spec.count:
                end = min(seq + spec.chunk_size, spec.count)
                if allocated < end:
                    # Reserve in big blocks: each registry commit rewrites the
                    # index pages it touches, so few large commits beat many small.
                    block = min(max(ALLOCATION_BLOCK, end - allocated), spec.count - allocated)
                    fresh = registry.reserve(spec.gtin, spec.batch_id, block)
                    journal.append_serials(allocated, fresh)
                    allocated += len(fresh)
                serials = journal.serials(seq, end)  # drawn before any crash are reused
                signatures = None
                if not sign_in_workers:
                    signatures = [sign_unit(formatter, s, self.signer, self.kid) for s in serials]
                yield Job(seq, serials, signatures)
                seq = end
        finally:
            registry.close()

    def execute(self, jobs: int) -> int:
        """Write every unit after the checkpoint; the number written."""
        spec = self.spec
        if self.images_partial is not None:
            self.images_partial.mkdir(exist_ok=True)
            for leftover in self.images_partial.glob("*.tmp"):
                leftover.unlink()  # a file cut short by a crash; its unit is redone
        layout = None
        if spec.fmt == "pdf":
            layout = sheet_layout(spec.paper, sample_payload(spec), carrier_of(spec), spec.ec)
        parallel = jobs > 1 and "fork" in multiprocessing.get_all_start_methods()
        # A key in memory is inherited by forked workers; an HSM session is not
        # fork-safe, so with one the parent signs and workers only render.
        sign_in_workers = not parallel or isinstance(self.signer, Ed25519PrivateKey)
        formatter = UnitFormatter(template_code(spec), spec.resolver)
        rows = None
        if spec.fmt in MANIFEST_FORMATS:
            rows = RowFormatter(spec.fmt, formatter, spec.lot, spec.expiry)
        set_context(
            WorkerContext(
                spec=spec,
                formatter=formatter,
                signer=self.signer if sign_in_workers else None,
                kid=self.kid,
                images_dir=self.images_partial or self.directory,
                layout=layout,
                rows=rows,
            )
        )
        written = 0
        try:
            with self._open_manifest() as manifest:
                if not parallel:
                    for job in self.jobs(sign_in_workers=True):
                        written += self._commit(manifest, process_chunk(job))
                else:
                    with multiprocessing.get_context("fork").Pool(jobs) as pool:
                        written += self._run_pool(pool, manifest, sign_in_workers, jobs)
        finally:
            set_context(None)
        return written

    def _run_pool(self, pool: Pool, manifest: _Manifest, sign_in_workers: bool, jobs: int) -> int:
        # A bounded window of chunks in flight: the pool's own imap would pull
        # (and so allocate) the whole batch ahead of the writers.
        pending: deque[AsyncResult[ChunkOutput]] = deque()
        written = 0
        for job in self.jobs(sign_in_workers):
            pending.append(pool.apply_async(process_chunk, (job,)))
            if len(pending) >= 2 * jobs:
                written += self._commit(manifest, pending.popleft().get())
        while pending:
            written += self._commit(manifest, pending.popleft().get())
        return written

    def _open_manifest(self) -> _Manifest:
        offset = self.journal.manifest_offset
        if offset == 0:
            manifest = _Manifest(self.manifest_part, create=True)
            fmt = "csv" if self.manifest_part.name.endswith(".csv.part") else "jsonl"
            manifest.append(header(fmt, with_file=self.images_final is not None))
            self.journal.checkpoint(0, manifest.size)
            return manifest
        if not self.manifest_part.is_file() or self.manifest_part.stat().st_size < offset:
            raise Conflict(
                f"{self.manifest_part.name} is missing or shorter than the journal says; "
                "this batch cannot be resumed safely"
            )
        manifest = _Manifest(self.manifest_part, create=False)
        manifest.truncate(offset)  # rows after the checkpoint are written again
        return manifest

    def _commit(self, manifest: _Manifest, out: ChunkOutput) -> int:
        manifest.append(out.manifest_text)
        self.journal.checkpoint(out.end_seq, manifest.size)
        if self.progress is not None:
            self.progress(out.end_seq, self.spec.count)
        return out.end_seq - out.first_seq

    def finish(self) -> tuple[Path, ...]:
        """Give the outputs their final names, mark the batch complete, drop the marker."""
        if self.images_partial is not None and self.images_partial.exists():
            # Label files are not fsynced one by one (too slow); once here.
            os.sync()
            os.replace(self.images_partial, self.images_final)  # type: ignore[arg-type]
        if self.manifest_part.exists():
            os.replace(self.manifest_part, self.manifest_final)
        _fsync_directory(self.directory)
        self.journal.mark_complete()
        (self.directory / INCOMPLETE_MARKER).unlink(missing_ok=True)
        _fsync_directory(self.directory)
        outputs = [self.manifest_final]
        if self.images_final is not None:
            outputs.append(self.images_final)
        return tuple(outputs)


class _Manifest:
    """An append-only file whose every append is flushed to disk before it returns."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self._handle = path.open("w+b" if create else "r+b")
        self.size = 0

    def truncate(self, size: int) -> None:
        self._handle.truncate(size)
        self._handle.seek(size)
        self.size = size

    def append(self, text: str) -> None:
        data = text.encode("utf-8")
        self._handle.write(data)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.size += len(data)

    def __enter__(self) -> _Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: one process writes a batch at a time.

    flock, not SQLite's own fcntl locks (the two do not interfere on Linux);
    the kernel drops it when the process dies, so a crash leaves no stale lock.
    """
    with path.open("rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"another process is writing the batch in {path.parent}") from None
        yield


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_spec(
    *,
    gtin: str,
    count: int,
    fmt: str,
    key_spec: str,
    key_id: str,
    registry: Path,
    now: dt.datetime,
    resolver: str,
    carrier: str = "qr",
    lot: str | None = None,
    expiry: str | None = None,
    markets: tuple[str, ...] = (),
    paper: str = "a4",
    ec: str = "M",
    batch_id: str | None = None,
    chunk_size: int | None = None,
) -> BatchSpec:
    """Check every parameter of a new batch (before anything is written) and return its spec."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if carrier not in CARRIERS:
        raise InvalidInput(f"unknown carrier {carrier!r}: use qr or datamatrix")
    if paper not in PAPERS_MM:
        raise InvalidInput(f"unknown paper {paper!r}: use one of {', '.join(PAPERS_MM)}")
    if ec not in ("L", "M", "Q", "H"):
        raise InvalidInput(f"unknown QR error correction level {ec!r}: use L, M, Q or H")
    if not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"count must be between 1 and {MAX_COUNT:,}, got {count}")
    if not resolver.startswith(("https://", "http://")) or resolver.rstrip("/").count("/") < 2:
        raise InvalidInput(f"resolver must be an http(s) URL, got {resolver!r}")
    for market in markets:
        if not _MARKET.fullmatch(market):
            raise InvalidInput(f"market {market!r} is not an ISO 3166 two-letter country code")
    if batch_id is not None and not _BATCH_ID.fullmatch(batch_id):
        raise InvalidInput("batch id must be 1-64 letters, digits, '.', '_' or '-'")
    # The ProductCode checks the GTIN's check digit, the lot's length and
    # characters and the expiry date, with GS1's own messages.
    template = ProductCode(gtin=gtin, serial="0" * SERIAL_CHARS, lot=lot, expiry=expiry)
    default_chunk = MANIFEST_CHUNK if fmt in MANIFEST_FORMATS else IMAGE_CHUNK
    spec = BatchSpec(
        batch_id=batch_id or f"{template.gtin}-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        gtin=template.gtin,
        count=count,
        fmt=fmt,
        carrier=carrier,
        resolver=resolver.rstrip("/"),
        key_spec=key_spec,
        key_id=key_id,
        registry=str(registry),
        chunk_size=max(1, chunk_size or default_chunk),
        lot=lot,
        expiry=expiry,
        markets=markets,
        paper=paper,
        ec=ec,
        created=now.isoformat(),
    )
    if fmt == "pdf":
        # A PDF part (one chunk) is a whole number of pages.
        layout = sheet_layout(paper, sample_payload(spec), carrier_of(spec), ec)
        pages = -(-chunk_size // layout.per_page) if chunk_size else PAGES_PER_PART
        spec = replace(spec, chunk_size=pages * layout.per_page)
    else:
        sample_payload(spec)  # fails early if the carrier cannot hold this data
    return spec


def create_batch(directory: Path, spec: BatchSpec) -> BatchJournal:
    """Create the batch directory (absent or empty) with its journal and INCOMPLETE marker."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        hint = " (it holds a batch: use --resume)" if (directory / JOURNAL_NAME).exists() else ""
        raise Conflict(f"{directory} exists and is not an empty directory{hint}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / INCOMPLETE_MARKER).write_text(
            "This batch is not finished: do not print from this directory.\n"
            "Finish it with: sealtrace issue --resume <this directory>\n"
        )
    except OSError as exc:
        raise InvalidInput(f"cannot write to {directory}: {exc.strerror}") from None
    return BatchJournal.create(directory, spec)


def run_batch(
    journal: BatchJournal, signer: Signer, *, jobs: int = 1, progress: Progress | None = None
) -> BatchResult:
    """Write the batch from its checkpoint to the end and finish it (idempotent when complete)."""
    spec = journal.spec
    # A journal written by an older release may hold data that GS1's rules, as
    # the verifier now applies them, refuse (29 February of 2025, say): such a
    # batch is not finished, because every further label would be refused.
    template_code(spec)
    if b64(key_id_bytes(signer.public_key())) != spec.key_id:
        raise InvalidInput(
            f"this batch is signed with key {spec.key_id}; the key given has another key id"
        )
    started = time.perf_counter()
    run = _Run(journal, signer, progress)
    written = 0
    with _exclusive(journal.directory / JOURNAL_NAME):
        if journal.status != STATUS_COMPLETE and journal.done < spec.count:
            written = run.execute(max(1, jobs))
        # Also after a crash between the final renames and the status update.
        outputs = run.finish()
    return BatchResult(
        directory=journal.directory,
        count=spec.count,
        written_now=written,
        seconds=time.perf_counter() - started,
        outputs=outputs,
    )
