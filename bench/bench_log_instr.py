"""What the transparency log costs recording, counted rather than timed.

Run from the repository root::

    .venv/bin/python -m bench.bench_log_instr                    # callgrind, both stores
    .venv/bin/python -m bench.bench_log_instr --backends         # PostgreSQL backends' CPU

On a machine shared with other work, req/s and CPU time move with the load; the
number of instructions a piece of code executes does not. The default mode runs
this module again under ``valgrind --tool=callgrind`` once per store and variant
(logged, unlogged), each on a fresh database, and counts only the instructions
of the measured region: prepare and judge ``--scans`` scans of the load
benchmark's mix in batches of ``--batch`` (one transaction each, as the recorder
does under load), after a warm-up. The region runs inside a call of the C
library's ``qsort`` (its comparison callback does the work) so that callgrind's
``--toggle-collect=qsort*`` counts it and nothing else: not the imports, the
fixture or the warm-up. On SQLite that is all the work, the database included;
on PostgreSQL it is the service's side only.

``--backends`` (no valgrind) measures the other side on PostgreSQL: one process,
one database, logged and unlogged rounds alternating, and the CPU time of the
backends that served them read from /proc (each pooled connection's
``pg_backend_pid()``), with the process's own CPU beside it.

The log is switched off here the way :mod:`bench.serve_log_ab` does it, but in
the running process: the ORM listeners are removed and the verify path's
``log_rows`` does nothing. Bench-only; the service has no such switch.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench import bench_load
from bench.bench_judge import judge_all, judging_service, requests
from bench.bench_load import PG_ADMIN, REPO, Fixture
from http_api.deps import Services
from verifier.accounts import ANONYMOUS

WARM_BATCHES = 3
CHILD_CODES = 300
TICKS = os.sysconf("SC_CLK_TCK")


def switch_log(on: bool) -> None:
    """Turn the log's append on or off in this process (bench-only)."""
    from sqlalchemy.orm import Session as OrmSession

    import transparency.hooks as hooks
    import verifier.verification.writes as writes

    def _skip(*args: Any, **kwargs: Any) -> None:
        return None

    listeners = (("after_flush", hooks._after_flush), ("before_commit", hooks._before_commit))
    for name, listener in listeners:
        present = event.contains(OrmSession, name, listener)
        if on and not present:
            event.listen(OrmSession, name, listener)
        if not on and present:
            event.remove(OrmSession, name, listener)
    setattr(writes, "log_rows", hooks.log_rows if on else _skip)  # noqa: B010


def in_qsort(work: Callable[[], None]) -> None:
    """Run ``work`` inside libc's qsort, so callgrind can count exactly that call."""
    compare_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    done: list[bool] = []

    def compare(_a: Any, _b: Any) -> int:
        if not done:
            done.append(True)
            work()
        return 0

    items = (ctypes.c_int * 2)(1, 2)
    ctypes.CDLL(None).qsort(items, 2, ctypes.sizeof(ctypes.c_int), compare_type(compare))
    if not done:
        raise SystemExit("qsort never called back")


def service(url: str) -> AbstractContextManager[tuple[Services, Fixture]]:
    return judging_service(url, prefix="sealtrace-instr-")


