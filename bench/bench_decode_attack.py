"""Verify latency during the photo-decode attack, measured from a separate client process.

Run from the repository root::

    .venv/bin/python -m bench.bench_decode_attack

One ``sealtrace serve`` worker over SQLite (the load benchmark's fixture). A client
in its own process sends ``POST /v1/verify`` one after another (a registered code,
with a location) for a fixed time: first idle, then while this process keeps 8
uploads of a 6300x6300 RGBA PNG bomb (and then of a 3400x3400 RGB photo under both
caps) in flight to ``/v1/decode``. The three phases take turns for ``--rounds`` rounds
of ``--seconds`` each, so that a shared machine's drifting load falls on all of them
alike; each phase's figures pool its rounds. The client never shares a process or a
GIL with the uploads, so its figures are the server's. Ratios are to the idle phase.
Each phase also reports the CPU seconds the serving process used, and those of its
child processes (where photos are decoded, at a lower priority).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import struct
import tempfile
import threading
import time
import zlib
from collections import Counter
from pathlib import Path

import httpx

from bench.bench_load import PARIS, prepare, register, start_server, stop_server


def flat_png(width: int, height: int, *, rgba: bool) -> bytes:
    """A valid PNG of one colour, compressed row by row (never held as pixels here)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if rgba else 2, 0, 0, 0)
    row = b"\0" + b"\x80" * (width * (4 if rgba else 3))
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def client(base: str, code: str, seconds: float, out: multiprocessing.Queue[list[float]]) -> None:
    latencies = []
    end = time.perf_counter() + seconds
    with httpx.Client(base_url=base, timeout=60) as http:
        while time.perf_counter() < end:
            started = time.perf_counter()
            http.post("/v1/verify", json={"code": code, "location": PARIS}).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    out.put(latencies)


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(the server process's own CPU seconds, its child processes' CPU seconds) so far: the
    children are the photo decode processes, alive (their own counters) or reaped (the
    parent's cutime and cstime)."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(of: int) -> list[str]:
        return Path(f"/proc/{of}/stat").read_text().rsplit(")", 1)[1].split()

    own = fields(pid)
    children = (int(own[13]) + int(own[14])) / tick
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                stat = fields(int(child))
            except FileNotFoundError:
                continue
            children += (int(stat[11]) + int(stat[12])) / tick
    return (int(own[11]) + int(own[12])) / tick, children


def phase(
    base: str, code: str, seconds: float, photo: bytes | None
) -> tuple[list[float], dict[int, int]]:
    stop = threading.Event()
    statuses: dict[int, int] = {}

    def attacker() -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            while not stop.is_set():
                status = http.post(
                    "/v1/decode", content=photo, headers={"Content-Type": "image/png"}
                ).status_code
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=attacker) for _ in range(8 if photo else 0)]
    for thread in threads:
        thread.start()
    spawn = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[float]] = spawn.Queue()
    process = spawn.Process(target=client, args=(base, code, seconds, queue))
    process.start()
    latencies = queue.get()
    process.join()
    stop.set()
    for thread in threads:
        thread.join()
    return latencies, statuses


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="one phase of one round")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    bomb, heavy = flat_png(6300, 6300, rgba=True), flat_png(3400, 3400, rgba=False)
    with tempfile.TemporaryDirectory(prefix="sealtrace-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        fixture = prepare(Path(tmp), url)
        process, base, _ = start_server(fixture, url, 1)
        try:
            register(base, fixture)
            phases = (("idle", None), ("8 bombs in flight", bomb), ("8 heavy photos", heavy))
            latencies: dict[str, list[float]] = {name: [] for name, _ in phases}
            statuses: dict[str, Counter[int]] = {name: Counter() for name, _ in phases}
            cpu: dict[str, list[float]] = {name: [0.0, 0.0] for name, _ in phases}
            # Short phases in turn, several rounds: the shared machine's load drifts over a
            # run, and every phase then sees about the same load.
            for _ in range(args.rounds):
                for name, photo in phases:
                    before = cpu_seconds(process.pid)
                    times, answers = phase(base, fixture.codes[-1], args.seconds, photo)
                    after = cpu_seconds(process.pid)
                    latencies[name] += times
                    statuses[name].update(answers)
                    cpu[name][0] += after[0] - before[0]
                    cpu[name][1] += after[1] - before[1]
            rows = []
            idle: tuple[float, float] | None = None
            for name, _ in phases:
                ordered = sorted(latencies[name])
                p50, p99 = statistics.median(ordered), ordered[int(0.99 * len(ordered))]
                idle = idle or (p50, p99)
                rows.append(
                    f"| {name} | {p50:.1f} | {p99:.1f} | {p50 / idle[0]:.2f}x "
                    f"| {p99 / idle[1]:.2f}x | {len(ordered)} | {dict(statuses[name]) or '-'} "
                    f"| {cpu[name][0]:.1f} | {cpu[name][1]:.1f} |"
                )
        finally:
            stop_server(process)
    print(f"1-minute load average at the start {load:.1f}, at the end {os.getloadavg()[0]:.1f}\n")
    print(
        "| phase | verify p50 ms | p99 ms | p50 / idle | p99 / idle | verifies | upload answers "
        "| worker CPU s | decode processes' CPU s |\n|---|---:|---:|---:|---:|---:|---|---:|---:|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
