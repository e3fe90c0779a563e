"""The service's side of the transparency log: its signing key and its checkpoints.

The log key signs checkpoints only. Outside development it is an encrypted
PKCS#8 file (``SEALTRACE_LOG_KEY`` and ``SEALTRACE_LOG_KEY_PASSPHRASE``). In
development, where nothing should need setting up, it is derived from the token
pepper with HKDF: every worker of one installation then signs with the same
key, and development checkpoints are worth exactly as much as the development
pepper (nothing) — said in docs/transparency.md.

A checkpoint is signed on demand, at most every ``log_checkpoint_seconds``;
the last one is kept per process and every signed one is stored, so a witness
or a seizure report can point at it later.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection, select

from authn.signing import Signer
from keys.signers import LazyFileSigner
from transparency import store
from transparency.note import Checkpoint, sign_checkpoint, verifier_key
from transparency.tables import LogCheckpoint
from verifier.settings import Settings

_checkpoints = LogCheckpoint.__table__  # type: ignore[attr-defined]


def development_log_key(pepper: bytes) -> Ed25519PrivateKey:
    seed = HKDF(hashes.SHA256(), 32, salt=None, info=b"sealtrace/log-key/development/v1").derive(
        pepper
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_log_signer(settings: Settings) -> Signer:
    if settings.log_key is not None:
        if settings.log_key_passphrase is None:
            raise ValueError("SEALTRACE_LOG_KEY_PASSPHRASE is needed for the log key")
        passphrase = settings.log_key_passphrase.get_secret_value().encode()
        # Opened on the first checkpoint, not in every worker's start (one scrypt each).
        return LazyFileSigner(settings.log_key, passphrase)
    if settings.environment == "production":
        raise ValueError("production needs SEALTRACE_LOG_KEY (signs log checkpoints)")
    return development_log_key(settings.token_pepper.get_secret_value().encode())


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str
    signed_at: datetime


class LogService:
    def __init__(self, signer: Signer, *, origin: str, interval_seconds: float) -> None:
        self._signer = signer
        self.origin = origin
        self._interval = timedelta(seconds=interval_seconds)
        self._last: SignedCheckpoint | None = None
        self._lock = threading.Lock()

    @property
    def key_name(self) -> str:
        return self.origin

    def public_key_pem(self) -> bytes:
        return self._signer.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )

    def verifier_key(self) -> str:
        return verifier_key(self.key_name, self._signer.public_key())

    def checkpoint(self, connection: Connection, now: datetime) -> SignedCheckpoint:
        """The latest checkpoint: re-signed when the tree grew and the interval passed."""
        with self._lock:
            last = self._last
            if last is not None and now - last.signed_at < self._interval:
                return last
            head = store.read_head(connection)
            if last is not None and last.size == head.size:
                return last
            stored = connection.execute(
                select(_checkpoints).where(_checkpoints.c.size == head.size)
            ).first()
            if stored is not None:
                signed = SignedCheckpoint(
                    int(stored.size), bytes(stored.root), str(stored.note), stored.signed_at
                )
            else:
                point = Checkpoint(self.origin, head.size, head.root(), now)
                note = sign_checkpoint(point, self.key_name, self._signer)
                signed = SignedCheckpoint(head.size, point.root, note, now)
                values = {"size": signed.size, "root": signed.root, "note": note, "signed_at": now}
                store.insert_unless_present(connection, _checkpoints, values)
                connection.commit()
            self._last = signed
            return signed
