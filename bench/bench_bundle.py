"""Offline bundle size and build time for 1 M and 10 M decommissioned codes.

Run ``python -m bench.bench_bundle`` (``--sizes 1000000`` to choose, ``--fp`` in
parts per million). For each size it builds the Bloom filter as the server
does (SHA-256 key per code, vectorised probes), wraps it in a signed full
bundle with a sample trust list, and reports the filter's bits, the bundle's
bytes (JSON, base64 filter) and gzip's, the build time, and the false-positive
rate measured on 200 000 codes that are not in the filter.
"""

from __future__ import annotations

import argparse
import gzip
import secrets
import time
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.sample import gtin_with_prefix, sample_hierarchy
from mobile_api.bloom import BloomFilter, keys_of
from mobile_api.bundle import build_full

GTIN = "0" + gtin_with_prefix("9506000", "42")
CHUNK = 500_000
PROBES = 200_000


def measure(count: int, fp_per_million: int) -> dict[str, float]:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    hierarchy = sample_hierarchy(now)
    salt = secrets.token_bytes(8)
    started = time.perf_counter()
    bloom = BloomFilter.empty(count, fp_per_million, salt)
    for start in range(0, count, CHUNK):
        serials = ((GTIN, f"S{n:012d}") for n in range(start, min(count, start + CHUNK)))
        bloom.add_keys(keys_of(salt, serials))
    filter_seconds = time.perf_counter() - started
    data = build_full(
        Ed25519PrivateKey.generate(), version="1.1.1", generated_at=now,
        expires_at=now + timedelta(days=3), trust_list=hierarchy.trust_list.to_signed_json(),
        recalled_lots=[], decommissioned=bloom,
    )  # fmt: skip
    total_seconds = time.perf_counter() - started
    false_hits = sum(bloom.might_contain(GTIN, f"X{n:012d}") for n in range(PROBES))
    return {
        "codes": count,
        "filter_mb": bloom.m_bits / 8 / 1e6,
        "bundle_mb": len(data) / 1e6,
        "gzip_mb": len(gzip.compress(data, 6)) / 1e6,
        "k": bloom.k,
        "fp_measured_pct": 100 * false_hits / PROBES,
        "filter_s": filter_seconds,
        "total_s": total_seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--fp", type=int, nargs="+", default=[10_000, 1_000])
    args = parser.parse_args(argv)
    print("| codes | FP target | k | filter | bundle (JSON) | gzip | FP measured | build |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for fp in args.fp:
        for size in args.sizes:
            r = measure(size, fp)
            print(
                f"| {size:,} | {fp / 10_000:g} % | {r['k']:.0f} | {r['filter_mb']:.1f} MB "
                f"| {r['bundle_mb']:.1f} MB | {r['gzip_mb']:.1f} MB | {r['fp_measured_pct']:.2f} % "
                f"| {r['total_s']:.1f} s |",
                flush=True,
            )


if __name__ == "__main__":
    main()
