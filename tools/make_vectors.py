"""Generate tests/vectors/code-vectors.json from a fixed test key.

    python -m tools.make_vectors           # rewrite the file
    python -m tools.make_vectors --check   # fail if the committed file differs

``--check`` also checks that the generated AI table (authn/gs1_dictionary.py)
matches GS1's syntax dictionary in ../shared (tools/make_ai_table.py), and
says that it skipped that check where ../shared is absent.

Each vector is named after what it breaks, and carries the outcome every
conforming verifier must give: ``valid`` (exit 0), a signature reason code
(exit 1) or ``unusable`` (the input is not a well-formed code at all, exit 2).
Ed25519 signatures are deterministic, so the file is reproducible byte for byte.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from authn.element_string import format_bracketed, format_fnc1
from authn.signing import DOMAIN_TAG, key_id_bytes, sign_code, signed_message
from tools import make_ai_table

OUT = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "code-vectors.json"
RESOLVER = "https://id.sealtrace.example"
# Order of the Ed25519 group: adding it to S gives a second, non-canonical
# spelling of the same signature, which verifiers must refuse (malleability).
ED25519_L = 2**252 + 27742317777372353535851937790883648493


def test_key(label: bytes) -> Ed25519PrivateKey:
    """A fixed key derived from a label: for test vectors only, never for labels."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label).digest())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def uri(code: ProductCode) -> str:
    return format_digital_link(code.ais(), base=RESOLVER)


def with_char(text: str, index: int, char: str) -> str:
    return text[:index] + char + text[index + 1 :]


