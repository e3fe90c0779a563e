"""Benchmark of the verifier over HTTP: verify+record vs verify-only vs healthz.

Run from the repository root::

    .venv/bin/python bench/bench_verify.py                  # 10 s per endpoint, SQLite
    .venv/bin/python bench/bench_verify.py --quick          # 2 s per endpoint
    .venv/bin/python bench/bench_verify.py --db postgresql+psycopg://postgres@127.0.0.1/bench

The server is a real uvicorn process (one worker) on 127.0.0.1; the load comes
from this process (asyncio + httpx, keep-alive connections), so both share the
machine's cores: the numbers are a floor, not a capacity. Every request must
answer 200 with the expected verdict, or the run fails. Results are printed as
Markdown for docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
REPO = Path(__file__).resolve().parents[1]
PEPPER = "bench-pepper-" + "x" * 32
CODES = 1000


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare(work: Path, database_url: str) -> tuple[dict[str, str], list[str], str, str]:
    """Keys, trust list, migrated database, accounts; returns env, code URIs, tokens."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
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
    upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session:
        suffix = os.urandom(3).hex()
        accounts.create_account(
            session, name=f"bench-brand-{suffix}", role=accounts.Role.BRAND, now=now,
            brand_id=hierarchy.brand.id,
        )  # fmt: skip
        brand_token = accounts.issue_token(
            session, f"bench-brand-{suffix}", pepper=PEPPER.encode(), now=now
        )
    engine.dispose()
    gtin = "0" + gtin_with_prefix("9506000", "42")
    line: Ed25519PrivateKey = hierarchy.line_key
    serials = [f"B{os.urandom(6).hex().upper()}" for _ in range(CODES)]
    uris = [
        format_digital_link(sign_code(ProductCode(gtin=gtin, serial=s), line).ais())
        for s in serials
    ]
    env = {
        **os.environ,
        "SEALTRACE_ENVIRONMENT": "development",
        "SEALTRACE_DATABASE_URL": database_url,
        "SEALTRACE_TOKEN_PEPPER": PEPPER,
        "SEALTRACE_REGISTRY_PUBLIC_KEY": str(work / "registry.pub.pem"),
        "SEALTRACE_TRUST_LIST": str(work / "trust-list.json"),
    }
    registration = {
        "batch_id": f"bench-{now:%Y%m%d%H%M%S}",
        "gtin": gtin,
        "key_id": hierarchy.certificate.key_id,
        "serials": serials,
    }
    return env, uris, brand_token, json.dumps(registration)


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "verifier.api.app:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=REPO)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not become ready")


async def load(
    base: str,
    name: str,
    request: Request,
    *,
    seconds: float,
    concurrency: int,
) -> Result:
    latencies: list[float] = []
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        end = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal counter
            while time.perf_counter() < end:
                counter += 1
                started = time.perf_counter()
                response = await request(client, counter)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(name, len(latencies), elapsed, latencies)


def run(database_url: str | None, seconds: float, concurrency: int) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
        work = Path(tmp)
        url = database_url or f"sqlite:///{work / 'bench.db'}"
        env, uris, brand_token, registration = prepare(work, url)
        port = free_port()
        server = start_server(env, port)
        base = f"http://127.0.0.1:{port}"
        try:
            registered = httpx.post(
                f"{base}/v1/registrations",
                content=registration,
                headers={
                    "Authorization": f"Bearer {brand_token}",
                    "Content-Type": "application/json",
                },
                timeout=60,
            )
            if registered.json().get("registered") != CODES:
                raise SystemExit(f"registration failed: {registered.text[:300]}")

            def verify(path: str) -> Request:
                def call(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
                    return client.post(path, json={"code": uris[i % CODES]})

                return call

            plans: list[tuple[str, Request]] = [
                ("GET /healthz", lambda c, _i: c.get("/healthz")),
                ("POST /v1/verify-only", verify("/v1/verify-only")),
                ("POST /v1/verify (record)", verify("/v1/verify")),
            ]
            return [
                asyncio.run(load(base, name, plan, seconds=seconds, concurrency=concurrency))
                for name, plan in plans
            ]
        finally:
            server.terminate()
            server.wait(timeout=10)


def report(results: list[Result], database: str, concurrency: int) -> str:
    lines = [
        f"Verifier over HTTP: one uvicorn worker, {database}, {concurrency} concurrent "
        f"keep-alive clients on loopback, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores shared with the load generator.",
        "",
        "| endpoint | requests | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.requests} | {r.rate:.0f} | {statistics.median(r.latencies_ms):.2f} "
            f"| {r.percentile(0.99):.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seconds per endpoint")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    seconds = 2.0 if args.quick else args.seconds
    results = run(args.db, seconds, args.concurrency)
    database = "PostgreSQL" if args.db else "SQLite (WAL)"
    print(report(results, database, args.concurrency))


if __name__ == "__main__":
    main()
