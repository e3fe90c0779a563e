"""Canonical JSON, timestamps and signed envelopes (spec: docs/trust.md).

Everything the registry or a brand signs is a JSON object written canonically,
so that anyone can rebuild the exact signed bytes from the parsed document:
sorted keys, no whitespace, UTF-8 without escapes for non-ASCII, integers only
(no floats, no NaN), strings for everything else. Timestamps are RFC 3339 UTC
strings with whole seconds and a ``Z`` (``2026-01-31T12:00:00Z``). Binary
values (keys, signatures) are unpadded base64url.

A signed object travels in an envelope::

    {"signed": {...}, "signatures": [{"keyid": "<4 chars>", "sig": "<base64url>"}]}

and each signature covers ``domain tag || 0x00 || canonical(signed)``, where
the tag names the kind of document, so a signature over a line certificate can
never be replayed as a signature over a trust list.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from authn.errors import TrustError
from authn.signing import Signer, key_id, raw_public_key

JSONValue = Any
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def canonical_json(value: JSONValue) -> bytes:
    """The one byte string for ``value``: sorted keys, no whitespace, UTF-8."""
    _reject_floats(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


MAX_DEPTH = 32  # trust documents nest a few levels; deeper is an attack on the recursion


def _depth(value: JSONValue) -> int:
    """How deeply ``value`` nests, without recursion (a deep document must not crash us)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_json(data: bytes, what: str) -> JSONValue:
    """Parse strict JSON: UTF-8, no duplicate keys, no floats, no NaN/Infinity, at most
    ``MAX_DEPTH`` levels deep."""
    try:
        text = data.decode("utf-8")
        value: JSONValue = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except RecursionError:
        raise TrustError(f"{what} nests more than {MAX_DEPTH} levels deep") from None
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise TrustError(f"{what} is not valid canonical-ready JSON: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise TrustError(f"{what} nests more than {MAX_DEPTH} levels deep")
    return value


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with whole seconds and 'Z'; refuses naive datetimes."""
    if moment.tzinfo is None:
        raise TrustError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object, what: str) -> datetime:
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise TrustError(f"{what} must be an RFC 3339 UTC timestamp like 2026-01-31T12:00:00Z")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise TrustError(f"{what} is not a real date and time: {text}") from None


def utc_seconds(moment: datetime) -> datetime:
    """``moment`` as it survives a round trip through :func:`format_time`."""
    return parse_time(format_time(moment), "timestamp")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: object, what: str, *, length: int | None = None) -> bytes:
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise TrustError(f"{what} must be unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TrustError(f"{what} is not valid base64url") from None
    if b64(raw) != text:
        raise TrustError(f"{what} is not in canonical base64url form")
    if length is not None and len(raw) != length:
        raise TrustError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def encode_public_key(key: Ed25519PublicKey) -> str:
    return b64(raw_public_key(key))


def decode_public_key(text: object, what: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(unb64(text, what, length=32))


def same_key(a: Ed25519PublicKey, b: Ed25519PublicKey) -> bool:
    return raw_public_key(a) == raw_public_key(b)


def sign_envelope(
    signed: Mapping[str, JSONValue], tag: bytes, signers: Sequence[Signer]
) -> dict[str, JSONValue]:
    """Wrap ``signed`` in an envelope with one signature per signer."""
    message = _message(signed, tag)
    signatures = [
        {"keyid": key_id(signer.public_key()), "sig": b64(signer.sign(message))}
        for signer in signers
    ]
    return {"signed": dict(signed), "signatures": signatures}


def open_envelope(
    envelope: object, what: str
) -> tuple[dict[str, JSONValue], list[tuple[str, bytes]]]:
    """(signed, [(keyid, signature)]) from an envelope, checking its shape only."""
    obj = expect_object(envelope, what, {"signed", "signatures"})
    signed = expect_object(obj["signed"], f"{what}.signed")
    raw = obj["signatures"]
    if not isinstance(raw, list):
        raise TrustError(f"{what}.signatures must be a list")
    signatures = []
    for i, entry in enumerate(raw):
        sig = expect_object(entry, f"{what}.signatures[{i}]", {"keyid", "sig"})
        if not isinstance(sig["keyid"], str):
            raise TrustError(f"{what}.signatures[{i}].keyid must be a string")
        signatures.append(
            (sig["keyid"], unb64(sig["sig"], f"{what}.signatures[{i}].sig", length=64))
        )
    return signed, signatures


def signed_by(
    signed: Mapping[str, JSONValue],
    signatures: Iterable[tuple[str, bytes]],
    tag: bytes,
    key: Ed25519PublicKey,
) -> bool:
    """Whether one of ``signatures`` is ``key``'s over ``signed``.

    Every signature whose key id matches is tried: ids are short and may collide.
    """
    message = _message(signed, tag)
    kid = key_id(key)
    for sig_kid, sig in signatures:
        if sig_kid != kid:
            continue
        try:
            key.verify(sig, message)
        except InvalidSignature:
            continue
        return True
    return False


def expect_object(value: object, what: str, keys: set[str] | None = None) -> dict[str, JSONValue]:
    """``value`` as a JSON object; with ``keys``, exactly those members (fail closed)."""
    if not isinstance(value, dict):
        raise TrustError(f"{what} must be a JSON object")
    obj = cast(dict[str, JSONValue], value)
    if keys is not None and set(obj) != keys:
        missing, extra = sorted(keys - set(obj)), sorted(set(obj) - keys)
        raise TrustError(f"{what} has missing members {missing} or unknown members {extra}")
    return obj


def expect_str(value: object, what: str, *, max_len: int = 256) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise TrustError(f"{what} must be a string of at most {max_len} characters")
    return value


def expect_int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TrustError(f"{what} must be an integer")
    return value


def expect_list(value: object, what: str) -> list[JSONValue]:
    if not isinstance(value, list):
        raise TrustError(f"{what} must be a list")
    return value


def _message(signed: Mapping[str, JSONValue], tag: bytes) -> bytes:
    return tag + b"\x00" + canonical_json(signed)


def _reject_floats(value: JSONValue) -> None:
    if isinstance(value, float):
        raise TrustError("canonical JSON carries integers only, never floats")
    if isinstance(value, dict):
        for member in value.values():
            _reject_floats(member)
    elif isinstance(value, list):
        for item in value:
            _reject_floats(item)


def _no_duplicates(pairs: list[tuple[str, JSONValue]]) -> dict[str, JSONValue]:
    result: dict[str, JSONValue] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def _no_float(text: str) -> JSONValue:
    raise ValueError(f"non-integer number {text}")
