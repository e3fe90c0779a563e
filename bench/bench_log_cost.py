"""What the transparency log costs recorded verify over HTTP: with and without it, interleaved.

Run from the repository root::

    .venv/bin/python -m bench.bench_log_cost                 # SQLite 1 worker, PostgreSQL 2
    .venv/bin/python -m bench.bench_log_cost --rounds 3 --seconds 5

For each configuration two servers run at once over the same database, started by
the same bench-only launcher (:mod:`bench.serve_log_ab`): one exactly the service,
one with the log's append switched off. The client of :mod:`bench.bench_load`
drives ``POST /v1/verify`` (its scan mix) closed loop against one, then the other,
alternating which goes first, for ``--rounds`` rounds; the idle server costs
nothing meanwhile. Reported: the median req/s and p50 of each, and the median of
the per-round ratios (logged / unlogged), which is what the 10 % target is about.
Also reported, over the same intervals: the CPU time the active server (all its
processes) and, on PostgreSQL, the bench database's backends spent per answered
request (:mod:`bench.cpu_meter`). On a machine shared with other work that
figure moves far less than req/s, and the log's cost is its ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_load import (
    PG_ADMIN,
    PG_BENCH,
    REPO,
    Fixture,
    closed_loop,
    free_port,
    prepare,
    recreate_pg,
    register,
    stop_server,
)
from bench.cpu_meter import pids_cpu, postgres_backends, session_cpu


def start(
    fixture: Fixture, url: str, workers: int, variant: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    metrics = Path(fixture.env["PROMETHEUS_MULTIPROC_DIR"]) / variant  # one per server
    metrics.mkdir(parents=True, exist_ok=True)
    env = {**fixture.env, "SEALTRACE_DATABASE_URL": url, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    command = [sys.executable, "-m", "bench.serve_log_ab", str(port), str(workers), variant]
    process = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("the server did not become ready")


class CpuWindow:
    """CPU seconds of one server (its session) and of the bench database's backends
    over one measurement; the other server sits idle meanwhile."""

    def __init__(self, server_pid: int, postgres: bool) -> None:
        self.server_pid = server_pid
        self.postgres = postgres
        self.server = session_cpu(server_pid)
        self.backends = self._backends()

    def _backends(self) -> dict[int, float]:
        if not self.postgres:
            return {}
        database = PG_BENCH.rsplit("/", 1)[1]
        return {pid: pids_cpu([pid]) for pid in postgres_backends(PG_ADMIN, database)}

    def spent(self) -> tuple[float, float]:
        """(server seconds, database seconds) since the window opened."""
        server = session_cpu(self.server_pid) - self.server
        now = self._backends()
        database = sum(cpu - self.backends.get(pid, 0.0) for pid, cpu in now.items())
        return server, database


def measure(label: str, url: str, workers: int, args: argparse.Namespace, work: Path) -> list[str]:
    fixture = prepare(work, url)
    servers = {v: start(fixture, url, workers, v) for v in ("logged", "unlogged")}
    postgres = url.startswith("postgresql")
    try:
        register(f"http://127.0.0.1:{servers['logged'][1]}", fixture)
        rates: dict[str, list[float]] = {"logged": [], "unlogged": []}
        p50: dict[str, list[float]] = {"logged": [], "unlogged": []}
        cpu: dict[str, list[float]] = {"logged": [], "unlogged": []}  # ms per request
        errors = 0
        for r in range(args.rounds):
            order = ("logged", "unlogged") if r % 2 == 0 else ("unlogged", "logged")
            for variant in order:
                window = CpuWindow(servers[variant][0].pid, postgres)
                result = asyncio.run(
                    closed_loop(
                        servers[variant][1], "verify", fixture,
                        seconds=args.seconds, concurrency=args.concurrency,
                    )
                )  # fmt: skip
                server_s, database_s = window.spent()
                answered = max(1, len(result.latencies_ms))
                cpu[variant].append(1000 * (server_s + database_s) / answered)
                rates[variant].append(result.rate)
                p50[variant].append(result.pct(0.5))
                errors += sum(n for s, n in result.statuses.items() if s >= 500 or s == 0)
                print(
                    f"{label} {workers}w round {r} {variant}: {result.rate:.0f} req/s, "
                    f"{cpu[variant][-1]:.2f} ms CPU per request "
                    f"(server {1000 * server_s / answered:.2f}, database "
                    f"{1000 * database_s / answered:.2f})",
                    file=sys.stderr,
                )
        logged = count_logged_scans(url)
    finally:
        for process, _ in servers.values():
            stop_server(process)
    ratios = [a / b for a, b in zip(rates["logged"], rates["unlogged"], strict=True)]
    cpu_ratios = [a / b for a, b in zip(cpu["logged"], cpu["unlogged"], strict=True)]
    config = f"{label}, {workers} worker{'s' if workers > 1 else ''}"
    return [
        f"| {config} | {statistics.median(rates['unlogged']):.0f} | "
        f"{statistics.median(p50['unlogged']):.1f} | {statistics.median(rates['logged']):.0f} | "
        f"{statistics.median(p50['logged']):.1f} | {statistics.median(ratios):.2f} "
        f"({min(ratios):.2f}-{max(ratios):.2f}) | {statistics.median(cpu['unlogged']):.2f} | "
        f"{statistics.median(cpu['logged']):.2f} | {statistics.median(cpu_ratios):.2f} "
        f"({min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}) | {errors} | "
        f"{logged[0]:,} of {logged[1]:,} |"
    ]


def count_logged_scans(url: str) -> tuple[int, int]:
    """(scan entries in the log, scans stored): shows the unlogged server logged nothing."""
    from sqlalchemy import text

    from verifier.db.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        entries = connection.execute(text("SELECT count(*) FROM log_entry WHERE kind = 'scan'"))
        scans = connection.execute(text("SELECT count(*) FROM scan"))
        counted = (int(entries.scalar_one()), int(scans.scalar_one()))
    engine.dispose()
    return counted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="duration per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false")
    parser.add_argument("--pg-workers", type=int, default=2, help="workers of the PostgreSQL pair")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows: list[str] = []
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
            rows += measure("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", 1, args, Path(tmp))
    if args.postgres and recreate_pg():
        with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
            rows += measure("PostgreSQL", PG_BENCH, args.pg_workers, args, Path(tmp))
    command = "python -m bench.bench_log_cost " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    print(
        "\n".join(
            [
                f"Command: `{command.strip()}`  ",
                f"Machine: {os.cpu_count()} cores shared by servers and client, 1-minute load "
                f"average at the start {load_before:.1f}, at the end {os.getloadavg()[0]:.1f}  ",
                f"{args.rounds} rounds of {args.seconds:.0f} s per variant, alternating which goes "
                f"first; {args.concurrency} keep-alive connections; medians.",
                "",
                "| configuration | without the log, req/s | p50 ms | with the log, req/s | p50 ms "
                "| with / without (median of rounds, range) | CPU ms/request without "
                "| CPU ms/request with | CPU with / without (median, range) | 5xx/errors "
                "| scans in the log |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                *rows,
            ]
        )
    )


if __name__ == "__main__":
    main()
