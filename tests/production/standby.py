"""A PostgreSQL primary and its hot standby, started by the test on free ports.

Built the way an operator builds one: ``initdb`` for the primary, ``pg_basebackup -R``
for the standby (``-R`` writes ``standby.signal`` and ``primary_conninfo``), both
started with ``pg_ctl``. Everything lives in one temporary directory; ``stop`` removes
it. ``initdb`` refuses to run as root, so as root every server binary runs as the
``postgres`` OS user in a directory owned by it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

BINARIES = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
DATABASE = "sealtrace"


def server_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding every binary the pair needs."""
    found = []
    for directory in Path("/usr/lib/postgresql").glob("*/bin"):
        if all((directory / name).is_file() for name in BINARIES):
            version = directory.parent.name
            found.append((int(version) if version.isdigit() else 0, directory))
    return max(found)[1] if found else None


def missing() -> str | None:
    """Why a pair cannot start here, or None when it can."""
    if server_bin() is None:
        return "PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "a 'postgres' OS user to run initdb as (it refuses root)"
        if shutil.which("runuser") is None:
            return "runuser, to run initdb as the 'postgres' user"
    return None


@dataclass
class Node:
    directory: Path
    port: int

    def dsn(self, database: str = DATABASE) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


@dataclass
class Pair:
    """A running primary and hot standby; ``lsn_caught_up`` waits for the standby."""

    root: Path
    primary: Node
    standby: Node
    bin: Path
    log: list[str] = field(default_factory=list)

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        self.log.append(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        self._run(
            "initdb", "-D", str(self.primary.directory), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        self._configure(self.primary)
        self._pg_ctl(self.primary, "start")
        with psycopg.connect(self.primary.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(self.standby.directory), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        self._configure(self.standby)
        self._pg_ctl(self.standby, "start")

    def _configure(self, node: Node) -> None:
        # Later lines win: the standby's copy of the primary's file gets its own port.
        settings = {
            "port": str(node.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",  # a throwaway pair: speed over durability
            "hot_standby": "on",
            "max_connections": "40",
            "shared_buffers": "16MB",
        }
        with (node.directory / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def _pg_ctl(self, node: Node, action: str, *extra: str) -> None:
        log = node.directory.parent / f"{node.directory.name}.log"
        self._run("pg_ctl", "-D", str(node.directory), "-l", str(log), "-w", action, *extra)

    def caught_up(self, timeout: float = 20.0) -> None:
        """Wait until the standby has replayed everything the primary has written."""
        with psycopg.connect(self.primary.dsn(), autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
        assert target is not None
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.standby.dsn(), autocommit=True) as conn:
            while True:
                row = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target[0],)
                ).fetchone()
                if row is not None and row[0]:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError("the standby did not catch up with the primary")
                time.sleep(0.05)

    def pause_replay(self) -> None:
        with psycopg.connect(self.standby.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with psycopg.connect(self.standby.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        for node in (self.standby, self.primary):
            if (node.directory / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self._pg_ctl(node, "stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_pair(primary_port: int, standby_port: int) -> Pair:
    """Start a primary and its hot standby; the caller stops it."""
    bin_dir = server_bin()
    assert bin_dir is not None, missing()
    # Not pytest's tmp_path: its parents are closed to other users, and as root the
    # servers run as 'postgres'.
    root = Path(tempfile.mkdtemp(prefix="sealtrace-standby-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    pair = Pair(
        root, Node(root / "primary", primary_port), Node(root / "standby", standby_port), bin_dir
    )
    try:
        pair.start()
    except BaseException:
        pair.stop()
        raise
    return pair
