"""The signed code: signing, checking, and the committed test vectors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from authn.code import ProductCode
from authn.errors import GS1SyntaxError, InvalidInput, VerificationFailed
from authn.scan import parse_scan
from authn.signing import (
    DIGSIG_CHARS,
    Reason,
    canonical_element_string,
    check_signature,
    key_id,
    raw_public_key,
    sign_code,
    verify_signature,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "code-vectors.json").read_text())


def vector_key() -> Ed25519PublicKey:
    key = load_pem_public_key(VECTORS["public_key_pem"].encode())
    assert isinstance(key, Ed25519PublicKey)
    return key


def outcome_of(text: str, keys: list[Ed25519PublicKey]) -> str:
    try:
        code = ProductCode.from_ais(parse_scan(text).ais)
    except InvalidInput:
        return "unusable"
    result = check_signature(code, keys)
    return "valid" if result.valid else result.reason.value


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_committed_vector(vector: dict[str, Any]) -> None:
    assert outcome_of(vector["input"], [vector_key()]) == vector["outcome"], vector["why"]


def test_vectors_cover_every_outcome() -> None:
    outcomes = {v["outcome"] for v in VECTORS["vectors"]}
    assert outcomes == {"valid", "unusable"} | {r.value for r in Reason if r is not Reason.VALID}


def test_vector_key_id_matches_public_key() -> None:
    assert key_id(vector_key()) == VECTORS["key_id"]


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def sample(**changes: Any) -> ProductCode:
    base = ProductCode(
        gtin="4006381333931", serial="7KQ2M9XH4R0WT", lot="LOT(10)A", expiry="271200"
    )
    return replace(base, **changes)


def test_signature_is_90_chars_and_starts_with_key_id(key: Ed25519PrivateKey) -> None:
    signed = sign_code(sample(), key)
    assert signed.signature is not None
    assert len(signed.signature) == DIGSIG_CHARS
    assert signed.key_id == key_id(key.public_key())


def test_gtin_spelling_does_not_change_the_signed_bytes(key: Ed25519PrivateKey) -> None:
    a = sign_code(sample(), key)
    b = sign_code(sample(gtin="04006381333931"), key)
    assert a == b  # Ed25519 is deterministic and the GTIN is normalised first


def test_canonical_element_string_is_sorted_and_gs_terminated() -> None:
    code = sample(extra=(("3103", "000500"), ("240", "ABC")))
    assert canonical_element_string(code) == (
        "0104006381333931\x1d10LOT(10)A\x1d17271200\x1d217KQ2M9XH4R0WT\x1d240ABC\x1d3103000500\x1d"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("serial", "7KQ2M9XH4R0WV"),
        ("lot", "LOT(10)B"),
        ("lot", None),
        ("expiry", "271231"),
        ("expiry", None),
        ("extra", (("240", "X"),)),
    ],
)
def test_any_change_to_the_data_invalidates(key: Ed25519PrivateKey, field: str, value: Any) -> None:
    signed = sign_code(sample(), key)
    tampered = replace(signed, **{field: value})
    assert check_signature(tampered, [key.public_key()]).reason is Reason.INVALID


def test_colliding_key_ids_are_all_tried(key: Ed25519PrivateKey) -> None:
    # Simulate a key-id collision: several candidates share the id (only one
    # has the right key). The result must not depend on where the right one is.
    signed = sign_code(sample(), key)
    others = [Ed25519PrivateKey.generate().public_key() for _ in range(3)]
    for position in range(4):
        candidates = [*others[:position], key.public_key(), *others[position:]]
        result = check_signature(signed, candidates)
        assert result.valid
        assert result.key is not None
        assert raw_public_key(result.key) == raw_public_key(key.public_key())


def test_check_never_raises_and_verify_raises(key: Ed25519PrivateKey) -> None:
    unsigned = sample()
    assert check_signature(unsigned, [key.public_key()]).reason is Reason.MISSING
    with pytest.raises(VerificationFailed) as info:
        verify_signature(unsigned, [key.public_key()])
    assert info.value.reason == "SIGNATURE_MISSING"
    verified = verify_signature(sign_code(unsigned, key), [key.public_key()])
    assert raw_public_key(verified) == raw_public_key(key.public_key())


def test_unknown_key() -> None:
    signed = sign_code(sample(), Ed25519PrivateKey.generate())
    result = check_signature(signed, [Ed25519PrivateKey.generate().public_key()])
    assert result.reason is Reason.UNKNOWN_KEY
    assert result.key_id == signed.key_id


@pytest.mark.parametrize(
    "ais",
    [
        [("01", "04006381333931")],
        [("21", "A")],
        [("01", "04006381333932"), ("21", "A")],
        [("01", "04006381333931"), ("21", "A"), ("21", "B")],
        [("01", "04006381333931"), ("21", "A"), ("17", "271301")],
        [("01", "04006381333931"), ("21", "x" * 21)],
    ],
)
def test_product_code_rejects_malformed_ais(ais: list[tuple[str, str]]) -> None:
    with pytest.raises(GS1SyntaxError):
        ProductCode.from_ais(ais)


def test_duplicate_ai_with_same_value_counts_once() -> None:
    code = ProductCode.from_ais([("01", "04006381333931"), ("21", "A"), ("21", "A")])
    assert code.serial == "A"
