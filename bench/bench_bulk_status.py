"""Bulk statuses: 10,000 units marked sold in one `sealtrace brand status --file`, against
200 single-unit calls one after the other, on one `sealtrace serve` worker over SQLite.

    python -m bench.bench_bulk_status [--count 10000] [--sequential 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import Session

from keys.filestore import export_public_key
from keys.sample import gtin_with_prefix, sample_hierarchy
from verifier.accounts import Role, create_account, issue_token
from verifier.db.engine import make_engine
from verifier.db.migrate import upgrade

GTIN = "0" + gtin_with_prefix("9506000", "77")
PEPPER = "bench-pepper-" + "p" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--sequential", type=int, default=200)
    args = parser.parse_args([] if __name__ != "__main__" else None)
    now = datetime.now(UTC) - timedelta(hours=1)
    h = sample_hierarchy(now)
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as name:
        tmp = Path(name)
        (tmp / "registry.pub.pem").write_bytes(export_public_key(h.registry.public_key()))
        (tmp / "trust.json").write_bytes(h.trust_list.to_signed_json())
        url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            create_account(session, name="b", role=Role.BRAND, now=now, brand_id="acme")
            token = issue_token(session, "b", pepper=PEPPER.encode(), now=now)
        engine.dispose()
        port = free_port()
        env = {
            **os.environ, "SEALTRACE_ENVIRONMENT": "test", "SEALTRACE_DATABASE_URL": url,
            "SEALTRACE_TOKEN_PEPPER": PEPPER, "SEALTRACE_TRUST_LIST": str(tmp / "trust.json"),
            "SEALTRACE_REGISTRY_PUBLIC_KEY": str(tmp / "registry.pub.pem"),
        }  # fmt: skip
        command = [sys.executable, "-m", "sealtrace", "serve", "--port", str(port),
                   "--no-migrate", "--log-level", "warning"]  # fmt: skip
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base)
            auth = {"Authorization": f"Bearer {token}"}
            serials = [f"B{i:08d}" for i in range(args.count + args.sequential)]
            for start in range(0, len(serials), 10_000):
                body = {
                    "batch_id": f"bench-{start}", "gtin": GTIN,
                    "key_id": h.certificate.key_id, "serials": serials[start : start + 10_000],
                }  # fmt: skip
                httpx.post(f"{base}/v1/registrations", json=body, headers=auth, timeout=300)
            bulk = serials[: args.count]
            (tmp / "units.txt").write_text("".join(f"{GTIN},{s}\n" for s in bulk))
            cli = [sys.executable, "-m", "sealtrace", "brand", "status", "--file",
                   str(tmp / "units.txt"), "--status", "sold"]  # fmt: skip
            cli_env = {**os.environ, "SEALTRACE_URL": base, "SEALTRACE_TOKEN": token}
            started = time.perf_counter()
            done = subprocess.run(cli, env=cli_env, capture_output=True, text=True, check=False)
            bulk_s = time.perf_counter() - started
            print(f"bulk: {done.stdout.strip()} in {bulk_s:.1f} s (whole command)")
            single = serials[args.count :]
            started = time.perf_counter()
            with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
                for serial in single:
                    client.post(f"/v1/codes/{GTIN}/{serial}/status", json={"status": "sold"})
            seq_s = time.perf_counter() - started
            per_unit = seq_s / len(single)
            print(
                f"sequential: {len(single)} single calls in {seq_s:.1f} s "
                f"({per_unit * 1000:.0f} ms a unit, {per_unit * args.count:.0f} s for "
                f"{args.count:,}); bulk is {per_unit * args.count / bulk_s:.0f}x faster"
            )
        finally:
            server.terminate()
            server.wait(timeout=15)


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not start")


if __name__ == "__main__":
    main()
