"""Offline bundle size and build time for 1 M and 10 M decommissioned codes.

Run ``python -m bench.bench_bundle`` (``--sizes 1000000`` to choose, ``--fp`` in
parts per million). For each size it builds the Bloom filter as the server
does (SHA-256 key per code, vectorised probes), wraps it in a signed full
bundle with a sample trust list, and reports the filter's bits, the bundle's
bytes (JSON, base64 filter) and gzip's, the build time, and the false-positive
rate measured on 200 000 codes that are not in the filter.

``--products 1000`` instead measures what product data adds: the same filter
(``--sizes``) in a bundle with no products and with that many GTINs' name,
strength and pack size, side by side: bytes (JSON and gzip), and the median
time to build and to open (verify and parse) each bundle.
"""

from __future__ import annotations

import argparse
import gzip
import random
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.sample import gtin_with_prefix, sample_hierarchy
from mobile_api.bloom import BloomFilter, keys_of
from mobile_api.bundle import BundleProduct, build_full, open_bundle

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


FORMS = ("film-coated tablets", "oral suspension", "hard capsules", "cream", "eye drops")


SYLLABLES = ("ra", "mo", "xi", "pen", "dol", "ta", "vi", "cor", "lu", "fen", "zo", "ba", "quin")


def sample_products(count: int) -> dict[str, BundleProduct]:
    """``count`` products of one brand, with names, strengths and sizes of realistic length.

    Made-up drug names of 3 to 5 random syllables, so gzip sees about as little repetition
    as in a real catalogue (the same name with a counter would compress to almost nothing)."""
    rng = random.Random(1)
    products = {}
    for n in range(count):
        strength = f"{rng.choice((5, 10, 20, 25, 50, 100, 200, 250, 400, 500, 1000))} mg"
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 5))).title()
        name = f"{word} {strength} {rng.choice(FORMS)}"
        gtin = "0" + gtin_with_prefix("9506000", f"{n:05d}")
        size = f"{rng.choice((10, 14, 20, 28, 30, 50, 100))} {rng.choice(('tablets', 'ml', 'g'))}"
        products[gtin] = BundleProduct("acme", name, strength, size)
    return products


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_products(codes: int, count: int, repeats: int) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    hierarchy = sample_hierarchy(now)
    salt = secrets.token_bytes(8)
    bloom = BloomFilter.empty(codes, 10_000, salt)
    bloom.add_keys(keys_of(salt, ((GTIN, f"S{n:012d}") for n in range(codes))))
    signer = Ed25519PrivateKey.generate()
    products = sample_products(count)

    def build(with_products: bool) -> bytes:
        return build_full(
            signer, version="1.1.1", generated_at=now, expires_at=now + timedelta(days=3),
            trust_list=hierarchy.trust_list.to_signed_json(), recalled_lots=[],
            decommissioned=bloom, products=products if with_products else None,
        )  # fmt: skip

    print(f"{codes:,} decommissioned codes in the filter; {count:,} GTINs with products; "
          f"median of {repeats}")  # fmt: skip
    print("| bundle | JSON | gzip | build | open |")
    print("|---|---:|---:|---:|---:|")
    sizes = {}
    registry_key, bundle_key = hierarchy.registry.public_key(), signer.public_key()

    def opened(data: bytes) -> object:
        return open_bundle(data, registry_key=registry_key, bundle_key=bundle_key, now=now)

    for with_products in (False, True):
        data = build(with_products)
        zipped = len(gzip.compress(data, 6))
        sizes[with_products] = (len(data), zipped)
        built = _median_seconds(partial(build, with_products), repeats)
        open_s = _median_seconds(partial(opened, data), repeats)
        label = f"{count:,} products" if with_products else "no products"
        print(f"| {label} | {len(data) / 1e3:,.1f} kB | {zipped / 1e3:,.1f} kB "
              f"| {built * 1e3:.0f} ms | {open_s * 1e3:.0f} ms |", flush=True)  # fmt: skip
    grown, grown_zip = (sizes[True][i] - sizes[False][i] for i in (0, 1))
    print(
        f"growth: {grown / 1e3:,.1f} kB JSON ({grown / count:.0f} B per GTIN, "
        f"x{sizes[True][0] / sizes[False][0]:.2f}), {grown_zip / 1e3:,.1f} kB gzip "
        f"({grown_zip / count:.0f} B per GTIN, x{sizes[True][1] / sizes[False][1]:.2f})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--fp", type=int, nargs="+", default=[10_000, 1_000])
    parser.add_argument("--products", type=int, help="GTINs with product data (see above)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.products:
        for size in args.sizes:
            measure_products(size, args.products, args.repeats)
        return
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
