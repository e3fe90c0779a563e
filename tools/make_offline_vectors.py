"""Generate the shared offline-verification vectors and the officer app's GS1 table.

    python -m tools.make_offline_vectors           # rewrite both files
    python -m tools.make_offline_vectors --check   # fail if a committed file differs

``tests/vectors/offline-vectors.json`` holds a signed offline bundle (and a
delta) made from fixed test keys, the two public keys a handheld pins, and
cases: scanned text, the moment of the scan, and the verdict, reason codes,
brand and product line that :func:`mobile_api.offline.verify_offline` gives. The Python test and the
officer app's in-page verifier both run every case and must agree.

``mobile_api/officer_app/static/gs1-table.js`` is :data:`authn.ai_table.AI_TABLE`
and the code lists the linters check against (ISO 3166, 4217, 5218), written
as a JavaScript module, so the page parses GS1 data with the same table and
lists; ``gs1-linters.js`` implements every linter the table names. It also
holds :mod:`authn.dl_compression`'s tables (the optimisation codes, each AI's
value parts with their length-field widths, the bit width of an n-digit
number), so ``gs1-compression.js`` reads compressed Digital Links with the
same bits; the widths are computed here once, so no floating-point logarithm
runs in the page.

Ed25519 signatures are deterministic and every time is fixed, so both files
are reproducible byte for byte.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authn.ai_table import AI_TABLE, PREDEFINED_LENGTH_PREFIXES
from authn.code import ProductCode
from authn.digital_link import compress_digital_link, format_digital_link
from authn.dl_compression import (
    ENCODING_TABLE,
    OPTIMISATIONS,
    SAFE64,
    compress_ais,
    length_bits,
    value_bits,
)
from authn.element_string import format_bracketed, format_fnc1
from authn.errors import SealtraceError
from authn.gs1_dictionary import ISO3166_ALPHA2, ISO3166_NUMERIC, ISO4217_NUMERIC, ISO5218
from authn.signing import raw_public_key, sign_code
from keys.authority import BrandApplication, issue_line_certificate, register_brand, revoke
from keys.model import Contact
from keys.sample import gtin_with_prefix
from keys.trust import build_trust_list
from mobile_api.bloom import BloomFilter, keys_of
from mobile_api.bundle import (
    BundleProduct,
    FlaggedCode,
    apply_delta,
    build_delta,
    build_full,
    open_bundle,
)
from mobile_api.offline import verify_offline
from tools.make_vectors import test_key

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors" / "offline-vectors.json"
GS1_TABLE = ROOT / "mobile_api" / "officer_app" / "static" / "gs1-table.js"
RESOLVER = "https://id.sealtrace.example"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GTIN = "0" + gtin_with_prefix("9506000", "42")
OTHER_GTIN = "0" + gtin_with_prefix("9506001", "7")  # same brand, outside the narrow key
STRANGER_GTIN = "0" + gtin_with_prefix("4012345", "1")  # no brand owns it
THIRD_GTIN = "0" + gtin_with_prefix("9506000", "43")  # a product the delta removes
SALT = b"offline-vectors-salt-v1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def uri(code: ProductCode) -> str:
    return format_digital_link(code.ais(), base=RESOLVER)


def build() -> dict[str, Any]:
    registry = test_key(b"sealtrace offline vectors registry v1")
    root = test_key(b"sealtrace offline vectors acme root v1")
    bundle_key = test_key(b"sealtrace offline vectors bundle key v1")
    line = test_key(b"sealtrace offline vectors acme line v1")
    leaked = test_key(b"sealtrace offline vectors acme leaked line v1")
    narrow = test_key(b"sealtrace offline vectors acme narrow line v1")
    future = test_key(b"sealtrace offline vectors acme future line v1")
    stranger = test_key(b"sealtrace offline vectors uncertified key v1")
    acme = register_brand(
        BrandApplication(
            id="acme", name="Acme Pharma", prefixes=("9506000", "9506001"),
            root_key=root.public_key(),
            contact=Contact(email="security@acme.example", phone="+33 1 23 45 67 89",
                            url="https://acme.example/report"),
        ),
        registered_by="registry", at=NOW - timedelta(days=30),
    )  # fmt: skip

    def certify(
        key: Ed25519PrivateKey, name: str, prefixes: tuple[str, ...], start: datetime
    ) -> Any:
        return issue_line_certificate(
            root, acme, key.public_key(), name=name, prefixes=prefixes, not_before=start,
            not_after=NOW + timedelta(days=365), issued_at=NOW - timedelta(days=30),
        )  # fmt: skip

    month_ago = NOW - timedelta(days=30)
    certs = [
        certify(line, "line-1", acme.prefixes, month_ago),
        certify(leaked, "line-leaked", acme.prefixes, month_ago),
        certify(narrow, "line-narrow", ("9506000",), month_ago),
        certify(future, "line-next-year", acme.prefixes, NOW + timedelta(days=10)),
    ]
    revocation = revoke(
        certs[1], compromised_since=NOW - timedelta(days=2), revoked_at=NOW - timedelta(days=1),
        reason="key copied from a line PC",
    )  # fmt: skip
    trust = build_trust_list(
        registry, version=3, issued_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=60), brands=[acme], line_keys=certs,
        revocations=[revocation],
    )  # fmt: skip

    def code(serial: str, key: Ed25519PrivateKey = line, **fields: Any) -> ProductCode:
        return sign_code(ProductCode(gtin=fields.pop("gtin", GTIN), serial=serial, **fields), key)

    decommissioned = [(GTIN, "SOLD0001"), (GTIN, "DESTROYED01")]
    delta_decommissioned = [(GTIN, "STOLEN0001")]
    bloom = BloomFilter.empty(1024, 10_000, SALT)
    bloom.add_keys(keys_of(SALT, decommissioned))
    expires = NOW + timedelta(days=3)
    full = build_full(
        bundle_key, version="3.100.1024", generated_at=NOW - timedelta(hours=1),
        expires_at=expires, trust_list=trust.to_signed_json(),
        recalled_lots=[(GTIN, "LOT-RECALLED")], decommissioned=bloom,
        flagged={
            (GTIN, "FLAGGED0001"): FlaggedCode("2026-02-27T08:00:00Z", ("CONCURRENT_SCANS",)),
            (GTIN, "FLAGGED0002"): FlaggedCode("2026-02-28T09:30:00Z", ("IMPOSSIBLE_TRAVEL",)),
        },
        products={
            GTIN: BundleProduct("acme", "Paracetamol 500 mg tablets", "500 mg", "20 tablets"),
            THIRD_GTIN: BundleProduct("acme", "Ibuprofen gel"),
            # Stored for another brand (a prefix since moved): acme's codes must not show it.
            OTHER_GTIN: BundleProduct("bravo", "Bravo cough syrup", None, "150 ml"),
        },
    )  # fmt: skip
    delta = build_delta(
        bundle_key, version="3.120.1024", base_version="3.100.1024",
        generated_at=NOW, expires_at=expires + timedelta(hours=1),
        trust_list=trust.to_signed_json(), recalled_lots=[(GTIN, "LOT-RECALLED"), (GTIN, "LOT-7")],
        filter_id=bloom.filter_id, added_keys=[keys_of(SALT, delta_decommissioned)],
        flagged_added={
            (GTIN, "FLAGGED0003"): FlaggedCode(
                "2026-03-01T07:00:00Z", ("IMPOSSIBLE_TRAVEL", "TOO_MANY_DEVICES")
            )
        },
        flagged_removed=[(GTIN, "FLAGGED0002")],
        products_changed={OTHER_GTIN: BundleProduct("acme", "Aspirin 100 mg tablets", "100 mg")},
        products_removed=[THIRD_GTIN],
    )  # fmt: skip
    keys = {"registry_key": registry.public_key(), "bundle_key": bundle_key.public_key()}
    held_full = open_bundle(full, now=NOW, **keys)
    held_delta = apply_delta(held_full, delta, now=NOW, **keys)

    genuine = code("GENUINE0001", lot="LOT-1", expiry="271231")
    cases: list[dict[str, Any]] = []

    def add(name: str, text: str, *, at: datetime = NOW, bundle: str = "full") -> None:
        held = held_delta if bundle == "delta" else held_full
        try:
            result = verify_offline(held, text, now=at)
        except SealtraceError:
            expected: dict[str, Any] = {
                "verdict": "invalid", "reasons": [], "brand": None, "product": None,
            }  # fmt: skip
        else:
            expected = {
                "verdict": result.verdict,
                "reasons": [reason.code for reason in result.reasons],
                "brand": result.brand,
                "product": result.product.label() if result.product is not None else None,
            }
        cases.append({"name": name, "input": text, "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "bundle": bundle, **expected})  # fmt: skip

    tampered = ProductCode(gtin=GTIN, serial="GENUINE0002", lot="LOT-1", expiry="271231")
    wrong_check = GTIN[:-1] + str((int(GTIN[-1]) + 1) % 10)
    add("genuine_digital_link", uri(genuine))
    add("genuine_aim_q1_digital_link", "]Q1" + uri(genuine))
    add("genuine_gs1_datamatrix_aim_d2", "]d2" + format_fnc1(genuine.ais()) + "\r\n")
    add("genuine_leading_gs", "\x1d" + format_fnc1(genuine.ais()))
    add("genuine_bracketed", format_bracketed(genuine.ais()))
    add("genuine_http_uppercase_host", uri(genuine).replace("https://id.", "http://ID."))
    add("genuine_no_lot_no_expiry", uri(code("GENUINE0003")))
    add("genuine_other_prefix_of_brand", uri(code("GENUINE0004", gtin=OTHER_GTIN)))
    add("genuine_gtin13_in_uri", uri(code("GENUINE0005")).replace("/01/0", "/01/"))
    add("forged_serial_changed", uri(tampered.with_signature(genuine.signature or "")))
    add("forged_lot_dropped", uri(genuine).replace("/10/LOT-1", ""))
    add("forged_uncertified_key", uri(code("FORGED0001", stranger)))
    add("forged_unsigned_enrolled_brand", uri(genuine.unsigned()))
    add("unsigned_unknown_brand", uri(ProductCode(gtin=STRANGER_GTIN, serial="X1")))
    sig = genuine.signature or ""
    add("forged_signature_truncated", uri(genuine).replace(sig, sig[:-2] + "A"))
    flipped = sig[:40] + ("A" if sig[40] != "A" else "B") + sig[41:]
    add("forged_signature_bit_flipped", uri(genuine).replace(sig, flipped))
    add("revoked_key", uri(code("LEAKED0001", leaked)))
    add("gtin_outside_key_prefixes", uri(code("NARROW0001", narrow, gtin=OTHER_GTIN)))
    add("within_narrow_key_prefixes", uri(code("NARROW0002", narrow)))
    add("before_key_window", uri(code("FUTURE0001", future)))
    add("decommissioned_sold", uri(code("SOLD0001")))
    add("decommissioned_destroyed_fnc1", "]d2" + format_fnc1(code("DESTROYED01").ais()))
    add("recalled_lot", uri(code("RECALL0001", lot="LOT-RECALLED")))
    add("expired_product", uri(code("EXPIRED0001", expiry="260131")))
    add("expiry_day_00_not_yet", uri(code("EXPIRED0002", expiry="260300")))
    add("recalled_and_expired", uri(code("RECALL0002", lot="LOT-RECALLED", expiry="251100")))
    add("bundle_stale", uri(genuine), at=expires + timedelta(seconds=1))
    add("bundle_stale_forged_still_forged", uri(genuine.unsigned()), at=expires + timedelta(hours=1))  # fmt: skip  # noqa: E501
    add("trust_list_stale", uri(genuine), at=NOW + timedelta(days=61))
    add("delta_decommissioned_stolen", uri(code("STOLEN0001")), bundle="delta")
    add("delta_new_recalled_lot", uri(code("LOT70001", lot="LOT-7")), bundle="delta")
    add("delta_extends_validity", uri(genuine), at=expires + timedelta(minutes=30), bundle="delta")
    add("delta_keeps_old_decommissioned", uri(code("SOLD0001")), bundle="delta")
    add("flagged_clone", uri(code("FLAGGED0001")))
    add("flagged_second_code", uri(code("FLAGGED0002")))
    add("delta_flag_added", uri(code("FLAGGED0003")), bundle="delta")
    add("delta_flag_removed", uri(code("FLAGGED0002")), bundle="delta")
    add("delta_flag_kept", uri(code("FLAGGED0001")), bundle="delta")
    # Product data: named only for codes the trust list vouches for, of the product's brand.
    add("product_named", uri(code("PRODUCT0001")))
    add("product_name_only", uri(code("PRODUCT0002", gtin=THIRD_GTIN)))
    add("product_forged_uncertified_key_gtin_only", uri(code("PRODUCT0003", stranger)))
    add("product_forged_unsigned_gtin_only", uri(ProductCode(gtin=GTIN, serial="PRODUCT0004")))
    add("product_forged_serial_changed_gtin_only",
        uri(ProductCode(gtin=GTIN, serial="PRODUCT0005").with_signature(sig)))  # fmt: skip
    add("product_revoked_key_not_named", uri(code("PRODUCT0006", leaked)))
    add("product_of_another_brand_not_named", uri(code("PRODUCT0007", gtin=OTHER_GTIN)))
    add("delta_product_changed", uri(code("PRODUCT0008", gtin=OTHER_GTIN)), bundle="delta")
    add("delta_product_removed", uri(code("PRODUCT0009", gtin=THIRD_GTIN)), bundle="delta")
    add("delta_product_kept", uri(code("PRODUCT0010")), bundle="delta")
    add("invalid_not_gs1", "hello world")
    add("invalid_empty", "   ")
    add("invalid_gtin_check_digit", uri(genuine).replace(GTIN, wrong_check))
    add("invalid_unknown_aim_prefix", "]E0" + format_fnc1(genuine.ais()))
    add("invalid_no_serial", f"{RESOLVER}/01/{GTIN}")
    add("invalid_qualifiers_out_of_order", f"{RESOLVER}/01/{GTIN}/21/A1/10/L1")
    add("invalid_control_character", uri(genuine) + "\x07")
    add("invalid_missing_separator", "]d2" + format_fnc1(genuine.ais()).replace("\x1d", ""))
    add("invalid_bad_expiry_month", f"(01){GTIN}(17)261301(21)A1")
    add("invalid_unknown_ai_in_path", f"{RESOLVER}/01/{GTIN}/21/A1/999/X")

    # Compressed Digital Links (authn/dl_compression.py): the page decompresses them
    # with its own reader and must reach the verdict the uncompressed form gets.
    def packed(signed: ProductCode, *, optimise: bool = True) -> str:
        return compress_digital_link(signed.ais(), base=RESOLVER, optimise=optimise)

    def partly(signed: ProductCode) -> str:
        rest = [(ai, value) for ai, value in signed.ais() if ai != "01"]
        return f"{RESOLVER}/01/{signed.gtin}/{compress_ais(rest)}"

    def raw(ais: list[tuple[str, str]]) -> str:  # compressed as given, not validated
        return f"{RESOLVER}/{compress_ais(ais)}"

    def bits(stream: str) -> str:  # a Digital Link of hand-made compressed bits
        stream += "0" * (-len(stream) % 6)
        return f"{RESOLVER}/" + "".join(
            SAFE64[int(stream[i : i + 6], 2)] for i in range(0, len(stream), 6)
        )

    gtin_bits = "00000001" + format(int(GTIN), "b").zfill(47)  # (01) and its 14 digits
    too_big = "00000001" + format(10**14, "b").zfill(47)  # (01) and a 15-digit number
    add("compressed_genuine", packed(genuine))
    add("compressed_genuine_unoptimised", packed(genuine, optimise=False))
    add("compressed_genuine_aim_q1", "]Q1" + packed(genuine))
    link_type = [("linkType", "gs1:pip")]
    add("compressed_genuine_with_link_type",
        compress_digital_link(genuine.ais(), base=RESOLVER, other_params=link_type))  # fmt: skip
    add("compressed_genuine_query_kept", packed(genuine) + "?linkType=gs1%3Apip")
    add("compressed_genuine_resolver_path",
        compress_digital_link(genuine.ais(), base=RESOLVER + "/r/x"))  # fmt: skip
    add("partly_compressed_genuine", partly(genuine))
    add("partly_compressed_no_lot_no_expiry", partly(code("GENUINE0006")))
    add("compressed_forged_serial_changed", packed(tampered.with_signature(sig)))
    add("compressed_forged_uncertified_key", packed(code("FORGED0002", stranger)))
    add("compressed_forged_signature_bit_flipped", packed(genuine.with_signature(flipped)))
    add("compressed_revoked_key", packed(code("LEAKED0002", leaked)))
    add("compressed_decommissioned_sold", packed(code("SOLD0001")))
    add("compressed_recalled_lot", packed(code("RECALL0003", lot="LOT-RECALLED")))
    add("compressed_flagged_clone", packed(code("FLAGGED0001")))
    add("compressed_delta_decommissioned", packed(code("STOLEN0001")), bundle="delta")
    add("invalid_compressed_truncated", packed(genuine)[:-12])
    add("invalid_compressed_padding_not_zero", bits(gtin_bits + "00001"))  # 55 bits, then padding
    add("invalid_compressed_unallocated_code", bits(gtin_bits + "10110000" + "0" * 12))
    add("invalid_compressed_number_too_long", bits(too_big + "0" * 12))
    add("invalid_compressed_unknown_ai", bits(gtin_bits + "001000110000" + "0" * 60))
    add("invalid_compressed_length_exceeds", bits(gtin_bits + "0010000110011111" + "0" * 60))
    add("invalid_compressed_no_serial", raw([("01", GTIN)]))
    add("invalid_compressed_gtin_check_digit", raw([("01", wrong_check), ("21", "A1")]))
    add("invalid_compressed_control_character", raw([("01", GTIN), ("21", "A\x07")]))
    add("invalid_partly_compressed_key_twice",
        f"{RESOLVER}/01/{GTIN}/{compress_ais(genuine.ais())}")  # fmt: skip
    add("invalid_compressed_query_repeats_ai", packed(genuine) + "?17=271231")
    return {
        "about": "Offline verification vectors: python -m tools.make_offline_vectors. Each case "
        "is judged with the bundle ('full', or 'delta' = full + delta) at 'at'; 'verdict' "
        "'invalid' means the input is not a product code; 'product' is the answer's \"name · "
        'strength · size" from the bundle, or null (the GTIN only).',
        "registry_key": b64url(raw_public_key(registry.public_key())),
        "bundle_key": b64url(raw_public_key(bundle_key.public_key())),
        "bundle": full.decode("utf-8"),
        "delta": delta.decode("utf-8"),
        "contact": {
            "email": "security@acme.example",
            "phone": "+33 1 23 45 67 89",
            "url": "https://acme.example/report",
        },
        "cases": cases,
    }


def gs1_table() -> str:
    table = {
        ai: [
            [
                [c.charset, c.min_length, c.max_length, c.optional, list(c.linters)]
                for c in spec.components
            ],
            spec.predefined_length,
            spec.dl_attribute,
            None if spec.dl_qualifiers is None else [list(q) for q in spec.dl_qualifiers],
            [[list(alt) for alt in req] for req in spec.requires],
            list(spec.excludes),
        ]
        for ai, spec in sorted(AI_TABLE.items())
    }
    code_lists = {
        "iso3166": sorted(ISO3166_NUMERIC),
        "iso3166alpha2": sorted(ISO3166_ALPHA2),
        "iso4217": sorted(ISO4217_NUMERIC),
        "iso5218": sorted(ISO5218),
    }
    # Compressed Digital Links (authn/dl_compression.py): AI -> value parts
    # [numeric, length, variable, length-field bits]; a part's number of digits -> bits.
    encoding = {
        ai: [[p.numeric, p.length, p.variable, length_bits(p.length)] for p in parts]
        for ai, parts in sorted(ENCODING_TABLE.items())
    }
    longest = max(p.length for parts in ENCODING_TABLE.values() for p in parts)
    # A numeric part and an all-digit alphanumeric one (up to its 7-bit length field).
    number_bits = [value_bits(n) for n in range(max(longest, 127) + 1)]
    lines = [
        "// Generated by python -m tools.make_offline_vectors from authn/ai_table.py: do not edit.",
        "// Code lists the linters check against (authn/gs1_dictionary.py).",
        "export const CODE_LISTS = "
        + json.dumps(code_lists, sort_keys=True, separators=(",", ":"))
        + ";",
        "// AI -> [components [charset, min, max, optional, linters], predefined length,",
        "//        Digital Link attribute, Digital Link qualifier sequences, requires, excludes]",
        "export const PREDEFINED = "
        + json.dumps(dict(PREDEFINED_LENGTH_PREFIXES), sort_keys=True, separators=(",", ":"))
        + ";",
        "export const AI_TABLE = {",
        *(f'  "{ai}": {json.dumps(entry, separators=(",", ":"))},' for ai, entry in table.items()),
        "};",
        "// Compressed Digital Links (authn/dl_compression.py): optimisation code -> AIs;",
        "// AI -> value parts [numeric, length (the maximum if variable), variable,",
        "//        length-field bits]; digits -> bits of a number written in binary.",
        "export const DL_OPTIMISATIONS = "
        + json.dumps({k: list(v) for k, v in OPTIMISATIONS.items()}, separators=(",", ":"))
        + ";",
        "export const DL_NUMBER_BITS = " + json.dumps(number_bits, separators=(",", ":")) + ";",
        "export const DL_ENCODING = {",
        *(
            f'  "{ai}": {json.dumps(parts, separators=(",", ":"))},'
            for ai, parts in encoding.items()
        ),
        "};",
        "",
    ]
    return "\n".join(lines)


def _outputs() -> list[tuple[Path, Callable[[], str]]]:
    return [
        (VECTORS, lambda: json.dumps(build(), indent=1, ensure_ascii=False) + "\n"),
        (GS1_TABLE, gs1_table),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs")
    args = parser.parse_args(argv)
    failed = False
    for path, render in _outputs():
        text = render()
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path.relative_to(ROOT)} is out of date: "
                      "run python -m tools.make_offline_vectors", file=sys.stderr)  # fmt: skip
                failed = True
            else:
                print(f"{path.relative_to(ROOT)}: up to date")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
