"""The officer app: what it downloads, and how fast it verifies in the page.

Run ``python -m bench.bench_officer_app`` (``--codes 100000 1000000``, ``--runs``).
It reports

- the app shell (pages, scripts, GS1 table, icons) and the vendored decoder
  (zxing-cpp WebAssembly), raw and gzip-compressed;
- the signed offline bundle for each number of decommissioned codes, sized as the
  service sizes it (capacity a power of two from 65 536, at least 1.25 x the
  count, 1 % false positives), raw and gzip-compressed;
- in Debian's headless chromium: the time to verify and open that bundle in the
  page (signatures, trust list, filter), and the median time per code (batches of 50) of
  ``verifyOffline`` (WebCrypto Ed25519 + SHA-256 + filter probes) on a genuine
  and on a decommissioned code.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import shutil
import threading
from pathlib import Path
from typing import Any

from keys.canonical import canonical_json, parse_json, parse_time, sign_envelope
from mobile_api.bloom import BloomFilter, keys_of
from mobile_api.bundle import BUNDLE_TAG
from tools.make_offline_vectors import GTIN, VECTORS
from tools.make_vectors import test_key

STATIC = Path(__file__).resolve().parents[1] / "mobile_api" / "officer_app" / "static"
MIN_CAPACITY = 65_536
CHUNK = 500_000

TIME_IN_PAGE = """async ([bundle, keys, codes, runs]) => {
  const v = await import("/officer/static/verify.js");
  const pinned = {registryKey: v.b64urlDecode(keys[0]), bundleKey: v.b64urlDecode(keys[1])};
  const t0 = performance.now();
  const held = await v.openBundle(bundle, pinned);
  const open = performance.now() - t0;
  const perCode = {};
  // Batches of 50 codes: the page's timer is coarse (0.1 ms), one code is not.
  for (const [name, text, at] of codes) {
    const batches = [];
    let verdict = null;
    for (let b = 0; b < runs; b++) {
      const start = performance.now();
      for (let i = 0; i < 50; i++) verdict = (await v.verifyOffline(held, text, at)).verdict;
      batches.push((performance.now() - start) / 50);
    }
    batches.sort((a, b) => a - b);
    perCode[name] = {median: batches[Math.floor(batches.length / 2)], verdict};
  }
  return {open, perCode};
}"""


def _sizes(paths: list[Path]) -> tuple[int, int]:
    raw = sum(p.stat().st_size for p in paths)
    packed = sum(len(gzip.compress(p.read_bytes(), 6)) for p in paths)
    return raw, packed


def capacity_for(count: int) -> int:
    capacity = MIN_CAPACITY
    while capacity < count * 5 // 4:
        capacity *= 2
    return capacity


def bundle_with(codes: int, decommissioned_serial: str) -> bytes:
    """The vectors' bundle (same trust list and keys) with a filter of ``codes`` codes."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    signed = parse_json(vectors["bundle"].encode(), "bundle")["signed"]
    salt = b"bench-salt"
    bloom = BloomFilter.empty(capacity_for(codes), 10_000, salt)
    bloom.add_keys(keys_of(salt, [(GTIN, decommissioned_serial)]))
    for start in range(0, codes - 1, CHUNK):
        serials = ((GTIN, f"S{n:012d}") for n in range(start, min(codes - 1, start + CHUNK)))
        bloom.add_keys(keys_of(salt, serials))
    signed["decommissioned"] = dict(bloom.to_json())
    key = test_key(b"sealtrace offline vectors bundle key v1")
    return canonical_json(sign_envelope(signed, BUNDLE_TAG, [key]))


class _Static(http.server.SimpleHTTPRequestHandler):
    """The app's static folder under /officer/static/, as the service serves it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(STATIC), **kwargs)

    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/officer/static"))

    def log_message(self, format: str, *args: Any) -> None:
        return


def _serve() -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Static)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def in_page(bundles: dict[int, bytes], runs: int) -> dict[int, dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    genuine = next(c for c in vectors["cases"] if c["name"] == "genuine_digital_link")
    sold = next(c for c in vectors["cases"] if c["name"] == "decommissioned_sold")
    at = parse_time(genuine["at"], "at").timestamp() * 1000
    codes = [["genuine", genuine["input"], at], ["decommissioned", sold["input"], at]]
    keys = [vectors["registry_key"], vectors["bundle_key"]]
    server, base = _serve()
    results: dict[int, dict[str, Any]] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu"],
            )
            page = browser.new_page()
            page.goto(base + "/officer/static/help.html")
            for count, data in bundles.items():
                results[count] = page.evaluate(TIME_IN_PAGE, [data.decode(), keys, codes, runs])
            browser.close()
    finally:
        server.shutdown()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=21, help="batches of 50 codes")
    args = parser.parse_args(argv)
    vendor = STATIC / "vendor" / "zxing"
    shell = [p for p in STATIC.iterdir() if p.is_file()]
    decoder = [p for p in vendor.rglob("*") if p.is_file() and p.name not in (".built", "LICENSE")]
    raw, packed = _sizes(shell)
    print("| part | files | raw | gzip |\n|---|---:|---:|---:|")
    print(f"| app shell | {len(shell)} | {raw / 1e3:.0f} kB | {packed / 1e3:.0f} kB |")
    if decoder:
        raw, packed = _sizes(decoder)
        sizes = f"{raw / 1e3:.0f} kB | {packed / 1e3:.0f} kB"
        print(f"| decoder (zxing-wasm) | {len(decoder)} | {sizes} |")
    bundles = {count: bundle_with(count, "SOLD0001") for count in args.codes}
    timings = in_page(bundles, args.runs)
    print("\n| codes | capacity | bundle | gzip | open in page | verify: genuine "
          "| verify: decommissioned |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for count, data in bundles.items():
        t = timings[count]
        genuine, sold = t["perCode"]["genuine"], t["perCode"]["decommissioned"]
        assert (genuine["verdict"], sold["verdict"]) == ("authentic", "suspect")
        print(
            f"| {count:,} | {capacity_for(count):,} | {len(data) / 1e6:.2f} MB "
            f"| {len(gzip.compress(data, 6)) / 1e6:.2f} MB | {t['open']:.0f} ms "
            f"| {genuine['median']:.2f} ms | {sold['median']:.2f} ms |",
            flush=True,
        )


if __name__ == "__main__":
    main()