@contextmanager
def database(store: str) -> Iterator[str]:
    """A fresh database of ``store`` for one run, dropped after."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="sealtrace-instr-db-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'instr.db'}"
        return
    import psycopg

    name = f"sealtrace_instr_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=2) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child(store: str, variant: str, scans: int, batch: int) -> None:
    """The measured process (under callgrind): warm up, then the counted region."""
    # Fewer registered codes than the load benchmark's 2,000: signing and registering
    # them is setup, slow under callgrind, and the mix (20 cloned codes) is unchanged.
    bench_load.CODES = CHILD_CODES
    with database(store) as url, service(url) as (services, fixture):
        switch_log(variant == "logged")
        warm = requests(fixture, WARM_BATCHES * batch, seed=1, routes=False)
        judge_all(services, [services.verifier.prepare(ANONYMOUS, r) for r in warm], batch)
        measured = requests(fixture, scans, seed=2, routes=False)

        def region() -> None:
            jobs = [services.verifier.prepare(ANONYMOUS, request) for request in measured]
            judge_all(services, jobs, batch)

        in_qsort(region)


def start_count(
    store: str, variant: str, scans: int, batch: int, out: Path
) -> subprocess.Popen[str]:
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        "--collect-atstart=no", "--toggle-collect=qsort*",
        sys.executable, "-m", "bench.bench_log_instr",
        "--child", store, variant, "--scans", str(scans), "--batch", str(batch),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def collected(process: subprocess.Popen[str]) -> int:
    _, stderr = process.communicate()
    found = re.search(r"Collected : (\d+)", stderr)
    if process.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed ({process.returncode}):\n{stderr[-3000:]}")
    return int(found.group(1))


def instructions(stores: list[str], scans: int, batch: int, work: Path) -> str:
    start_load = os.getloadavg()[0]
    lines = [
        f"Command: `python -m bench.bench_log_instr --scans {scans} --batch {batch}`  ",
        f"{platform.machine()}, Python {platform.python_version()}; instructions counted by "
        f"callgrind in the measured region ({scans} scans prepared and judged in batches of "
        f"{batch}, after {WARM_BATCHES} warm-up batches); 1-minute load average "
        f"{start_load:.1f} at the start (it does not change the counts)",
        "",
        "| store | what is counted | unlogged, instructions per scan | logged | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for store in stores:
        # Both variants at once: the counts do not depend on what else runs.
        runs = {
            variant: start_count(store, variant, scans, batch, work / f"cg.{store}.{variant}")
            for variant in ("unlogged", "logged")
        }
        per_scan = {variant: collected(process) / scans for variant, process in runs.items()}
        what = "service and SQLite" if store == "sqlite" else "service only"
        lines.append(
            f"| {store} | {what} | {per_scan['unlogged']:,.0f} | {per_scan['logged']:,.0f} | "
            f"{per_scan['logged'] / per_scan['unlogged']:.3f} |"
        )
    return "\n".join(lines)


def backend_cpu(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICKS


def backends(scans: int, batch: int, rounds: int) -> str:
    start_load = os.getloadavg()[0]
    rows: dict[str, dict[str, list[float]]] = {"unlogged": {}, "logged": {}}
    with database("postgresql") as url, service(url) as (services, fixture):
        pids: set[int] = set()

        def remember(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(int(cursor.fetchone()[0]))
            cursor.close()

        services.engine.dispose()
        event.listen(services.engine, "connect", remember)
        warm = requests(fixture, WARM_BATCHES * batch, seed=1, routes=False)
        judge_all(services, [services.verifier.prepare(ANONYMOUS, r) for r in warm], batch)
        for round_ in range(rounds):
            order = ("logged", "unlogged") if round_ % 2 else ("unlogged", "logged")
            for variant in order:
                switch_log(variant == "logged")
                jobs = [
                    services.verifier.prepare(ANONYMOUS, request)
                    for request in requests(fixture, scans, seed=100 + round_, routes=False)
                ]
                server, own = backend_cpu(pids), time.process_time()
                judge_all(services, jobs, batch)
                own = time.process_time() - own
                server = backend_cpu(pids) - server
                rows[variant].setdefault("backends", []).append(server / scans * 1e6)
                rows[variant].setdefault("service", []).append(own / scans * 1e6)
        switch_log(True)
    end_load = os.getloadavg()[0]
    lines = [
        f"Command: `python -m bench.bench_log_instr --backends --scans {scans} --batch {batch} "
        f"--rounds {rounds}`  ",
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {rounds} rounds of "
        f"{scans} scans per variant, alternating which goes first, medians; 1-minute load "
        f"average {start_load:.1f} at the start, {end_load:.1f} at the end",
        "",
        "| CPU µs per scan | unlogged | logged | ratio |",
        "|---|---:|---:|---:|",
    ]
    for side in ("backends", "service"):
        base = statistics.median(rows["unlogged"][side])
        logged = statistics.median(rows["logged"][side])
        lines.append(f"| {side} | {base:.0f} | {logged:.0f} | {logged / base:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scans", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of --backends")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument("--backends", action="store_true", help="PostgreSQL backends' CPU")
    parser.add_argument("--child", nargs=2, metavar=("STORE", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.scans, args.batch)
        return
    if args.backends:
        print(backends(args.scans, args.batch, args.rounds))
        return
    stores = [s for s, on in (("sqlite", args.sqlite), ("postgresql", args.postgres)) if on]
    with tempfile.TemporaryDirectory(prefix="sealtrace-callgrind-") as tmp:
        print(instructions(stores, args.scans, args.batch, Path(tmp)))


if __name__ == "__main__":
    main()
