"""Benchmark of batch issuing: labels/s per format and core count, flat memory, crash and resume.

Run from the repository root::

    .venv/bin/python bench/bench_issue.py                 # the full run (several minutes)
    .venv/bin/python bench/bench_issue.py --quick         # small counts, for a smoke test

Every batch runs in a fresh child process, so its peak memory (VmHWM of the
parent process, and the largest worker's peak) is its own. Image batches are
sample-decoded with zxing-cpp. The crash scenario kills a 100,000-code batch
with SIGKILL in the middle, resumes it, and checks that the union is exactly
100,000 distinct serials, each signed. Results are printed as Markdown for
docs/performance.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GTIN = "09506000134352"
REPO = Path(__file__).resolve().parents[1]
PASSPHRASE = "bench-passphrase"  # noqa: S105 - a throwaway key made by the bench


def child(fmt: str, count: int, jobs: int, out: Path, carrier: str) -> None:
    """Issue one batch in this process and print its numbers as JSON."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from authn.signing import key_id
    from issuer.batch import build_spec, create_batch, run_batch

    key = Ed25519PrivateKey.generate()
    spec = build_spec(
        gtin=GTIN, count=count, fmt=fmt, key_spec="bench", key_id=key_id(key.public_key()),
        registry=out / "registry.sqlite", now=dt.datetime.now(dt.UTC),
        resolver="https://id.example.com", carrier=carrier, lot="LOT42", expiry="281231",
    )  # fmt: skip
    journal = create_batch(out / "batch", spec)
    started = time.perf_counter()
    run_batch(journal, key, jobs=jobs)
    seconds = time.perf_counter() - started
    journal.close()
    status = Path("/proc/self/status").read_text()
    hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    own, workers = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    cpu = own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "hwm_mb": hwm_kb / 1024,
        "worker_mb": workers.ru_maxrss / 1024,
        "load": os.getloadavg()[0],
    }
    print(json.dumps(result))