def build() -> dict[str, Any]:
    key = test_key(b"sealtrace test vector key v1")
    other_key = test_key(b"sealtrace test vector key v1 (another brand)")
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    full = sign_code(
        ProductCode(gtin="04006381333931", serial="7KQ2M9XH4R0WT", lot="LOT2026A", expiry="271231"),
        key,
    )
    minimal = sign_code(ProductCode(gtin="09506000134352", serial="0123456789ABC"), key)
    day00 = sign_code(
        ProductCode(gtin="09506000134352", serial="ZZ9Y8X7W6V5TS", lot="B-12/7", expiry="280200"),
        key,
    )
    sibling = sign_code(replace(full.unsigned(), serial="7KQ2M9XH4R0WV"), key)
    assert full.signature
    assert sibling.signature
    sig = full.signature
    kid, raw_sig = unb64(sig)[:3], unb64(sig)[3:]

    r = int.from_bytes(raw_sig[:32], "little")
    s = int.from_bytes(raw_sig[32:], "little")
    malleated = raw_sig[:32] + (s + ED25519_L).to_bytes(32, "little")
    assert r >= 0  # R is kept as is; only S changes

    no_domain = key.sign(signed_message(full.unsigned(), kid)[len(DOMAIN_TAG) :])
    foreign = other_key.sign(signed_message(full.unsigned(), kid))
    other_kid = key_id_bytes(other_key.public_key())
    # Same 90 characters, different trailing bits: the last character of a
    # 67-byte value carries 2 data bits and 4 padding bits that must be zero.
    last = sig[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    trailing = (
        alphabet[alphabet.index(last) | 1]
        if alphabet.index(last) % 2 == 0
        else alphabet[alphabet.index(last) - 1]
    )

    full_uri = uri(full)
    gtin13_uri = full_uri.replace("/01/04006381333931/", "/01/4006381333931/")
    vectors: list[dict[str, Any]] = []

    def add(name: str, text: str, outcome: str, why: str) -> None:
        vectors.append({"name": name, "input": text, "outcome": outcome, "why": why})

    add("valid_full", full_uri, "valid", "GTIN, lot, serial, expiry and signature as issued")
    add("valid_minimal", uri(minimal), "valid", "GTIN and serial only")
    add("valid_expiry_day_00", uri(day00), "valid", "DD=00 expiry and a lot with '-' and '/'")
    add(
        "unusable_gtin13_in_uri",
        gtin13_uri,
        "unusable",
        "GS1's current rule: a GTIN in a Digital Link path has 14 digits; the zero-suppressed"
        " GTIN-13 form is refused",
    )
    add(
        "valid_bracketed",
        format_bracketed(full.ais()),
        "valid",
        "the same code as a bracketed element string",
    )
    add(
        "valid_datamatrix_raw",
        "]d2" + format_fnc1(full.ais()),
        "valid",
        "raw GS1 DataMatrix scan with AIM prefix and GS separators",
    )
    add("valid_qr_raw", "]Q1" + full_uri, "valid", "raw QR scan of the URI with AIM prefix")

    gtin_other = "04006381333948"  # another valid GTIN (check digit recomputed)
    add(
        "tampered_gtin",
        full_uri.replace("04006381333931", gtin_other),
        "SIGNATURE_INVALID",
        "another valid GTIN under the same signature",
    )
    add(
        "tampered_gtin_check_digit",
        full_uri.replace("04006381333931", "04006381333932"),
        "unusable",
        "one GTIN digit changed, so the check digit fails before the signature is looked at",
    )
    add(
        "tampered_serial",
        full_uri.replace("7KQ2M9XH4R0WT", "7KQ2M9XH4R0WV"),
        "SIGNATURE_INVALID",
        "one serial character changed",
    )
    add(
        "tampered_lot",
        full_uri.replace("LOT2026A", "LOT2026B"),
        "SIGNATURE_INVALID",
        "one lot character changed",
    )
    add(
        "tampered_expiry",
        full_uri.replace("17=271231", "17=281231"),
        "SIGNATURE_INVALID",
        "expiry moved a year",
    )
    add(
        "lot_removed",
        full_uri.replace("/10/LOT2026A", ""),
        "SIGNATURE_INVALID",
        "the signed lot dropped",
    )
    add(
        "expiry_added",
        uri(minimal).replace("?8030=", "?17=301231&8030="),
        "SIGNATURE_INVALID",
        "an unsigned expiry added",
    )
    add(
        "signature_bit_flipped",
        full_uri.replace(sig, with_char(sig, 40, "A" if sig[40] != "A" else "B")),
        "SIGNATURE_INVALID",
        "one character of the Ed25519 signature changed",
    )
    add(
        "signature_truncated",
        full_uri.replace(sig, sig[:-1]),
        "SIGNATURE_MALFORMED",
        "89 characters instead of 90",
    )
    add("signature_missing", full_uri.split("&8030=")[0], "SIGNATURE_MISSING", "no AI 8030")
    add(
        "wrong_key_id",
        full_uri.replace(sig, b64(other_kid + raw_sig)),
        "KEY_UNKNOWN",
        "the key id names a key the verifier does not hold",
    )
    add(
        "signature_of_another_code",
        full_uri.replace(sig, sibling.signature),
        "SIGNATURE_INVALID",
        "a genuine signature copied from a sibling unit",
    )
    add(
        "signature_by_another_key_same_key_id",
        full_uri.replace(sig, b64(kid + foreign)),
        "SIGNATURE_INVALID",
        "a signature by another key that claims this key's id",
    )
    add(
        "signature_without_domain_tag",
        full_uri.replace(sig, b64(kid + no_domain)),
        "SIGNATURE_INVALID",
        "the right key over the message without the domain tag",
    )
    add(
        "noncanonical_signature_s_plus_l",
        full_uri.replace(sig, b64(kid + malleated)),
        "SIGNATURE_INVALID",
        "S + L: the same signature spelt non-canonically (malleability)",
    )
    add(
        "noncanonical_trailing_bits",
        full_uri.replace(sig, sig[:-1] + trailing),
        "SIGNATURE_MALFORMED",
        "same bytes, non-zero padding bits in the last base64url character",
    )
    add(
        "noncanonical_padding",
        full_uri.replace(sig, sig + "=="),
        "unusable",
        "base64 padding makes the value 92 characters, over AI 8030's 90",
    )
    add(
        "noncanonical_standard_base64",
        full_uri.replace(sig, sig.replace("-", "+").replace("_", "/"))
        if ("-" in sig or "_" in sig)
        else full_uri.replace(sig, "+" + sig[1:]),
        "unusable",
        "'+' and '/' are not in CSET 64 (base64url)",
    )
    add(
        "duplicate_serial_conflict",
        format_bracketed(full.ais()) + "(21)OTHER",
        "unusable",
        "AI 21 twice with different values",
    )

    return {
        "description": "sealtrace signed-code test vectors, generated by tools/make_vectors.py",
        "format": "docs/code-format.md",
        "public_key_pem": public_pem.decode("ascii"),
        "public_key_raw_hex": key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
        "key_id": b64(kid),
        "vectors": vectors,
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def _check_ai_table() -> bool:
    """The generated AI table matches GS1's dictionary; skipped (and said so) without it."""
    if not make_ai_table.dictionary_path().is_file():
        print(f"skipped the AI table check: {make_ai_table.dictionary_path()} is not there")
        return True
    return make_ai_table.check()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail if the committed vectors differ")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        table_ok = _check_ai_table()
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(
                f"{OUT.name} is out of date: run `python -m tools.make_vectors` and commit",
                file=sys.stderr,
            )
            return 1
        print(f"{OUT.name}: {len(json.loads(text)['vectors'])} vectors, up to date")
        return 0 if table_ok else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
