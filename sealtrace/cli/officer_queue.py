"""The local queue of `sealtrace officer record`, uploaded by `sealtrace officer sync`.

One JSON object per line (JSON Lines), one line per scan: the ``POST /v1/verify``
body the service will get (``scan_id`` made here, ``scanned_at``, ``code``,
``device_id``, optional ``location`` and ``country``), the offline verdict, and
the upload ``state``: ``queued`` until the service acknowledged the item,
then ``synced`` (with the online verdict) or ``refused`` (with the reason; a
refusal is final and never retried). The service's batch upload is idempotent
per ``scan_id``, so a sync interrupted after the upload but before the file
was rewritten only uploads the same items again, and records nothing twice.

Every change takes an exclusive lock on ``<queue>.lock`` and rewrites the
file through a temporary file and an atomic rename, so a crash never leaves
half a queue and a record made during a sync is not lost.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from authn.errors import InvalidInput

Entry = dict[str, Any]
STATES = ("queued", "synced", "refused")


@contextmanager
def locked(queue: Path) -> Iterator[None]:
    lock = queue.with_name(queue.name + ".lock")
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read(queue: Path) -> list[Entry]:
    """Every entry of the queue (none when the file does not exist yet)."""
    if not queue.exists():
        return []
    entries: list[Entry] = []
    for number, line in enumerate(queue.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise InvalidInput(f"{queue}:{number} is not a JSON line") from None
        if (
            not isinstance(entry, dict)
            or entry.get("state") not in STATES
            or "scan_id" not in entry
        ):
            raise InvalidInput(f"{queue}:{number} is not a queued scan")
        entries.append(entry)
    return entries


def _write(queue: Path, entries: list[Entry]) -> None:
    temporary = queue.with_name(queue.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, queue)


def append(queue: Path, entry: Entry) -> None:
    with locked(queue):
        _write(queue, [*read(queue), entry])


def update(queue: Path, change: Callable[[list[Entry]], None]) -> list[Entry]:
    """Apply ``change`` to the entries under the lock and write them back."""
    with locked(queue):
        entries = read(queue)
        change(entries)
        _write(queue, entries)
        return entries
