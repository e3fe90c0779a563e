"""Checkpoints in the C2SP signed-note format (c2sp.org/tlog-checkpoint, signed-note).

A checkpoint's text is the log's origin line, the tree size, the root hash in
standard base64, then extension lines (sealtrace writes one: the time the head
was signed). The note is that text, a blank line, and one signature line per
signer: an em dash, the key name, and base64 of the 4-byte key hash followed by
the Ed25519 signature of the text. The key hash is the first 4 bytes of
SHA-256(name || 0x0A || 0x01 || public key), as the signed-note spec defines
for Ed25519. Pure: keys and times are passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from authn.signing import Signer

SIGNATURE_TYPE_ED25519 = b"\x01"
DASH = "\u2014 "
TIME_PREFIX = "sealtrace-time "
MAX_NOTE_BYTES = 16 * 1024


class NoteError(ValueError):
    """A checkpoint that is malformed or not signed by the expected key."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    signed_at: datetime | None = None

    def text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        if self.signed_at is not None:
            stamp = self.signed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(TIME_PREFIX + stamp)
        return "\n".join(lines) + "\n"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    material = name.encode("utf-8") + b"\n" + SIGNATURE_TYPE_ED25519 + _raw_public(public_key)
    return hashlib.sha256(material).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The note verifier key string ``name+hash+key`` that witnesses configure."""
    raw = SIGNATURE_TYPE_ED25519 + _raw_public(public_key)
    return f"{name}+{key_hash(name, public_key).hex()}+{base64.b64encode(raw).decode()}"


def sign_checkpoint(checkpoint: Checkpoint, name: str, key: Signer) -> str:
    if not name or any(c in name for c in " +\n") or "\u2014" in name:
        raise NoteError("a key name has no spaces, plus signs or newlines")
    text = checkpoint.text()
    signature = key.sign(text.encode("utf-8"))
    blob = base64.b64encode(key_hash(name, key.public_key()) + signature).decode("ascii")
    return f"{text}\n{DASH}{name} {blob}\n"


def _parse_text(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint has an origin, a size and a root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise NoteError("the checkpoint's origin or size is malformed")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("the checkpoint's root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    signed_at = None
    for extra in lines[3:-1]:
        if extra.startswith(TIME_PREFIX):
            try:
                signed_at = datetime.strptime(extra[len(TIME_PREFIX) :], "%Y-%m-%dT%H:%M:%SZ")
            except ValueError as exc:
                raise NoteError("the checkpoint's time is malformed") from exc
            signed_at = signed_at.replace(tzinfo=UTC)
    return Checkpoint(origin, int(size_text), root, signed_at)


def open_checkpoint(note: str, name: str, public_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint of ``note`` if ``name``'s key signed it; NoteError otherwise."""
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteError("the note is too large")
    text, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("a signed note is text, a blank line and signature lines")
    text += "\n"
    wanted = key_hash(name, public_key)
    for line in signatures[:-1].split("\n"):
        if not line.startswith(DASH):
            raise NoteError("a signature line starts with an em dash")
        signer, _, blob = line[len(DASH) :].rpartition(" ")
        if signer != name:
            continue
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) != 4 + 64 or raw[:4] != wanted:
            continue
        try:
            public_key.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature:
            continue
        return _parse_text(text)
    raise NoteError(f"the checkpoint carries no valid signature by {name}")
