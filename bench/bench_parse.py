"""How many scans per second the GS1 parsers read, in one process.

Run from the repository root::

    .venv/bin/python -m bench.bench_parse             # the label mix below
    .venv/bin/python -m bench.bench_parse --json      # one JSON line, for scripts

The input is a fixed, seeded mix of what the verifier is handed: signed
sealtrace labels as Digital Link URIs (plain and after ``]Q1``), the same
codes as bracketed element strings and as GS1 DataMatrix data (``]d2`` and
GS), and one in ten damaged (wrong check digit, impossible date, unknown AI).
With ``--reference DIR`` the 12,375 inputs of GS1's reference verdicts
(``DIR/gs1/reference-verdicts.jsonl``) are timed as well. Each set is parsed
whole ``--rounds`` times; the median round is reported as inputs per second
(CPU time). Only ``authn.scan.parse_scan`` and the three parsers are called,
APIs that earlier releases have too, so the same file times an older
checkout (put its ``authn`` first on ``sys.path``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authn.code import ProductCode
from authn.digital_link import format_digital_link, parse_digital_link
from authn.element_string import format_fnc1, parse_bracketed, parse_element_string
from authn.errors import SealtraceError
from authn.gs1 import check_digit
from authn.scan import parse_scan
from authn.signing import sign_code

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GS = "\x1d"


def label_mix(count: int, seed: int = 7) -> list[str]:
    """``count`` scans as a verifier sees them; deterministic for a seed."""
    rng = random.Random(seed)
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench_parse").digest())
    texts: list[str] = []
    while len(texts) < count:
        body = "40063813" + "".join(rng.choice("0123456789") for _ in range(5))
        code = ProductCode(
            gtin=body + check_digit(body),
            serial="".join(rng.choice(CROCKFORD) for _ in range(13)),
            lot="L" + "".join(rng.choice(CROCKFORD) for _ in range(7)),
            expiry=f"{rng.randint(26, 35)}{rng.randint(1, 12):02d}{rng.randint(0, 28):02d}",
        )
        ais = sign_code(code, key).ais()
        uri = format_digital_link(ais, base="https://id.sealtrace.example")
        bracketed = "".join(f"({ai}){value}" for ai, value in ais)
        kind = rng.random()
        if kind < 0.35:
            text = uri
        elif kind < 0.5:
            text = "]Q1" + uri
        elif kind < 0.7:
            text = bracketed
        elif kind < 0.9:
            text = "]d2" + format_fnc1(ais)
        elif kind < 0.94:
            text = uri.replace(code.gtin, code.gtin[:-1] + str((int(code.gtin[-1]) + 1) % 10))
        elif kind < 0.97:
            text = bracketed.replace(f"(17){code.expiry}", "(17)251332")
        else:
            text = bracketed + "(9999)X"
        texts.append(text)
    return texts


def _reference(path: Path) -> list[Callable[[], object]]:
    parsers: dict[str, Callable[[str], object]] = {
        "fnc1": lambda t: parse_element_string(t.replace("^", GS)),
        "bracketed": parse_bracketed,
        "dl": parse_digital_link,
    }
    calls: list[Callable[[], object]] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            parse, text = parsers[record["syntax"]], record["input"]
            calls.append(functools.partial(parse, text))
    return calls


def _round(calls: list[Callable[[], object]]) -> float:
    started = time.process_time()
    for call in calls:
        with contextlib.suppress(SealtraceError):
            call()
    return time.process_time() - started


def per_second(calls: list[Callable[[], object]], rounds: int) -> float:
    _round(calls)  # warm caches and the import of every module
    return len(calls) / statistics.median(_round(calls) for _ in range(rounds))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="scans in the label mix")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reference", type=Path, help="the shared reference data folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    mix = label_mix(args.count)
    scans: list[Callable[[], object]] = [functools.partial(parse_scan, t) for t in mix]
    results = {"label_mix_per_s": per_second(scans, args.rounds)}
    verdicts = args.reference / "gs1" / "reference-verdicts.jsonl" if args.reference else None
    if verdicts is not None and verdicts.is_file():
        results["reference_per_s"] = per_second(_reference(verdicts), args.rounds)
    results["load_average_1min"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(results))
        return
    print(f"label mix ({len(mix)} scans): {results['label_mix_per_s']:,.0f} scans/s")
    if "reference_per_s" in results:
        print(f"GS1 reference inputs (12,375): {results['reference_per_s']:,.0f} inputs/s")
    print(f"load average (1 min): {results['load_average_1min']:.2f}")


if __name__ == "__main__":
    main()
