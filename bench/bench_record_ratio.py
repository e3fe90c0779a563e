"""Recorded verify against verify-only, side by side, with country, location and EPCIS routes.

Run from the repository root::

    .venv/bin/python -m bench.bench_record_ratio                  # SQLite 1 worker, PG 2 workers
    .venv/bin/python -m bench.bench_record_ratio --rounds 5 --seconds 8 --no-postgres

The same real server and client as :mod:`bench.bench_load`, but every scan carries what
an officer's or a trade partner's scan carries: a ``country`` and a location. The
registered codes have a supply-chain history: packed 20 to a case, each case shipped
from Germany to France and received there (EPCIS events captured through the API), so
every recorded scan of a genuine code walks unit -> case for its route findings. Mix:
85 % authentic codes scanned in France, 10 % clones (20 codes, Paris or Sydney, with
the matching country), 5 % garbage.

``POST /v1/verify-only`` and ``POST /v1/verify`` are measured in alternating order for
``--rounds`` rounds of ``--seconds`` each against the same server, and the ratio of
their request rates is taken per round: on a shared machine the load moves between
rounds, and a ratio of neighbours is what stays comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.bench_load import (
    CLONED,
    PARIS,
    PG_ADMIN,
    SYDNEY,
    Fixture,
    Result,
    closed_loop,
    prepare,
    register,
    start_server,
    stop_server,
)

CASE_SIZE = 20
FACTORY = "urn:epc:id:sgln:9506000.00001.0"  # Germany
WAREHOUSE = "urn:epc:id:sgln:9506000.00002.0"  # France


def scan_body(fixture: Fixture, rng: random.Random) -> dict[str, Any]:
    """85 % authentic codes scanned in France, 10 % clones (Paris or Sydney), 5 % garbage."""
    draw = rng.random()
    if draw < 0.05:
        return {"code": rng.choice(fixture.garbage)}
    if draw < 0.15:
        clone = rng.randrange(CLONED)
        if rng.random() < 0.5:
            return {"code": fixture.codes[clone], "location": PARIS, "country": "FR"}
        return {"code": fixture.codes[clone], "location": SYDNEY, "country": "AU"}
    code = fixture.codes[rng.randrange(CLONED, len(fixture.codes))]
    return {"code": code, "location": PARIS, "country": "FR"}


def route_documents(fixture: Fixture) -> list[dict[str, Any]]:
    """The genuine codes packed into cases, each case shipped DE -> FR and received there."""
    from epcis.documents import aggregation_event, epcis_document, object_event
    from epcis.identifiers import unit_uri

    serials: list[str] = fixture.registration["serials"][CLONED:]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    events: list[dict[str, Any]] = []
    for number, first in enumerate(range(0, len(serials), CASE_SIZE), start=1):
        case = f"urn:epc:id:sscc:9506000.{number:010d}"
        units = [unit_uri(fixture.gtin, s) for s in serials[first : first + CASE_SIZE]]
        events += [
            aggregation_event(case, units, at=start, biz_location=FACTORY),
            object_event(
                [case], at=start + dt.timedelta(hours=2), biz_step="shipping",
                disposition="in_transit", read_point=FACTORY,
                sources=[("location", FACTORY)], destinations=[("location", WAREHOUSE)],
            ),
            object_event(
                [case], at=start + dt.timedelta(days=1), biz_step="receiving",
                disposition="in_progress", biz_location=WAREHOUSE,
            ),
        ]  # fmt: skip
    locations = {FACTORY: "DE", WAREHOUSE: "FR"}
    return [
        epcis_document(events[i : i + 150], created=start, locations=locations)
        for i in range(0, len(events), 150)
    ]


def capture_routes(base: str, fixture: Fixture) -> int:
    """Capture :func:`route_documents` through the API; returns the number of events."""
    captured = 0
    for document in route_documents(fixture):
        response = httpx.post(
            f"{base}/v1/epcis/capture",
            json=document,
            headers={"Authorization": f"Bearer {fixture.brand_token}"},
            timeout=120,
        )
        if response.status_code != 201:
            raise SystemExit(f"capture failed: {response.status_code} {response.text[:300]}")
        captured += len(document["epcisBody"]["eventList"])
    return captured


def measure(port: int, fixture: Fixture, args: argparse.Namespace) -> list[tuple[Result, Result]]:
    pairs = []
    for round_number in range(args.rounds):
        order = ("verify-only", "verify") if round_number % 2 == 0 else ("verify", "verify-only")
        got: dict[str, Result] = {}
        for name in order:
            got[name] = asyncio.run(
                closed_loop(port, name, fixture, seconds=args.seconds, concurrency=args.concurrency)
            )
        pairs.append((got["verify-only"], got["verify"]))
        only, recorded = pairs[-1]
        print(
            f"round {round_number + 1}: verify-only {only.rate:.0f}/s, verify "
            f"{recorded.rate:.0f}/s, ratio {recorded.rate / only.rate:.2f}, "
            f"load {os.getloadavg()[0]:.1f}",
            file=sys.stderr,
        )
    return pairs


def profile(pid: int, port: int, fixture: Fixture, args: argparse.Namespace, out: str) -> None:
    """py-spy (folded stacks, every worker) while recorded verify runs, after the rounds."""
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
            "--subprocesses", "--rate", "50", "--duration", str(int(args.seconds)),
            "--format", "raw", "--output", out, "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result = asyncio.run(
        closed_loop(port, "verify", fixture, seconds=args.seconds, concurrency=args.concurrency)
    )
    spy.wait(timeout=60)
    print(f"profiled verify at {result.rate:.0f}/s into {out}", file=sys.stderr)


def errors(result: Result) -> int:
    return sum(n for status, n in result.statuses.items() if status >= 500 or status == 0)


def row(config: str, pairs: list[tuple[Result, Result]]) -> str:
    only = [a.rate for a, _ in pairs]
    recorded = [b.rate for _, b in pairs]
    ratios = [b.rate / a.rate for a, b in pairs]
    p99 = statistics.median(b.pct(0.99) for _, b in pairs)
    failed = sum(errors(a) + errors(b) for a, b in pairs)
    return (
        f"| {config} | {statistics.median(only):.0f} | {statistics.median(recorded):.0f} | "
        f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
        f"{p99:.1f} | {failed} |"
    )


def create_pg() -> str | None:
    """A database of this run's own (others may benchmark on the same server), or None."""
    import psycopg

    name = f"sealtrace_ratio_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except Exception as exc:
        print(f"PostgreSQL not usable ({type(exc).__name__}): SQLite only", file=sys.stderr)
        return None
    return name


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=2) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(args: argparse.Namespace) -> list[str]:
    import bench.bench_load as load

    load.scan_body = scan_body  # the client draws every request body from this mix
    configs: list[tuple[str, str | None, int]] = []
    if args.sqlite:
        configs.append(("SQLite", None, args.sqlite_workers))
    database = create_pg() if args.postgres else None
    if database is not None:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        configs.append(("PostgreSQL", url, args.pg_workers))
    try:
        return [measure_config(args, *config) for config in configs]
    finally:
        if database is not None:
            drop_pg(database)


