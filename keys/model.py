"""The objects of the trust hierarchy and their JSON form (spec: docs/trust.md).

* :class:`Brand`: a right holder, registered by the registry for the GS1
  company prefixes it owns, with its current root key and the chain of
  rotations that leads from the registered root to it;
* :class:`RootRotation`: "brand B's root moves from key O to key N", signed
  by both O and N;
* :class:`LineCertificate`: a line key certified by its brand's root for some
  GTIN prefixes and a signing window;
* :class:`Revocation`: a line key withdrawn, with the moment it was compromised.

Parsing (``from_json``) checks shape and types and fails closed on unknown
members; signatures are checked by the functions named ``verify_*``/``*_valid``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from authn.errors import TrustError
from authn.signing import Signer, key_id
from keys.canonical import (
    JSONValue,
    b64,
    decode_public_key,
    encode_public_key,
    expect_list,
    expect_object,
    expect_str,
    format_time,
    open_envelope,
    parse_time,
    same_key,
    sign_envelope,
    signed_by,
)

ROTATION_TAG = b"sealtrace/root-rotation/v1"
CERTIFICATE_TAG = b"sealtrace/line-certificate/v1"
BRAND_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
COMPANY_PREFIX = re.compile(r"\d{4,12}")
LINE_PREFIX = re.compile(r"\d{4,13}")

Signatures = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Contact:
    """How customs officers reach the right holder."""

    email: str | None = None
    phone: str | None = None
    url: str | None = None

    def to_json(self) -> dict[str, JSONValue]:
        members = {"email": self.email, "phone": self.phone, "url": self.url}
        return {k: v for k, v in members.items() if v is not None}

    @classmethod
    def from_json(cls, value: object) -> Contact:
        obj = expect_object(value, "contact")
        unknown = set(obj) - {"email", "phone", "url"}
        if unknown:
            raise TrustError(f"contact has unknown members {sorted(unknown)}")
        return cls(**{k: expect_str(v, f"contact.{k}") for k, v in obj.items()})


def gtin_in_prefixes(gtin14: str, prefixes: Iterable[str]) -> bool:
    """Whether a 14-digit GTIN falls under one of ``prefixes``.

    Prefixes are GS1 company prefixes (or longer, narrower ones), matched
    against the GTIN without its indicator digit, i.e. its GTIN-13 form.
    """
    body = gtin14[1:]
    return any(body.startswith(prefix) for prefix in prefixes)


def prefixes_within(narrow: Iterable[str], wide: Sequence[str]) -> bool:
    """Whether every prefix in ``narrow`` lies inside one of ``wide``."""
    return all(any(p.startswith(w) for w in wide) for p in narrow)


def check_prefixes(prefixes: Sequence[str], pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    if not prefixes:
        raise TrustError(f"{what} needs at least one prefix")
    for prefix in prefixes:
        if not isinstance(prefix, str) or not pattern.fullmatch(prefix):
            raise TrustError(f"{what}: {prefix!r} is not a GS1 prefix of the right length")
    return tuple(sorted(set(prefixes)))


@dataclass(frozen=True)
class RootRotation:
    """A brand's root moving from ``old_key`` to ``new_key``; valid only if both signed it."""

    brand_id: str
    old_key: Ed25519PublicKey
    new_key: Ed25519PublicKey
    rotated_at: datetime
    signatures: Signatures

    def signed_part(self) -> dict[str, JSONValue]:
        return {
            "type": "sealtrace/root-rotation",
            "brand": self.brand_id,
            "old_key": encode_public_key(self.old_key),
            "new_key": encode_public_key(self.new_key),
            "rotated_at": format_time(self.rotated_at),
        }

    def valid(self) -> bool:
        signed = self.signed_part()
        return signed_by(signed, self.signatures, ROTATION_TAG, self.old_key) and signed_by(
            signed, self.signatures, ROTATION_TAG, self.new_key
        )

    def to_json(self) -> dict[str, JSONValue]:
        return _envelope(self.signed_part(), self.signatures)

    @classmethod
    def create(cls, brand_id: str, old: Signer, new: Signer, rotated_at: datetime) -> RootRotation:
        draft = cls(brand_id, old.public_key(), new.public_key(), rotated_at, ())
        envelope = sign_envelope(draft.signed_part(), ROTATION_TAG, [old, new])
        return cls.from_json(envelope)

    @classmethod
    def from_json(cls, value: object) -> RootRotation:
        signed, sigs = open_envelope(value, "root rotation")
        expected = {"type", "brand", "old_key", "new_key", "rotated_at"}
        expect_object(signed, "root rotation", expected)
        if signed["type"] != "sealtrace/root-rotation":
            raise TrustError("root rotation has the wrong type")
        return cls(
            brand_id=expect_str(signed["brand"], "root rotation brand"),
            old_key=decode_public_key(signed["old_key"], "root rotation old_key"),
            new_key=decode_public_key(signed["new_key"], "root rotation new_key"),
            rotated_at=parse_time(signed["rotated_at"], "root rotation rotated_at"),
            signatures=tuple(sigs),
        )


