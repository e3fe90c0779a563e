"""Load benchmark of the verification service: real servers, a realistic scan mix.

Run from the repository root::

    .venv/bin/python -m bench.bench_load                     # SQLite, and PostgreSQL if up
    .venv/bin/python -m bench.bench_load --seconds 5 --prefill 0
    .venv/bin/python -m bench.bench_load --no-postgres --workers 1

For each database (SQLite file; PostgreSQL database ``sealtrace_bench`` on
127.0.0.1:5432, dropped and recreated) and worker count, ``sealtrace serve`` runs
in its own process group; this process drives it over loopback with an asyncio
+ httpx client: N keep-alive connections, closed loop, for a bounded time per
endpoint (``GET /healthz``, ``POST /v1/verify-only``, ``POST /v1/verify``). The
scan mix is mostly authentic registered codes, some clones (a few codes scanned
alternately in Paris and Sydney) and some garbage (bad syntax, a broken
signature). Then, on PostgreSQL: open-loop at a fixed rate (latency counted from
each request's planned start, so queueing shows), and verify latency again
after ``COPY``-ing many scans into the store.

Client and server share the machine's cores: the numbers are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
PEPPER = "bench-pepper-" + "x" * 32
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgresql+psycopg://postgres@127.0.0.1:5432/sealtrace_bench"
CODES = 2000
CLONED = 20
PARIS = {"lat": 48.86, "lon": 2.35, "accuracy_m": 20}
SYDNEY = {"lat": -33.87, "lon": 151.21, "accuracy_m": 20}


@dataclass
class Result:
    name: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def pct(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    def row(self, config: str) -> str:
        errors = sum(n for s, n in self.statuses.items() if s >= 500 or s == 0)
        return (
            f"| {config} | {self.name} | {self.rate:.0f} | {self.pct(0.50):.1f} | "
            f"{self.pct(0.95):.1f} | {self.pct(0.99):.1f} | {errors} |"
        )


@dataclass
class Fixture:
    env: dict[str, str]
    codes: list[str]
    garbage: list[str]
    brand_token: str
    registration: dict[str, Any]
    gtin: str


def prepare(work: Path, url: str) -> Fixture:
    """Keys and trust list (keys.sample), the migrated database, a brand account, codes."""
    from sqlmodel import Session

    from authn.code import ProductCode
    from authn.digital_link import format_digital_link
    from authn.signing import sign_code
    from keys.filestore import export_public_key
    from keys.sample import gtin_with_prefix, sample_hierarchy
    from verifier import accounts
    from verifier.db.engine import make_engine
    from verifier.db.migrate import upgrade

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hierarchy = sample_hierarchy(now - dt.timedelta(hours=1), list_days=30)
    (work / "registry.pub.pem").write_bytes(export_public_key(hierarchy.registry.public_key()))
    (work / "trust-list.json").write_bytes(hierarchy.trust_list.to_signed_json())
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        name = f"bench-{uuid.uuid4().hex[:6]}"
        accounts.create_account(
            session, name=name, role=accounts.Role.BRAND, now=now, brand_id=hierarchy.brand.id
        )
        token = accounts.issue_token(session, name, pepper=PEPPER.encode(), now=now)
    engine.dispose()
    gtin = "0" + gtin_with_prefix("9506000", "42")
    serials = [f"L{i:07d}{uuid.uuid4().hex[:6].upper()}" for i in range(CODES)]
    codes = [
        format_digital_link(sign_code(ProductCode(gtin=gtin, serial=s), hierarchy.line_key).ais())
        for s in serials
    ]
    broken = codes[0][:-6] + ("AAAAAA" if not codes[0].endswith("AAAAAA") else "BBBBBB")
    env = {
        **os.environ,
        "SEALTRACE_ENVIRONMENT": "development",
        "SEALTRACE_DATABASE_URL": url,
        "SEALTRACE_TOKEN_PEPPER": PEPPER,
        "SEALTRACE_REGISTRY_PUBLIC_KEY": str(work / "registry.pub.pem"),
        "SEALTRACE_TRUST_LIST": str(work / "trust-list.json"),
        "SEALTRACE_ANONYMOUS_VERIFY_LIMIT": "0",  # one client IP: the limit would be the bench
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
    }
    body = {
        "batch_id": f"bench-{uuid.uuid4().hex[:8]}",
        "gtin": gtin,
        "key_id": hierarchy.certificate.key_id,
        "serials": serials,
    }
    return Fixture(env, codes, ["not a code", "(01)123", broken], token, body, gtin)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    fixture: Fixture, url: str, workers: int
) -> tuple[subprocess.Popen[bytes], str, int]:
    port = free_port()
    command = [
        sys.executable, "-m", "sealtrace", "serve", "--db", url, "--no-migrate",
        "--workers", str(workers), "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=fixture.env, cwd=REPO, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("the server did not become ready")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def scan_body(fixture: Fixture, rng: random.Random) -> dict[str, Any]:
    """85 % authentic codes, 10 % clones (Paris then Sydney), 5 % garbage."""
    draw = rng.random()
    if draw < 0.05:
        return {"code": rng.choice(fixture.garbage)}
    if draw < 0.15:
        clone = rng.randrange(CLONED)
        place = PARIS if rng.random() < 0.5 else SYDNEY
        return {"code": fixture.codes[clone], "location": place}
    return {"code": fixture.codes[rng.randrange(CLONED, CODES)]}


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for these endpoints
    (Content-Length bodies): far lighter than a general client, so that the client's CPU
    does not hide the server's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def raw_request(name: str, body: dict[str, Any] | None) -> bytes:
    path = {"healthz": "/healthz", "verify-only": "/v1/verify-only", "verify": "/v1/verify"}[name]
    if body is None:
        return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def requests_for(name: str, fixture: Fixture, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    if name == "healthz":
        return [raw_request(name, None)]
    return [raw_request(name, scan_body(fixture, rng)) for _ in range(count)]


def note(result: Result, started: float, status: int) -> None:
    result.latencies_ms.append((time.perf_counter() - started) * 1000)
    result.statuses[status] = result.statuses.get(status, 0) + 1


async def closed_loop(
    port: int, name: str, fixture: Fixture, *, seconds: float, concurrency: int
) -> Result:
    """``concurrency`` connections, each sending its next request when the last is answered."""
    result = Result(name, seconds)
    end = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        pool = requests_for(name, fixture, 500, seed)
        connection = await Connection.open(port)
        i = 0
        try:
            while time.perf_counter() < end:
                started = time.perf_counter()
                try:
                    status = await connection.request(pool[i % len(pool)])
                except (OSError, asyncio.IncompleteReadError):
                    status = 0
                    connection = await Connection.open(port)
                note(result, started, status)
                i += 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


async def open_loop(
    port: int, fixture: Fixture, *, rate: float, seconds: float, connections: int
) -> Result:
    """Request i is due at t0 + i/rate whatever happened before; latency counts from then,
    so time spent queued (behind a slow server) is in the numbers."""
    result = Result(f"verify @ {rate:.0f}/s open loop", seconds)
    total = int(rate * seconds)
    pool = requests_for("verify", fixture, total, 7)
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def worker() -> None:
        connection = await Connection.open(port)
        try:
            while (item := await queue.get()) is not None:
                planned, raw = item
                try:
                    status = await connection.request(raw)
                except (OSError, asyncio.IncompleteReadError):
                    status = 0
                    connection = await Connection.open(port)
                note(result, planned, status)
        finally:
            connection.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    t0 = time.perf_counter() + 0.1
    for i in range(total):
        planned = t0 + i / rate
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((planned, pool[i]))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = time.perf_counter() - t0
    return result


def prefill_scans(gtin: str, count: int) -> float:
    """COPY ``count`` scans of other serials into PostgreSQL; returns the seconds it took."""
    import psycopg

    started = time.perf_counter()
    columns = (
        "scan_id, gtin, serial, scanned_at, recorded_at, role, country, lat, lon, accuracy_m, "
        "verdict, reasons, answer"
    )
    base_time = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    dsn = PG_BENCH.replace("+psycopg", "")
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY scan ({columns}) FROM STDIN") as copy:
            # A day of distinct times, reused: building a timestamp per row is the slow part.
            times = [(base_time + dt.timedelta(seconds=k)).isoformat() for k in range(86_400)]
            chunk = io.StringIO()
            for i in range(count):
                at = times[i % 86_400]
                # About 4 scans per serial, as many units are scanned a few times.
                chunk.write(
                    f"prefill-{i:012d}\t{gtin}\tP{i // 4:012d}\t{at}\t{at}\tanonymous\t"
                    "DE\t50.9\t6.9\t10000\tauthentic\t[]\t\n"
                )
                if i % 50_000 == 49_999:
                    copy.write(chunk.getvalue())
                    chunk = io.StringIO()
            copy.write(chunk.getvalue())
        conn.commit()
        cursor.execute("ANALYZE scan")
    return time.perf_counter() - started


def recreate_pg() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=2) as conn:
            conn.execute("DROP DATABASE IF EXISTS sealtrace_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE sealtrace_bench")
        return True
    except Exception as exc:
        print(f"PostgreSQL not usable ({type(exc).__name__}): SQLite only", file=sys.stderr)
        return False


def register(base: str, fixture: Fixture) -> None:
    response = httpx.post(
        f"{base}/v1/registrations",
        json=fixture.registration,
        headers={"Authorization": f"Bearer {fixture.brand_token}"},
        timeout=120,
    )
    if response.status_code != 200:
        raise SystemExit(f"registration failed: {response.status_code} {response.text[:300]}")


def run(args: argparse.Namespace) -> list[str]:
    rows: list[str] = []
    databases: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.postgres and recreate_pg():
        databases.append(("PostgreSQL", PG_BENCH))
    for label, pg_url in databases:
        with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
            work = Path(tmp)
            url = pg_url or f"sqlite:///{work / 'bench.db'}"
            fixture = prepare(work, url)
            registered = False
            for workers in args.workers:
                process, base, port = start_server(fixture, url, workers)
                try:
                    if not registered:
                        register(base, fixture)
                        registered = True
                    config = f"{label}, {workers} worker{'s' if workers > 1 else ''}"
                    for name in ("healthz", "verify-only", "verify"):
                        result = asyncio.run(
                            closed_loop(
                                port,
                                name,
                                fixture,
                                seconds=args.seconds,
                                concurrency=args.concurrency,
                            )
                        )
                        rows.append(result.row(config))
                        print(rows[-1], file=sys.stderr)
                    if pg_url and workers == max(args.workers):
                        rows.extend(open_loops(port, fixture, args, config))
                        if args.prefill:
                            took = prefill_scans(fixture.gtin, args.prefill)
                            note = f"{config}, +{args.prefill:,} scans stored (COPY {took:.0f} s)"
                            after = asyncio.run(
                                closed_loop(
                                    port,
                                    "verify",
                                    fixture,
                                    seconds=args.seconds,
                                    concurrency=args.concurrency,
                                )
                            )
                            rows.append(after.row(note))
                            print(rows[-1], file=sys.stderr)
                            # The same fixed rate as before the fill: latency, not throughput.
                            rows.extend(open_loops(port, fixture, args, note, rates=args.rate[:1]))
                finally:
                    stop_server(process)
    return rows


def open_loops(
    port: int,
    fixture: Fixture,
    args: argparse.Namespace,
    config: str,
    rates: list[float] | None = None,
) -> list[str]:
    rows = []
    for rate in rates or args.rate:
        fixed = asyncio.run(
            open_loop(
                port, fixture, rate=rate, seconds=args.seconds, connections=args.concurrency * 2
            )
        )
        rows.append(fixed.row(config))
        print(rows[-1], file=sys.stderr)
    return rows


def report(rows: list[str], args: argparse.Namespace) -> str:
    command = "python -m bench.bench_load " + " ".join(sys.argv[1:] if args.cli else [])
    head = [
        f"Command: `{command.strip()}`  ",
        f"Machine: {os.cpu_count()} cores shared by server and client, Python "
        f"{platform.python_version()}, 1-minute load average at the start "
        f"{args.load_before:.1f}, at the end {os.getloadavg()[0]:.1f}  ",
        f"Closed loop: {args.concurrency} keep-alive connections, {args.seconds:.0f} s per "
        "endpoint; mix 85 % authentic, 10 % clones, 5 % garbage.",
        "",
        "| configuration | endpoint | req/s | p50 ms | p95 ms | p99 ms | 5xx/errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    return "\n".join(head + rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration per measurement")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[400.0, 1000.0],
        help="open-loop scans per second (the first is repeated after the prefill)",
    )  # fmt: skip
    parser.add_argument("--prefill", type=int, default=2_000_000, help="scans COPYed (PostgreSQL)")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    args.cli = argv is None
    args.load_before = os.getloadavg()[0]
    print(report(run(args), args))


if __name__ == "__main__":
    main()