def measure_config(args: argparse.Namespace, label: str, pg_url: str | None, workers: int) -> str:
    with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
        work = Path(tmp)
        url = pg_url or f"sqlite:///{work / 'bench.db'}"
        fixture = prepare(work, url)
        process, base, port = start_server(fixture, url, workers)
        try:
            register(base, fixture)
            captured = capture_routes(base, fixture)
            print(f"{label}: {captured} EPCIS events captured", file=sys.stderr)
            config = f"{label}, {workers} worker{'s' if workers > 1 else ''}"
            line = row(config, measure(port, fixture, args))
            print(line, file=sys.stderr)
            if args.profile:
                profile(process.pid, port, fixture, args, f"{args.profile}-{label.lower()}.txt")
            return line
        finally:
            stop_server(process)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0, help="per endpoint and round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sqlite-workers", type=int, default=1)
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false")
    parser.add_argument(
        "--profile", metavar="PREFIX",
        help="after the rounds, py-spy the server during one more verify run (py-spy installed)",
    )  # fmt: skip
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    before = os.getloadavg()[0]
    rows = run(args)
    print(
        f"Command: `python -m bench.bench_record_ratio {' '.join(sys.argv[1:])}`  \n"
        f"{args.rounds} rounds of {args.seconds:.0f} s per endpoint, alternating order, "
        f"{args.concurrency} connections; 1-minute load average {before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end\n\n"
        "| configuration | verify-only req/s | verify req/s | verify / verify-only, "
        "median (range) | verify p99 ms | 5xx/errors |\n|---|---:|---:|---:|---:|---:|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
