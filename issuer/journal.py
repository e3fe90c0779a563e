"""Crash-safe records of a batch: which serials it drew, how far it got, what is registered.

Two SQLite databases, both in WAL mode with ``synchronous=FULL`` so that a
committed transaction survives ``kill -9`` and power loss:

* the **serial registry** (one per issuer, shared by all its batches) holds
  every serial ever drawn, ``PRIMARY KEY (gtin, serial)``: a serial is never
  issued twice for one GTIN, across batches too;
* the **batch journal** (``journal.sqlite`` inside the batch directory) holds
  the batch's parameters, its serials in order (``seq`` 0..N-1), the checkpoint
  (how many units are completely written, and the manifest's length at that
  point) and which registration chunks the verifier confirmed.

The order of writes is what makes a crash harmless: serials are committed to
the registry, then to the journal, *before* any label or manifest row uses
them; the checkpoint is committed *after* the outputs it covers are flushed.
A crash between the two registry/journal commits wastes a few serials (they
stay reserved, never issued); a crash after that leaves serials that the
resumed batch emits as they are, never re-drawn.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from authn.errors import Conflict, InvalidInput, NotFound
from issuer.serials import RandomBytes, draw_serials

JOURNAL_NAME = "journal.sqlite"
STATUS_INCOMPLETE = "incomplete"
STATUS_COMPLETE = "complete"
_BUSY_TIMEOUT_S = 30.0
# Give up rather than loop for ever if the random source is broken (a
# constant source collides every time; a real CSPRNG practically never does).
_MAX_DRAW_ROUNDS = 64
_INSERT_SERIAL = "INSERT OR IGNORE INTO used_serials (gtin, serial, batch_id) VALUES (?, ?, ?)"


@dataclass(frozen=True)
class BatchSpec:
    """What defines a batch; kept in its journal, so a resume needs only the directory."""

    batch_id: str
    gtin: str
    count: int
    fmt: str
    carrier: str
    resolver: str
    key_spec: str
    key_id: str
    registry: str
    chunk_size: int
    lot: str | None = None
    expiry: str | None = None
    markets: tuple[str, ...] = field(default_factory=tuple)
    paper: str = "a4"
    ec: str = "M"
    created: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BatchSpec:
        data: dict[str, Any] = json.loads(text)
        data["markets"] = tuple(data.get("markets", ()))
        return cls(**data)


@dataclass(frozen=True)
class ChunkConfirmation:
    """The verifier's answer for one registration chunk."""

    chunk: int
    first_seq: int
    end_seq: int
    registered: int
    already_registered: int
    rejected: tuple[tuple[str, str], ...]


# Which chunks which verifier (its registrations URL) confirmed.
CONFIRMATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS confirmations (target TEXT NOT NULL, chunk INTEGER NOT NULL,"
    " first_seq INTEGER NOT NULL, end_seq INTEGER NOT NULL, registered INTEGER NOT NULL,"
    " already_registered INTEGER NOT NULL, rejected TEXT NOT NULL, PRIMARY KEY (target, chunk));"
)


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[None]:
    """One explicit transaction (the connections run in autocommit mode, where
    ``with conn`` would not open one and every row would be its own fsync)."""
    conn.execute(begin)
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise InvalidInput(f"cannot open the database {path}: {exc}") from None
    return conn


