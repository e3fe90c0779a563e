"""Issue a batch per label format with `sealtrace issue` and decode every label.

    python -m bench.bench_decode_all [--count 10000]

Each format (PNG QR, PNG GS1 DataMatrix, SVG QR, PDF sheets) is issued by the
real CLI in a subprocess, then every label is read back with zxing-cpp,
restricted to the label's own symbology as a scanner is, and compared with
the manifest: the URI for QR, the parsed AIs for DataMatrix (zxing-cpp reports
GS1 data in bracketed form).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymupdf
import zxingcpp
from PIL import Image

from authn.element_string import parse_element_string
from authn.scan import parse_scan
from keys.filestore import generate_key_files

FORMATS = (("png", "qr"), ("png", "datamatrix"), ("svg", "qr"), ("pdf", "qr"))
PASSPHRASE = "bench decode-all passphrase"  # noqa: S105 - a throwaway key for this run


def read(image: Image.Image, carrier: str) -> set[str]:
    """What a scanner of this symbology reads (other symbologies' false reads are ignored)."""
    wanted = zxingcpp.BarcodeFormat.QRCode if carrier == "qr" else zxingcpp.BarcodeFormat.DataMatrix
    return {r.text for r in zxingcpp.read_barcodes(image) if r.format == wanted}


def pixmap_image(pix: pymupdf.Pixmap) -> Image.Image:
    return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)


def matches(row: dict[str, str], carrier: str, texts: set[str]) -> bool:
    if carrier == "qr":
        return row["digital_link"] in texts
    wanted = parse_element_string(row["element_string"])
    return any(parse_scan(text).ais == wanted for text in texts)


def issue(root: Path, key: Path, fmt: str, carrier: str, count: int) -> tuple[Path, float]:
    out = root / f"{fmt}-{carrier}"
    env = {
        **os.environ,
        "SEALTRACE_KEY_PASSPHRASE": PASSPHRASE,
        "SEALTRACE_SERIAL_REGISTRY": str(root / "serials.sqlite"),
    }
    command = [
        sys.executable, "-m", "sealtrace", "issue", "--gtin", "4006381333931",
        "--count", str(count), "--lot", "L1", "--expiry", "281231", "--key", str(key),
        "--out", str(out), "--format", fmt, "--carrier", carrier, "--uncertified",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"sealtrace issue failed: {done.stderr[-2000:]}")
    return out, time.perf_counter() - started


def decoded(out: Path, fmt: str, carrier: str, rows: list[dict[str, str]]) -> int:
    if fmt == "pdf":
        found: set[str] = set()
        for sheet in sorted((out / "sheets").glob("*.pdf")):
            document = pymupdf.open(sheet)  # type: ignore[no-untyped-call]
            for number in range(document.page_count):
                found |= read(pixmap_image(document[number].get_pixmap(dpi=300)), carrier)
        return sum(matches(row, carrier, found) for row in rows)
    ok = 0
    for row in rows:
        path = out / row["file"]
        if fmt == "svg":
            svg = pymupdf.open(stream=path.read_bytes(), filetype="svg")  # type: ignore[no-untyped-call]
            image = pixmap_image(svg[0].get_pixmap(dpi=200))
        else:
            image = Image.open(path)
        ok += matches(row, carrier, read(image, carrier))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_decode_all", description=__doc__)
    parser.add_argument("--count", type=int, default=2_000, help="codes per format (2,000)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sealtrace-decode-all-"))
    key = generate_key_files(root / "keys", PASSPHRASE.encode()).private_path
    print("| format | carrier | issued | issue time | decoded exactly | decode time |")
    print("|---|---|---:|---:|---:|---:|")
    for fmt, carrier in FORMATS:
        out, seconds = issue(root, key, fmt, carrier, args.count)
        with (out / "manifest.csv").open(newline="") as manifest:
            rows = list(csv.DictReader(manifest))
        started = time.perf_counter()
        ok = decoded(out, fmt, carrier, rows)
        spent = time.perf_counter() - started
        print(f"| {fmt} | {carrier} | {len(rows):,} | {seconds:.1f} s | {ok:,}/{len(rows):,} | "
              f"{spent:.0f} s |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