@dataclass(frozen=True)
class Brand:
    """A right holder as the registry registered it."""

    id: str
    name: str
    prefixes: tuple[str, ...]
    root_key: Ed25519PublicKey
    registered_root: Ed25519PublicKey
    registered_by: str
    registered_at: datetime
    contact: Contact = field(default_factory=Contact)
    rotations: tuple[RootRotation, ...] = ()

    @property
    def root_key_id(self) -> str:
        return key_id(self.root_key)

    def owns(self, gtin14: str) -> bool:
        return gtin_in_prefixes(gtin14, self.prefixes)

    def chain_problem(self) -> str | None:
        """Why the rotation chain does not lead from the registered root to ``root_key``."""
        current = self.registered_root
        for i, rotation in enumerate(self.rotations):
            if rotation.brand_id != self.id:
                return f"rotation {i} names another brand"
            if not same_key(rotation.old_key, current):
                return f"rotation {i} does not start from the brand's root at that time"
            if not rotation.valid():
                return f"rotation {i} is not signed by both the old and the new root"
            current = rotation.new_key
        if not same_key(current, self.root_key):
            return "the root key is not the end of the rotation chain"
        return None

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "id": self.id,
            "name": self.name,
            "contact": self.contact.to_json(),
            "prefixes": list(self.prefixes),
            "root_key": encode_public_key(self.root_key),
            "registered_root": encode_public_key(self.registered_root),
            "registered_by": self.registered_by,
            "registered_at": format_time(self.registered_at),
            "rotations": [r.to_json() for r in self.rotations],
        }

    @classmethod
    def from_json(cls, value: object) -> Brand:
        members = {
            "id", "name", "contact", "prefixes", "root_key", "registered_root",
            "registered_by", "registered_at", "rotations",
        }  # fmt: skip
        obj = expect_object(value, "brand", members)
        brand_id = expect_str(obj["id"], "brand id", max_len=64)
        if not BRAND_ID.fullmatch(brand_id):
            raise TrustError(f"brand id {brand_id!r} must be lowercase letters, digits and '-'")
        what = f"brand {brand_id}"
        return cls(
            id=brand_id,
            name=expect_str(obj["name"], f"{what} name"),
            contact=Contact.from_json(obj["contact"]),
            prefixes=check_prefixes(expect_list(obj["prefixes"], what), COMPANY_PREFIX, what),
            root_key=decode_public_key(obj["root_key"], f"{what} root_key"),
            registered_root=decode_public_key(obj["registered_root"], f"{what} registered_root"),
            registered_by=expect_str(obj["registered_by"], f"{what} registered_by"),
            registered_at=parse_time(obj["registered_at"], f"{what} registered_at"),
            rotations=tuple(RootRotation.from_json(r) for r in expect_list(obj["rotations"], what)),
        )


