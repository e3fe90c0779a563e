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


def measure(label: str, url: str, workers: int, args: argparse.Namespace, work: Path) -> list[str]:
    fixture = prepare(work, url)
    servers = {v: start(fixture, url, workers, v) for v in ("logged", "unlogged")}
    try:
        register(f"http://127.0.0.1:{servers['logged'][1]}", fixture)
        rates: dict[str, list[float]] = {"logged": [], "unlogged": []}
        p50: dict[str, list[float]] = {"logged": [], "unlogged": []}
        errors = 0
        for r in range(args.rounds):
            order = ("logged", "unlogged") if r % 2 == 0 else ("unlogged", "logged")
            for variant in order:
                result = asyncio.run(
                    closed_loop(
                        servers[variant][1], "verify", fixture,
                        seconds=args.seconds, concurrency=args.concurrency,
                    )
                )  # fmt: skip
                rates[variant].append(result.rate)
                p50[variant].append(result.pct(0.5))
                errors += sum(n for s, n in result.statuses.items() if s >= 500 or s == 0)
                print(
                    f"{label} {workers}w round {r} {variant}: {result.rate:.0f} req/s",
                    file=sys.stderr,
                )
        logged = count_logged_scans(url)
    finally:
        for process, _ in servers.values():
            stop_server(process)
    ratios = [a / b for a, b in zip(rates["logged"], rates["unlogged"], strict=True)]
    config = f"{label}, {workers} worker{'s' if workers > 1 else ''}"
    return [
        f"| {config} | {statistics.median(rates['unlogged']):.0f} | "
        f"{statistics.median(p50['unlogged']):.1f} | {statistics.median(rates['logged']):.0f} | "
        f"{statistics.median(p50['logged']):.1f} | {statistics.median(ratios):.2f} "
        f"({min(ratios):.2f}-{max(ratios):.2f}) | {errors} | {logged[0]:,} of {logged[1]:,} |"
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
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
        rows += measure("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", 1, args, Path(tmp))
    if args.postgres and recreate_pg():
        with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
            rows += measure("PostgreSQL", PG_BENCH, 2, args, Path(tmp))
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
                "| with / without (median of rounds, range) | 5xx/errors | scans in the log |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
                *rows,
            ]
        )
    )


if __name__ == "__main__":
    main()