class SerialRegistry:
    """Every serial this issuer ever drew, unique per GTIN."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"cannot create {path.parent}: {exc.strerror}") from None
        self.path = path
        self._conn = _connect(path)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS used_serials ("
            " gtin TEXT NOT NULL, serial TEXT NOT NULL, batch_id TEXT NOT NULL,"
            " PRIMARY KEY (gtin, serial)) WITHOUT ROWID"
        )

    def close(self) -> None:
        self._conn.close()

    def reserve(
        self, gtin: str, batch_id: str, count: int, random_bytes: RandomBytes | None = None
    ) -> list[str]:
        """Draw ``count`` serials never used for ``gtin`` before, and record them, in one commit."""
        chosen: list[str] = []
        conn = self._conn
        with _transaction(conn, "BEGIN IMMEDIATE"):
            for _ in range(_MAX_DRAW_ROUNDS):
                missing = count - len(chosen)
                if missing == 0:
                    break
                drawn = (
                    draw_serials(missing)
                    if random_bytes is None
                    else draw_serials(missing, random_bytes)
                )
                # dict.fromkeys drops repeats within the draw and keeps the order.
                fresh = list(dict.fromkeys(drawn))
                conn.execute("SAVEPOINT draw")
                # Sorted, the inserts walk the index in order (fewer page visits);
                # the serials keep their random order in the batch itself.
                rows = [(gtin, s, batch_id) for s in sorted(fresh)]
                cursor = conn.executemany(_INSERT_SERIAL, rows)
                if cursor.rowcount == len(fresh):
                    conn.execute("RELEASE draw")
                    chosen.extend(fresh)
                    continue
                # A collision with an earlier serial: undo this round and insert
                # one at a time to learn which ones are new (rare enough to be slow).
                conn.execute("ROLLBACK TO draw")
                conn.execute("RELEASE draw")
                for serial in fresh:
                    if conn.execute(_INSERT_SERIAL, (gtin, serial, batch_id)).rowcount == 1:
                        chosen.append(serial)
            else:
                raise InvalidInput("the random source keeps repeating serials; refusing to go on")
        return chosen

    def count(self, gtin: str) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM used_serials WHERE gtin = ?", (gtin,)
        ).fetchone()
        return int(row[0])


class BatchJournal:
    """The journal of one batch directory."""

    def __init__(self, conn: sqlite3.Connection, directory: Path) -> None:
        self._conn = conn
        self.directory = directory
        self.spec = BatchSpec.from_json(self._meta("spec"))

    @classmethod
    def create(cls, directory: Path, spec: BatchSpec) -> BatchJournal:
        path = directory / JOURNAL_NAME
        if path.exists():
            raise Conflict(f"{directory} already holds a batch; use --resume to finish it")
        conn = _connect(path)
        conn.executescript(
            "BEGIN;"
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            # No index on serial: uniqueness is the registry's job, and an index
            # of random keys would make every append rewrite pages all over it.
            "CREATE TABLE serials (seq INTEGER PRIMARY KEY, serial TEXT NOT NULL);"
            + CONFIRMATIONS_TABLE
            + "COMMIT;"
        )
        with _transaction(conn):
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("spec", spec.to_json()),
                    ("status", STATUS_INCOMPLETE),
                    ("done", "0"),
                    ("manifest_offset", "0"),
                ],
            )
        return cls(conn, directory)

    @classmethod
    def open(cls, directory: Path) -> BatchJournal:
        path = directory / JOURNAL_NAME
        if not path.is_file():
            raise NotFound(f"{directory} is not a batch directory (no {JOURNAL_NAME})")
        conn = _connect(path)
        # Journals written before targets were recorded: their old ``registrations`` rows
        # name no verifier, so none is trusted and every chunk is sent again (registration
        # is idempotent: the verifier counts them as already registered).
        conn.executescript("BEGIN;" + CONFIRMATIONS_TABLE + "COMMIT;")
        return cls(conn, directory)

    def close(self) -> None:
        self._conn.close()

    def _meta(self, key: str) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise InvalidInput(f"the journal in {self.directory} is damaged (no {key!r})")
        return str(row[0])

    @property
    def status(self) -> str:
        return self._meta("status")

    @property
    def done(self) -> int:
        """Units whose every output is written and flushed."""
        return int(self._meta("done"))

    @property
    def manifest_offset(self) -> int:
        """The manifest's length in bytes when ``done`` units were written."""
        return int(self._meta("manifest_offset"))

    def allocated(self) -> int:
        row = self._conn.execute("SELECT count(*) FROM serials").fetchone()
        return int(row[0])

    def append_serials(self, first_seq: int, serials: Sequence[str]) -> None:
        with _transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO serials (seq, serial) VALUES (?, ?)",
                zip(range(first_seq, first_seq + len(serials)), serials, strict=True),
            )

    def serials(self, first_seq: int, end_seq: int) -> list[str]:
        rows = self._conn.execute(
            "SELECT serial FROM serials WHERE seq >= ? AND seq < ? ORDER BY seq",
            (first_seq, end_seq),
        ).fetchall()
        return [row[0] for row in rows]

    def iter_serial_chunks(self, size: int) -> Iterator[tuple[int, list[str]]]:
        """(first seq, serials) in chunks of ``size``, in order, without holding them all."""
        first = 0
        while True:
            chunk = self.serials(first, first + size)
            if not chunk:
                return
            yield first, chunk
            first += len(chunk)

    def checkpoint(self, done: int, manifest_offset: int) -> None:
        with _transaction(self._conn):
            self._conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(str(done), "done"), (str(manifest_offset), "manifest_offset")],
            )

    def mark_complete(self) -> None:
        with _transaction(self._conn):
            self._conn.execute("UPDATE meta SET value = ? WHERE key = 'status'", (STATUS_COMPLETE,))

    def confirmations(self, target: str) -> dict[int, ChunkConfirmation]:
        """The chunks ``target`` (the registrations URL) confirmed; another URL is another
        registration, with confirmations of its own."""
        rows = self._conn.execute(
            "SELECT chunk, first_seq, end_seq, registered, already_registered, rejected"
            " FROM confirmations WHERE target = ? ORDER BY chunk",
            (target,),
        ).fetchall()
        return {
            row[0]: ChunkConfirmation(
                chunk=row[0],
                first_seq=row[1],
                end_seq=row[2],
                registered=row[3],
                already_registered=row[4],
                rejected=tuple((s, r) for s, r in json.loads(row[5])),
            )
            for row in rows
        }

    def confirm(self, confirmation: ChunkConfirmation, *, target: str) -> None:
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT OR REPLACE INTO confirmations"
                " (target, chunk, first_seq, end_seq, registered, already_registered, rejected)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    target,
                    confirmation.chunk,
                    confirmation.first_seq,
                    confirmation.end_seq,
                    confirmation.registered,
                    confirmation.already_registered,
                    json.dumps([list(pair) for pair in confirmation.rejected]),
                ),
            )
