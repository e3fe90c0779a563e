"""Photo decodes run outside the serving process, a bounded number at a time.

A serving worker never decodes pixels itself. Each decode goes to a small
child process (:mod:`mobile_api.decode_child`), started on the first photo
and kept for the next ones, that runs at a lower CPU priority (``nice``) and
under an address-space cap (``RLIMIT_AS``). So a photo, however heavy, cannot
take the CPU from verify nor grow the worker; a child that dies (killed, out
of memory, a decoder crash) or overruns the decode timeout fails only its own
request and is replaced by the next decode.

How many decodes run at once is bounded by a gate taken before the child is
asked: per worker (:class:`DecodeGate`, a semaphore) or per host
(:class:`HostDecodeGate`, ``flock`` on slot files, shared by every worker on
the machine). Past the gate the route answers 503 with Retry-After at once:
nothing is queued.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from mobile_api.decode import (
    Decoded,
    DecoderBusy,
    DecoderFailed,
    ImageTooLarge,
    ImageUnusable,
    UnsupportedImage,
)

log = logging.getLogger(__name__)

ERRORS: dict[str, type[Exception]] = {
    "unsupported": UnsupportedImage,
    "too_large": ImageTooLarge,
    "memory": ImageTooLarge,
    "unusable": ImageUnusable,
}


class Gate(Protocol):
    def slot(self) -> Any: ...  # a context manager; DecoderBusy when none is free


class DecodeGate:
    """At most ``slots`` decodes at once in this process; never waits (the caller retries)."""

    def __init__(self, slots: int) -> None:
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._semaphore.acquire(blocking=False):
            raise DecoderBusy("every photo decoder is busy; try again in a moment")
        try:
            yield
        finally:
            self._semaphore.release()


class HostDecodeGate:
    """At most ``slots`` decodes at once on this host, across every worker: one ``flock``
    per slot file in ``directory``. The kernel drops a lock when its holder dies, so a
    killed worker never leaks a slot."""

    def __init__(self, slots: int, directory: Path | None = None) -> None:
        default = Path(tempfile.gettempdir()) / f"sealtrace-decode-{os.getuid()}"
        self.directory = directory or default
        self.directory.mkdir(mode=0o700, exist_ok=True)
        if self.directory.stat().st_uid != os.getuid():
            raise ValueError(f"decode slot directory {self.directory} belongs to another user")
        self.paths = [self.directory / f"slot-{i}.lock" for i in range(slots)]

    @contextmanager
    def slot(self) -> Iterator[None]:
        for path in self.paths:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield
            finally:
                os.close(fd)  # closing the descriptor releases the lock
            return
        raise DecoderBusy("every photo decoder is busy; try again in a moment")


class _Child:
    """One decode process and the worker's end of its socket."""

    def __init__(self, process: subprocess.Popen[bytes], connection: Connection) -> None:
        self.process = process
        self.connection = connection

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.connection.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class DecodePool:
    """Decode processes for one worker: started on demand, reused, replaced when they die.

    The gate bounds how many run at once; the pool keeps one idle child per past
    concurrent decode, so it holds at most as many children as the gate's slots."""

    def __init__(self, *, niceness: int, memory_bytes: int, timeout: float) -> None:
        self.niceness = niceness
        self.memory_bytes = memory_bytes
        self.timeout = timeout
        self._lock = threading.Lock()
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()

    def _start(self) -> _Child:
        ours, theirs = socket.socketpair()
        try:
            fd = theirs.fileno()
            command = [sys.executable, "-m", "mobile_api.decode_child"]
            process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                [*command, str(fd), str(self.niceness), str(self.memory_bytes)],
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the child holds its own copy
        log.info("photo decode process %d started", process.pid)
        return _Child(process, Connection(ours.detach()))

    def _take(self) -> _Child:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.alive():
                    self._busy.add(child)
                    return child
                child.stop()
        child = self._start()
        with self._lock:
            self._busy.add(child)
        return child

    def _give_back(self, child: _Child, *, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(child)
            if healthy:
                self._idle.append(child)
                return
        child.stop()

    def busy_pids(self) -> list[int]:
        """The processes decoding right now (operators and tests)."""
        with self._lock:
            return [child.pid for child in self._busy]

    def decode(self, data: bytes, *, max_pixels: int, max_bytes: int) -> list[Decoded]:
        """Every code in the photo, decoded in a child process; blocks (call from a thread)."""
        child = self._take()
        healthy = False
        try:
            header = {"max_pixels": max_pixels, "max_bytes": max_bytes}
            try:
                child.connection.send_bytes(json.dumps(header).encode())
                child.connection.send_bytes(data)
                if not child.connection.poll(self.timeout):
                    log.warning("photo decode process %d overran %.0f s", child.pid, self.timeout)
                    raise DecoderFailed("decoding the photo took too long; send a smaller photo")
                reply = json.loads(child.connection.recv_bytes())
            except (EOFError, OSError):
                child.process.wait()
                log.warning(
                    "photo decode process %d ended (exit %s) while decoding",
                    child.pid,
                    child.process.returncode,
                )
                raise DecoderFailed(
                    "the photo decoder stopped on this photo; try again, or send a smaller photo"
                ) from None
            healthy = "error" not in reply or reply["error"] != "memory"
        finally:
            self._give_back(child, healthy=healthy)
        if "error" in reply:
            raise ERRORS.get(reply["error"], ImageUnusable)(str(reply["message"]))
        return [Decoded(**decoded) for decoded in reply["codes"]]

    def close(self) -> None:
        with self._lock:
            children = [*self._idle, *self._busy]
            self._idle.clear()
            self._busy.clear()
        for child in children:
            child.stop()
