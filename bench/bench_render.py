"""Label rendering throughput: qrcode's default PNG path against issuer.render.

Run ``python -m bench.bench_render`` (``--write-docs`` also puts the results
into the "Label rendering" section of docs/performance.md). All variants render
the same realistic payloads: Digital Link URIs with random 13-character
serials and random 90-character base64url signatures, and the matching GS1
element strings for DataMatrix.
"""

from __future__ import annotations

import argparse
import base64
import io
import multiprocessing
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import qrcode
import zxingcpp
from PIL import Image

from issuer.qr import encode_qr
from issuer.render import render_png, render_svg

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EXAMPLE = (
    "https://id.sealtrace.example/01/04006381333931/10/LOT2026A/21/7KQ2M9XH4R0WT"
    "?17=271231&8030=iGIvkR9g2UCLcvaojDs9QjM6ICXqBG6fGvhhrlntENjTQiY3gP6MRW4d1rNWDQ"
    "_3w3TvpNdNsyRxH5pRt7ocP6-9BA"
)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
BEGIN = "<!-- bench_render:begin -->"
END = "<!-- bench_render:end -->"


def make_payloads(count: int, seed: int = 2026) -> tuple[list[str], list[str]]:
    """(Digital Link URIs, FNC1 element strings) for ``count`` labels."""
    rng = random.Random(seed)
    uris, element_strings = [], []
    for _ in range(count):
        serial = "".join(rng.choice(CROCKFORD) for _ in range(13))
        lot = "L" + "".join(rng.choice(CROCKFORD) for _ in range(rng.randint(2, 9)))
        expiry = f"{rng.randint(26, 30)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        signature = base64.urlsafe_b64encode(rng.randbytes(67)).decode().rstrip("=")
        uris.append(
            f"https://id.sealtrace.example/01/04006381333931/10/{lot}/21/{serial}"
            f"?17={expiry}&8030={signature}"
        )
        element_strings.append(
            f"010400638133393117{expiry}10{lot}\x1d21{serial}\x1d8030{signature}"
        )
    return uris, element_strings


def qrcode_default_png(payload: str) -> bytes:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


def our_png(payload: str) -> bytes:
    return render_png(payload)


def our_svg(payload: str) -> bytes:
    return render_svg(payload)


def our_datamatrix_png(element_string: str) -> bytes:
    return render_png(element_string, carrier="datamatrix")


def _timed_rate(render: Callable[[str], bytes], payloads: Sequence[str]) -> float:
    start = time.perf_counter()
    for payload in payloads:
        render(payload)
    return len(payloads) / (time.perf_counter() - start)


def interleaved_rates(
    variants: Sequence[tuple[str, Callable[[str], bytes], Sequence[str]]], reps: int
) -> dict[str, float]:
    """Median labels/s of each variant, the variants taking turns in every round.

    The cores are shared with other work: taking turns exposes every variant to
    the same background load, so their ratios stay meaningful when it changes.
    """
    rates: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    for _ in range(reps):
        for name, render, payloads in variants:
            rates[name].append(_timed_rate(render, payloads))
    return {name: statistics.median(values) for name, values in rates.items()}


def _render_chunk(chunk: Sequence[str]) -> tuple[int, float]:
    """Render ``chunk`` in a worker; return the count and the worker's CPU seconds."""
    start = time.process_time()
    for payload in chunk:
        render_png(payload)
    return len(chunk), time.process_time() - start


@dataclass(frozen=True)
class PoolResult:
    processes: int
    wall_rate: float  # labels per wall-clock second
    cpu_rate: float  # labels per CPU second spent in the workers


def pool_rates(payloads: Sequence[str], reps: int) -> list[PoolResult]:
    """Our PNG over a Pool of 1 and of 2 processes, taking turns; medians of ``reps``.

    Wall-clock labels/s is what a batch sees; labels per worker CPU second
    shows whether the workers slow each other down, apart from how much of
    the shared cores they were given.
    """
    chunks = [payloads[i : i + 50] for i in range(0, len(payloads), 50)]
    wall: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    with multiprocessing.Pool(1) as one, multiprocessing.Pool(2) as two:
        pools = {1: one, 2: two}
        for size, pool in pools.items():
            pool.map(_render_chunk, chunks[: size * 2], chunksize=1)  # warm every worker
        for _ in range(reps):
            for size, pool in pools.items():
                start = time.perf_counter()
                results = pool.map(_render_chunk, chunks, chunksize=1)
                elapsed = time.perf_counter() - start
                done = sum(n for n, _ in results)
                wall[size].append(done / elapsed)
                cpu[size].append(done / sum(t for _, t in results))
    return [
        PoolResult(size, statistics.median(wall[size]), statistics.median(cpu[size]))
        for size in (1, 2)
    ]


def _decoded_text(image: object, carrier: zxingcpp.BarcodeFormat) -> str | None:
    # Only the label's own symbology, as a scanner set up for it reads: with every
    # format enabled, zxing-cpp now and then also "finds" a short Codabar or ITF
    # inside a QR code's modules, beside the correctly decoded QR code.
    results = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(carrier), text_mode=zxingcpp.TextMode.Plain
    )
    return results[0].text if len(results) == 1 else None


