"""What one recorded scan costs the PostgreSQL primary: its backends' CPU and its WAL.

Run from the repository root (PostgreSQL on 127.0.0.1:5432)::

    .venv/bin/python -m bench.bench_primary

The API side is what N machines add; the primary is what they share. This measures the
primary's side of ``Verifier.judge`` (the recorder's transaction: read the batch's
state, lock, insert, log, commit) on the load benchmark's scan mix, in batches as the
recorder makes them under load: the CPU time of the database backends that served the
batches (read from /proc for each pooled connection's ``pg_backend_pid()``; the server
must be on this machine), the service's own CPU in the same run, and the WAL the
primary wrote per scan (what every replica must receive and replay). Background
processes (WAL writer, checkpointer, WAL senders) are not counted. The database is
created for the run under its own name and dropped after.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, text
from sqlmodel import Session

from bench.bench_judge import judge_all, judging_service, requests
from bench.bench_load import PG_ADMIN
from http_api.deps import Services
from verifier.accounts import ANONYMOUS

BATCHES = (1, 32, 64)
TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pids: set[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICKS


def wal_lsn(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar_one())


def run(url: str, scans: int, repeats: int) -> str:
    with judging_service(url, prefix="sealtrace-primary-") as (services, fixture):
        pids: set[int] = set()

        def remember(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(int(cursor.fetchone()[0]))
            cursor.close()

        services.engine.dispose()  # every connection from here on is remembered
        event.listen(services.engine, "connect", remember)
        rows: dict[int, dict[str, list[float]]] = {b: {} for b in BATCHES}
        for repeat in range(repeats):
            for batch in BATCHES:
                jobs = [
                    services.verifier.prepare(ANONYMOUS, request)
                    for request in requests(fixture, scans, seed=repeat * 10 + batch, routes=False)
                ]
                with Session(services.engine) as warm:  # open the pool before timing
                    warm.execute(text("SELECT 1"))
                lsn, server, service = wal_lsn(services), backend_cpu(pids), time.process_time()
                judge_all(services, jobs, batch)
                service = time.process_time() - service
                server = backend_cpu(pids) - server
                wal = wal_lsn(services) - lsn
                row = rows[batch]
                row.setdefault("server", []).append(server / scans * 1e6)
                row.setdefault("service", []).append(service / scans * 1e6)
                row.setdefault("wal", []).append(wal / scans)
    load = os.getloadavg()[0]
    lines = [
        f"Command: `python -m bench.bench_primary --scans {scans} --repeats {repeats}`  ",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}; {scans} scans x {repeats} repeats per batch size, "
        f"medians; 1-minute load average at the end {load:.1f}",
        "",
        "| batch | PostgreSQL backends, CPU µs per scan | service (judge, in-process), CPU µs "
        "per scan | WAL bytes per scan |",
        "|---:|---:|---:|---:|",
    ]
    for batch, row in rows.items():
        lines.append(
            f"| {batch} | {statistics.median(row['server']):.0f} | "
            f"{statistics.median(row['service']):.0f} | {statistics.median(row['wal']):,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 512 x 3 keeps the run near a minute on 2 shared cores (batches of 1 dominate).
    parser.add_argument("--scans", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    name = f"sealtrace_primary_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=2) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        print(run(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", args.scans, args.repeats))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