def run_child(fmt: str, count: int, jobs: int, carrier: str = "qr") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-issue-") as tmp:
        command = [
            sys.executable, __file__, "--child", fmt, str(count), str(jobs), tmp, carrier,
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
        result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
        result["decoded"] = sample_decode(Path(tmp) / "batch", fmt, carrier)
    result.update(fmt=fmt, count=count, jobs=jobs, carrier=carrier)
    result["rate"] = count / result["seconds"]
    return result


def sample_decode(batch: Path, fmt: str, carrier: str, samples: int = 20) -> str:
    """Decode a random sample of labels; 'ok n/n' or what failed."""
    if fmt in ("csv", "jsonl"):
        return "-"
    import pymupdf
    import zxingcpp
    from PIL import Image

    with (batch / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    picked = random.sample(rows, min(samples, len(rows)))
    key = "digital_link" if carrier == "qr" else "element_string"
    mode = zxingcpp.TextMode.Plain if carrier == "datamatrix" else zxingcpp.TextMode.HRI
    good = 0
    opener: Any = pymupdf.open
    for row in picked:
        file, _, page = row["file"].partition("#page=")
        path = batch / file
        if fmt == "png":
            image = Image.open(path)
        else:
            document = (
                opener(path) if fmt == "pdf" else opener(stream=path.read_bytes(), filetype="svg")
            )
            pixmap = document[int(page or 1) - 1].get_pixmap(dpi=300, colorspace=pymupdf.csGRAY)
            image = Image.open(io.BytesIO(pixmap.tobytes("png")))
        texts = {r.text for r in zxingcpp.read_barcodes(image, text_mode=mode)}
        good += row[key] in texts
    return f"ok {good}/{len(picked)}" if good == len(picked) else f"FAILED {good}/{len(picked)}"


def signing_cost(n: int = 20_000) -> tuple[float, float]:
    """(µs per sign_code, µs per raw Ed25519 signature) on one core."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from authn.code import ProductCode
    from authn.signing import sign_code

    key = Ed25519PrivateKey.generate()
    code = ProductCode(gtin=GTIN, serial="0123456789ABC", lot="LOT42", expiry="281231")
    started = time.perf_counter()
    for _ in range(n):
        sign_code(code, key)
    full = (time.perf_counter() - started) / n * 1e6
    message = b"x" * 80
    started = time.perf_counter()
    for _ in range(n):
        key.sign(message)
    raw = (time.perf_counter() - started) / n * 1e6
    return full, raw


def crash_and_resume(count: int, jobs: int) -> dict[str, Any]:
    """kill -9 a manifest batch mid-way, resume it, check the union."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from authn.code import ProductCode
    from authn.element_string import parse_element_string
    from authn.signing import check_signature
    from keys.filestore import write_private_key

    runner = (
        "import sys, typer\nfrom sealtrace.cli.issue_cmd import issue\n"
        "app = typer.Typer()\napp.command()(issue)\napp(sys.argv[1:])\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp_name:
        tmp = Path(tmp_name)
        key = Ed25519PrivateKey.generate()
        write_private_key(tmp / "k.key.pem", key, PASSPHRASE.encode())
        batch = tmp / "batch"
        env = {**os.environ, "SEALTRACE_KEY_PASSPHRASE": PASSPHRASE}
        args = [
            "--gtin", GTIN, "--count", str(count), "--key", str(tmp / "k.key.pem"),
            "--out", str(batch), "--format", "csv", "--registry", str(tmp / "reg.sqlite"),
            "--jobs", str(jobs), "--uncertified",
        ]  # fmt: skip
        process = subprocess.Popen(
            [sys.executable, "-c", runner, *args], env=env, cwd=REPO, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        done = 0
        while done < count // 3:
            time.sleep(0.01)
            try:
                with sqlite3.connect(f"file:{batch / 'journal.sqlite'}?mode=ro", uri=True) as conn:
                    done = int(
                        conn.execute("SELECT value FROM meta WHERE key='done'").fetchone()[0]
                    )
            except (sqlite3.Error, TypeError):
                continue
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        with sqlite3.connect(batch / "journal.sqlite") as conn:
            done_at_kill = int(
                conn.execute("SELECT value FROM meta WHERE key='done'").fetchone()[0]
            )
            drawn_at_kill = conn.execute("SELECT count(*) FROM serials").fetchone()[0]
        subprocess.run(
            [sys.executable, "-c", runner, "--resume", str(batch), "--uncertified"],
            env=env, cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
        with (batch / "manifest.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        public = [key.public_key()]
        signed = sum(
            check_signature(
                ProductCode.from_ais(parse_element_string(r["element_string"])), public
            ).valid
            for r in rows
        )
        return {
            "count": count,
            "done_at_kill": done_at_kill,
            "drawn_at_kill": drawn_at_kill,
            "rows": len(rows),
            "distinct": len({r["serial"] for r in rows}),
            "signed": signed,
            "marker_gone": not (batch / "BATCH-INCOMPLETE").exists(),
        }


def row(r: dict[str, Any]) -> str:
    return (
        f"| {r['fmt']} | {r['carrier']} | {r['count']:,} | {r['jobs']} | {r['seconds']:.1f} "
        f"| {r['rate']:,.0f} | {r['cpu_seconds']:.1f} | {r['hwm_mb']:.0f} | {r['worker_mb']:.0f} "
        f"| {r['load']:.1f} | {r['decoded']} |"
    )


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts (smoke test)")
    parser.add_argument("--child", nargs=5, metavar=("FMT", "N", "JOBS", "DIR", "CARRIER"))
    options = parser.parse_args()
    if options.child:
        fmt, count, jobs, out, carrier = options.child
        child(fmt, int(count), int(jobs), Path(out), carrier)
        return
    images = 500 if options.quick else 10_000
    big = 100_000 if options.quick else 1_000_000
    crash = 20_000 if options.quick else 100_000

    print(f"Machine: {machine()}; run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n")
    full, raw = signing_cost()
    print(f"Signing, one core: sign_code {full:.1f} µs/code; raw Ed25519 {raw:.1f} µs\n")

    print(
        "| format | carrier | codes | cores | wall s | labels/s | CPU s (all processes) "
        "| peak RSS parent (MB) | peak RSS worker (MB) | load avg at end | sample decode |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    runs = [("csv", 1_000, 2), ("csv", 100_000, 1), ("csv", 100_000, 2), ("csv", big, 2)]
    runs += [("csv", big, 1)]
    runs += [("jsonl", 100_000, 1), ("jsonl", 100_000, 2)]
    for fmt in ("png", "svg", "pdf"):
        runs += [(fmt, images, 1), (fmt, images, 2)]
    for fmt, count, jobs in runs:
        print(row(run_child(fmt, count, jobs)), flush=True)
    print(row(run_child("png", images // 10, 2, "datamatrix")), flush=True)
    result = crash_and_resume(crash, 2)
    print(f"\nkill -9 and resume: {json.dumps(result)}")


if __name__ == "__main__":
    main()
