"""Signing and checking product codes (spec: docs/code-format.md).

The signature travels in GS1 AI 8030 (DIGSIG, CSET 64) as 90 base64url
characters: a 3-byte key id (4 characters) followed by the 64-byte Ed25519
signature (86 characters). The signed message is::

    b"sealtrace/code/v1" 0x00 || key id (3 bytes) || canonical element string

where the canonical element string is every AI of the code except 8030, in
ascending AI order, each written as AI, value and a GS (0x1D) terminator, with
the GTIN in its 14-digit form. GS never occurs in a GS1 value, so the encoding
is injective: two different codes can never sign the same bytes.

:func:`check_signature` never raises for a bad code; it returns a
:class:`SignatureCheck` with a stable reason. :func:`verify_signature` raises
:class:`VerificationFailed` instead, for callers that want an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authn.code import ProductCode
from authn.errors import InvalidInput, VerificationFailed

DOMAIN_TAG = b"sealtrace/code/v1\x00"
KEY_ID_BYTES = 3
SIGNATURE_BYTES = 64
KEY_ID_CHARS = 4
DIGSIG_CHARS = 90
GS = "\x1d"


class Signer(Protocol):
    """Anything that can make Ed25519 signatures and tell its public key.

    pyca's ``Ed25519PrivateKey`` fits as it is; ``keys.pkcs11`` provides one
    whose private key never leaves the HSM.
    """

    def public_key(self) -> Ed25519PublicKey: ...

    def sign(self, data: bytes) -> bytes: ...


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_bytes(public_key: Ed25519PublicKey) -> bytes:
    """The 3-byte key id: the first bytes of SHA-256 over a tag and the raw key.

    Short on purpose (it rides in every label); several keys may share one,
    which is why checking tries every candidate with a matching id.
    """
    digest = hashlib.sha256(b"sealtrace/key-id/v1\x00" + raw_public_key(public_key)).digest()
    return digest[:KEY_ID_BYTES]


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key id as it appears in AI 8030: 4 base64url characters."""
    return _b64(key_id_bytes(public_key))


def canonical_element_string(code: ProductCode) -> str:
    """Every AI but the signature, sorted, each terminated by GS."""
    return "".join(f"{ai}{value}{GS}" for ai, value in code.ais(with_signature=False))


def signed_message(code: ProductCode, kid: bytes) -> bytes:
    return DOMAIN_TAG + kid + canonical_element_string(code).encode("ascii")


def sign_code(code: ProductCode, signer: Signer) -> ProductCode:
    """``code`` with a fresh AI 8030 signature by ``signer`` (any old one is replaced)."""
    kid = key_id_bytes(signer.public_key())
    unsigned = code.unsigned()
    signature = signer.sign(signed_message(unsigned, kid))
    if len(signature) != SIGNATURE_BYTES:
        raise InvalidInput("the signer returned something that is not an Ed25519 signature")
    return unsigned.with_signature(_b64(kid + signature))


class Reason(StrEnum):
    """Stable reason codes of a signature check (documented in docs/code-format.md)."""

    VALID = "SIGNATURE_VALID"
    MISSING = "SIGNATURE_MISSING"
    MALFORMED = "SIGNATURE_MALFORMED"
    UNKNOWN_KEY = "KEY_UNKNOWN"
    INVALID = "SIGNATURE_INVALID"


_MESSAGES = {
    Reason.VALID: "The signature is valid.",
    Reason.MISSING: "The code carries no signature (AI 8030).",
    Reason.MALFORMED: "The signature field is not a well-formed sealtrace signature.",
    Reason.UNKNOWN_KEY: "The code was signed with a key that is not known.",
    Reason.INVALID: "The signature does not match the code's data.",
}


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking one code's signature.

    ``key`` is the public key that verified it (``None`` unless valid), so that
    the caller can go on to check that key's chain of trust.
    """

    reason: Reason
    key_id: str | None = None
    key: Ed25519PublicKey | None = None

    @property
    def valid(self) -> bool:
        return self.reason is Reason.VALID

    @property
    def message(self) -> str:
        return _MESSAGES[self.reason]


def split_signature(digsig: str) -> tuple[bytes, bytes] | None:
    """(key id, signature) from an AI 8030 value, or ``None`` if not canonical.

    Only the canonical encoding is accepted: exactly 90 base64url characters,
    no padding, and zero trailing bits, so one signature has one spelling.
    """
    if len(digsig) != DIGSIG_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(digsig + "==")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != KEY_ID_BYTES + SIGNATURE_BYTES or _b64(raw) != digsig:
        return None
    return raw[:KEY_ID_BYTES], raw[KEY_ID_BYTES:]


def check_signature(code: ProductCode, public_keys: Iterable[Ed25519PublicKey]) -> SignatureCheck:
    """Check ``code``'s signature against the candidate keys; never raises for a bad code.

    Every candidate whose key id matches the one in the signature is tried, so
    colliding short key ids cost a few verifications, never a wrong answer.
    """
    if code.signature is None:
        return SignatureCheck(Reason.MISSING)
    parts = split_signature(code.signature)
    if parts is None:
        return SignatureCheck(Reason.MALFORMED)
    kid, signature = parts
    kid_text = _b64(kid)
    message = signed_message(code.unsigned(), kid)
    tried = False
    for key in public_keys:
        if key_id_bytes(key) != kid:
            continue
        tried = True
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return SignatureCheck(Reason.VALID, key_id=kid_text, key=key)
    return SignatureCheck(Reason.INVALID if tried else Reason.UNKNOWN_KEY, key_id=kid_text)


def verify_signature(
    code: ProductCode, public_keys: Iterable[Ed25519PublicKey]
) -> Ed25519PublicKey:
    """Like :func:`check_signature` but raises :class:`VerificationFailed`; returns the key."""
    result = check_signature(code, public_keys)
    if result.key is None:
        raise VerificationFailed(result.reason.value, result.message)
    return result.key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
