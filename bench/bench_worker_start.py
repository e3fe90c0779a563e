"""What a serving worker costs before it answers, with production keys.

Run from the repository root::

    .venv/bin/python -m bench.bench_worker_start --starts 5

A production configuration over SQLite: a log key and a bundle key encrypted at the
default work factor (scrypt N=2^17, a quarter of a second to open each), the registry key
and the trust list of the load benchmark's fixture. Each start is a fresh interpreter:

- ``import``: importing the app factory's module (``mobile_api.app``);
- ``factory``: calling it (``create_app``: settings, engines, keys, routes);
- ``first /readyz``: ``uvicorn --factory mobile_api.app:app`` (what one worker runs)
  from spawn until ``/readyz`` first answers 200, polled every 10 ms.

Each is given in wall seconds and in CPU seconds of the starting process: on a shared,
loaded machine the wall time follows the other tenants, the CPU time much less.
Medians of ``--starts`` starts, with the 1-minute load average before and after.
``--importtime`` also prints the slowest modules of ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_load import REPO, free_port, prepare

PASSPHRASE = "bench-worker-start-passphrase"  # noqa: S105  (a throwaway test key)
FACTORY = """
import json, time
started, cpu = time.perf_counter(), time.process_time()
import mobile_api.app as factory
imported, imported_cpu = time.perf_counter(), time.process_time()
factory.app()
print(json.dumps({
    "import": imported - started, "factory": time.perf_counter() - imported,
    "import_cpu": imported_cpu - cpu, "factory_cpu": time.process_time() - imported_cpu,
}))
"""


def production_env(work: Path) -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from keys.filestore import write_private_key

    url = f"sqlite:///{work / 'bench.db'}"
    env = dict(prepare(work, url).env)
    env.pop("SEALTRACE_KEY_KDF_LOG2N", None)  # the production work factor
    for name in ("log", "bundle"):
        path = work / f"{name}.key.pem"
        write_private_key(path, Ed25519PrivateKey.generate(), PASSPHRASE.encode())
    env.update(
        SEALTRACE_ENVIRONMENT="production",
        SEALTRACE_ALLOW_SQLITE_IN_PRODUCTION="true",
        SEALTRACE_LOG_KEY=str(work / "log.key.pem"),
        SEALTRACE_LOG_KEY_PASSPHRASE=PASSPHRASE,
        SEALTRACE_MOBILE_BUNDLE_KEY=str(work / "bundle.key.pem"),
        SEALTRACE_MOBILE_BUNDLE_KEY_PASSPHRASE=PASSPHRASE,
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def factory_cost(env: dict[str, str]) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", FACTORY], env=env, cwd=REPO, check=True, capture_output=True
    ).stdout
    result: dict[str, float] = json.loads(output.splitlines()[-1])
    return result


def cpu_of(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_ready(env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, the worker's CPU seconds) from spawn to the first /readyz 200."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "mobile_api.app:app",
        "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True)
    try:
        deadline = started + 120
        while time.perf_counter() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - started, cpu_of(process.pid)
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
        raise SystemExit("the worker did not become ready")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def slowest_imports(env: dict[str, str], count: int) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the slowest top-level imports."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mobile_api.app"],
        env=env, cwd=REPO, check=True, capture_output=True, text=True,
    ).stderr  # fmt: skip
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 3:  # the app's own imports and theirs, one level
            rows.append((int(match.group(1)), match.group(3)))
    return sorted(rows, reverse=True)[:count]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
        env = production_env(Path(tmp))
        costs = [factory_cost(env) for _ in range(args.starts)]
        ready = [first_ready(env) for _ in range(args.starts)]
        slow = slowest_imports(env, 15) if args.importtime else []
    print(f"1-minute load average at the start {load:.1f}, at the end {os.getloadavg()[0]:.1f}\n")
    print(f"| step (median of {args.starts} starts) | wall s | min | max | CPU s | min | max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    steps: list[tuple[str, list[float], list[float]]] = [
        ("import mobile_api.app", [c["import"] for c in costs], [c["import_cpu"] for c in costs]),
        ("create_app()", [c["factory"] for c in costs], [c["factory_cpu"] for c in costs]),
        ("spawn to first /readyz 200", [r[0] for r in ready], [r[1] for r in ready]),
    ]
    for name, wall, cpu in steps:
        print(
            f"| {name} | {statistics.median(wall):.2f} | {min(wall):.2f} | {max(wall):.2f} "
            f"| {statistics.median(cpu):.2f} | {min(cpu):.2f} | {max(cpu):.2f} |"
        )
    for micros, module in slow:
        print(f"{micros / 1000:8.0f} ms  {module}")


if __name__ == "__main__":
    main()
