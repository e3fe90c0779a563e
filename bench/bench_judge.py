"""What recording costs per scan, in-process: verify-only against batched verify+record.

Run from the repository root::

    .venv/bin/python -m bench.bench_judge                   # SQLite file
    .venv/bin/python -m bench.bench_judge --postgres        # PostgreSQL sealtrace_bench
    .venv/bin/python -m bench.bench_judge --routes          # with country and EPCIS routes

No HTTP and no client: one thread calls the service layer on the load
benchmark's scan mix (authentic codes, clones scanned in Paris and Sydney),
first ``Verifier.verify_only`` per scan, then ``Verifier.judge`` on batches of
1, 8, 32 and 64 prepared scans (one transaction and one commit per batch, as
the recorder does under load). Each is repeated and the median CPU time per
scan is reported with its ratio to verify-only, side by side in one run, so
a noisy machine moves both alike. HTTP parsing, the middleware and the event
loop are common to both endpoints and not counted here. ``--routes`` uses the mix
of :mod:`bench.bench_record_ratio` instead: every scan with a country and a
location, the genuine codes packed in cases shipped from Germany to France.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from bench import bench_record_ratio
from bench.bench_load import PG_BENCH, Fixture, recreate_pg, scan_body
from bench.bench_load import prepare as prepare_fixture
from http_api.app import create_app
from http_api.deps import Services
from verifier.accounts import ANONYMOUS
from verifier.schemas import VerifyIn
from verifier.settings import Settings
from verifier.verification.service import ScanJob

BATCHES = (1, 8, 32, 64)


def requests(fixture: Fixture, count: int, seed: int, *, routes: bool) -> list[VerifyIn]:
    rng = random.Random(seed)
    chosen: list[VerifyIn] = []
    draw = bench_record_ratio.scan_body if routes else scan_body
    while len(chosen) < count:
        body = draw(fixture, rng)
        if body["code"] not in fixture.garbage:  # garbage fails before any recording
            chosen.append(VerifyIn.model_validate(body))
    return chosen


def per_scan_us(seconds: float, scans: int) -> float:
    return seconds / scans * 1e6


def time_verify_only(services: Services, scans: list[VerifyIn]) -> float:
    started = time.process_time()
    for request in scans:
        services.verifier.verify_only(ANONYMOUS, request)
    return per_scan_us(time.process_time() - started, len(scans))


def time_judge(services: Services, scans: list[VerifyIn], batch: int) -> float:
    started = time.process_time()
    # Parsing is part of both paths: the route prepares each request before recording it.
    jobs = [services.verifier.prepare(ANONYMOUS, request) for request in scans]
    judge_all(services, jobs, batch)
    return per_scan_us(time.process_time() - started, len(scans))


def judge_all(services: Services, jobs: list[ScanJob], batch: int) -> None:
    """Judge and record ``jobs`` in batches of ``batch``, as the recorder does."""
    for start in range(0, len(jobs), batch):
        with Session(services.engine) as session:
            results = services.verifier.judge(session, jobs[start : start + batch])
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise SystemExit(f"judging failed: {failed[0]!r}")


@contextmanager
def judging_service(
    url: str, *, routes: bool = False, prefix: str = "sealtrace-judge-"
) -> Iterator[tuple[Services, Fixture]]:
    """The whole service in-process over ``url``, the bench fixture's codes registered
    (and, with ``routes``, their supply-chain routes captured): what every in-process
    benchmark of the recording path starts from."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        fixture = prepare_fixture(Path(tmp), url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            environment="development",
            database_url=url,
            token_pepper=SecretStr(fixture.env["SEALTRACE_TOKEN_PEPPER"]),
            registry_public_key=Path(fixture.env["SEALTRACE_REGISTRY_PUBLIC_KEY"]),
            trust_list=Path(fixture.env["SEALTRACE_TRUST_LIST"]),
        )
        app = create_app(settings)
        with TestClient(app) as client:
            registered = client.post(
                "/v1/registrations",
                json=fixture.registration,
                headers={"Authorization": f"Bearer {fixture.brand_token}"},
            )
            if registered.status_code != 200:
                raise SystemExit(f"registration failed: {registered.text}")
            for document in bench_record_ratio.route_documents(fixture) if routes else []:
                captured = client.post(
                    "/v1/epcis/capture",
                    json=document,
                    headers={"Authorization": f"Bearer {fixture.brand_token}"},
                )
                if captured.status_code != 201:
                    raise SystemExit(f"capture failed: {captured.text[:300]}")
            yield app.state.services, fixture


def run(url: str, scans: int, repeats: int, *, routes: bool = False) -> str:
    with judging_service(url, routes=routes) as (services, fixture):
        rows: dict[str, list[float]] = {"verify-only": []}
        for repeat in range(repeats):
            batch_scans = requests(fixture, scans, seed=repeat, routes=routes)
            rows["verify-only"].append(time_verify_only(services, batch_scans))
            for batch in BATCHES:
                rows.setdefault(f"verify+record, batches of {batch}", []).append(
                    time_judge(services, batch_scans, batch)
                )
    base = statistics.median(rows["verify-only"])
    lines = [
        f"Command: `python -m bench.bench_judge{' --postgres' if 'postgresql' in url else ''}"
        f"{' --routes' if routes else ''}`  ",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; {scans} scans x "
        f"{repeats} repeats, median CPU time per scan",
        "",
        "| path | us per scan | x verify-only |",
        "|---|---:|---:|",
    ]
    for name, values in rows.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.0f} | {median / base:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--scans", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--routes", action="store_true", help="country, location and EPCIS routes on every scan"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sealtrace-judge-db-") as tmp:
        if args.postgres:
            if not recreate_pg():
                raise SystemExit("PostgreSQL on 127.0.0.1:5432 is not reachable")
            url = PG_BENCH
        else:
            url = f"sqlite:///{Path(tmp) / 'judge.db'}"
        print(run(url, args.scans, args.repeats, routes=args.routes))


if __name__ == "__main__":
    main()