@dataclass(frozen=True)
class LineCertificate:
    """A line key certified by its brand's root: what it may sign, and when."""

    brand_id: str
    name: str
    public_key: Ed25519PublicKey
    prefixes: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    signatures: Signatures = ()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def in_window(self, moment: datetime) -> bool:
        return self.not_before <= moment <= self.not_after

    def covers(self, gtin14: str) -> bool:
        return gtin_in_prefixes(gtin14, self.prefixes)

    def signed_part(self) -> dict[str, JSONValue]:
        return {
            "type": "sealtrace/line-certificate",
            "brand": self.brand_id,
            "name": self.name,
            "kid": self.key_id,
            "public_key": encode_public_key(self.public_key),
            "prefixes": list(self.prefixes),
            "not_before": format_time(self.not_before),
            "not_after": format_time(self.not_after),
            "issued_at": format_time(self.issued_at),
        }

    def signed_by_root(self, root: Ed25519PublicKey) -> bool:
        return signed_by(self.signed_part(), self.signatures, CERTIFICATE_TAG, root)

    def to_json(self) -> dict[str, JSONValue]:
        return _envelope(self.signed_part(), self.signatures)

    @classmethod
    def from_json(cls, value: object) -> LineCertificate:
        signed, sigs = open_envelope(value, "line certificate")
        members = {
            "type", "brand", "name", "kid", "public_key", "prefixes",
            "not_before", "not_after", "issued_at",
        }  # fmt: skip
        expect_object(signed, "line certificate", members)
        if signed["type"] != "sealtrace/line-certificate":
            raise TrustError("line certificate has the wrong type")
        public_key = decode_public_key(signed["public_key"], "line certificate public_key")
        kid = key_id(public_key)
        if signed["kid"] != kid:
            raise TrustError(f"line certificate kid {signed['kid']!r} does not match its key")
        what = f"line certificate {kid}"
        cert = cls(
            brand_id=expect_str(signed["brand"], f"{what} brand"),
            name=expect_str(signed["name"], f"{what} name"),
            public_key=public_key,
            prefixes=check_prefixes(expect_list(signed["prefixes"], what), LINE_PREFIX, what),
            not_before=parse_time(signed["not_before"], f"{what} not_before"),
            not_after=parse_time(signed["not_after"], f"{what} not_after"),
            issued_at=parse_time(signed["issued_at"], f"{what} issued_at"),
            signatures=tuple(sigs),
        )
        if cert.not_after < cert.not_before:
            raise TrustError(f"{what} ends before it starts")
        return cert


@dataclass(frozen=True)
class Revocation:
    """A line key withdrawn by the registry.

    Codes the verifier registered before ``compromised_since`` stay genuine;
    everything else signed by the key is not. The key is named by its public
    key, not only its short id, since ids may collide.
    """

    public_key: Ed25519PublicKey
    compromised_since: datetime
    revoked_at: datetime
    reason: str

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "kid": self.key_id,
            "public_key": encode_public_key(self.public_key),
            "compromised_since": format_time(self.compromised_since),
            "revoked_at": format_time(self.revoked_at),
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, value: object) -> Revocation:
        members = {"kid", "public_key", "compromised_since", "revoked_at", "reason"}
        obj = expect_object(value, "revocation", members)
        public_key = decode_public_key(obj["public_key"], "revocation public_key")
        if obj["kid"] != key_id(public_key):
            raise TrustError("revocation kid does not match its key")
        return cls(
            public_key=public_key,
            compromised_since=parse_time(obj["compromised_since"], "revocation compromised_since"),
            revoked_at=parse_time(obj["revoked_at"], "revocation revoked_at"),
            reason=expect_str(obj["reason"], "revocation reason", max_len=1000),
        )


def _envelope(signed: dict[str, JSONValue], signatures: Signatures) -> dict[str, JSONValue]:
    return {
        "signed": signed,
        "signatures": [{"keyid": kid, "sig": b64(sig)} for kid, sig in signatures],
    }