def _svg_pixels(svg: bytes) -> npt.NDArray[np.uint8] | None:
    try:
        import pymupdf  # a dev dependency: only the SVG check needs it
    except ImportError:
        return None
    with pymupdf.open(stream=svg, filetype="svg") as document:  # type: ignore[no-untyped-call]
        pixmap = document[0].get_pixmap(dpi=300, colorspace=pymupdf.csGRAY)
        return np.frombuffer(pixmap.samples, np.uint8).reshape(pixmap.height, pixmap.width)


def decode_all(uris: Sequence[str], element_strings: Sequence[str]) -> dict[str, str]:
    """How many labels of each kind zxing-cpp decodes to exactly their payload."""
    qr, datamatrix = zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.DataMatrix
    png_ok = sum(_decoded_text(Image.open(io.BytesIO(our_png(uri))), qr) == uri for uri in uris)
    counts = {"ours PNG": f"{png_ok}/{len(uris)}"}
    svg_ok, svg_checked = 0, 0
    for uri in uris:
        pixels = _svg_pixels(our_svg(uri))
        if pixels is not None:
            svg_checked += 1
            svg_ok += _decoded_text(pixels, qr) == uri
    counts["ours SVG"] = f"{svg_ok}/{svg_checked}" if svg_checked else "not checked (no pymupdf)"
    dm_ok = 0
    for element_string in element_strings:
        image = Image.open(io.BytesIO(our_datamatrix_png(element_string)))
        results = zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormats(datamatrix), text_mode=zxingcpp.TextMode.Plain
        )
        dm_ok += [(r.text, r.symbology_identifier) for r in results] == [(element_string, "]d2")]
    counts["ours DataMatrix PNG (as ]d2)"] = f"{dm_ok}/{len(element_strings)}"
    return counts


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def write_docs(block: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = f"{head}{BEGIN}\n{block}{END}{tail}"
    else:
        text = f"{text.rstrip()}\n\n## Label rendering\n\n{BEGIN}\n{block}{END}\n"
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_render", description=__doc__)
    parser.add_argument("--labels", type=int, default=300, help="payloads per run (300)")
    parser.add_argument("--reps", type=int, default=3, help="rounds, median taken (3)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])

    uris, element_strings = make_payloads(args.labels)
    for warm in (our_png, our_svg):  # build the per-version tables before timing
        warm(uris[0])
    our_datamatrix_png(element_strings[0])

    baseline_name = "qrcode 8.2 default PNG (EC M)"
    rates = interleaved_rates(
        [
            (baseline_name, qrcode_default_png, uris),
            ("ours PNG (EC M)", our_png, uris),
            ("ours SVG (EC M)", our_svg, uris),
            ("ours GS1 DataMatrix PNG", our_datamatrix_png, element_strings),
        ],
        args.reps,
    )
    baseline = rates[baseline_name]
    rows = list(rates.items())
    load_before = os.getloadavg()[0]
    one, two = pool_rates(uris * 4, args.reps)
    decoded = decode_all(uris, element_strings)

    example = encode_qr(EXAMPLE, "M")
    side_mm = (example.size + 8) * 0.4
    lines = [
        f"Command: `python -m bench.bench_render --labels {args.labels} --reps {args.reps}`  ",
        f"Machine: {len(os.sched_getaffinity(0))} cores (`nproc`), {cpu_model()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}  ",
        f"Payloads: {args.labels} Digital Link URIs of "
        f"{min(map(len, uris))}-{max(map(len, uris))} characters (random serials and "
        "signatures); the same data as element strings for DataMatrix.",
        "",
        "| variant | labels/s (median) | ours / qrcode |",
        "|---|---:|---:|",
    ]
    for name, rate in rows:
        lines.append(f"| {name} | {rate:,.0f} | {rate / baseline:.1f}x |")
    lines += [
        "",
        f"| ours PNG, multiprocessing Pool ({len(uris) * 4} labels) | labels/s (wall) "
        "| labels per worker CPU second |",
        "|---|---:|---:|",
        f"| 1 process | {one.wall_rate:,.0f} | {one.cpu_rate:,.0f} |",
        f"| 2 processes | {two.wall_rate:,.0f} | {two.cpu_rate:,.0f} |",
        f"| scaling 2 vs 1 | {two.wall_rate / one.wall_rate:.2f}x | "
        f"{two.cpu_rate / one.cpu_rate:.2f}x per process |",
        "",
        f"1-minute load average when the pool runs started: {load_before:.1f} "
        f"(on {len(os.sched_getaffinity(0))} cores shared with other work).",
        "",
        "Decoded exactly by zxing-cpp, every label of the run, reading the label's own "
        "symbology (SVG rasterised by PyMuPDF at 300 dpi): "
        + ", ".join(f"{name} {count}" for name, count in decoded.items())
        + ".",
        "",
        f"The example payload ({len(EXAMPLE)} characters) at EC M: version {example.version}, "
        f"{example.size} x {example.size} modules, {side_mm:.1f} mm square at 0.4 mm per module "
        "with the 4-module quiet zone.",
        "",
    ]
    block = "\n".join(lines)
    print(block)
    if args.write_docs:
        write_docs(block)
        print("written to docs/performance.md")


if __name__ == "__main__":
    main()
