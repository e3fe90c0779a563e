"""One door to a signing key, whichever store holds it.

``load_signer("keys/line-1.key.pem")`` and
``load_signer("pkcs11:module=...;token=...;object=...")`` both return an
:class:`authn.signing.Signer`, so the issuer does not care where its key lives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from authn.errors import KeyStoreError
from authn.signing import Signer
from keys.filestore import load_private_key, passphrase_from_env

PKCS11_SCHEME = "pkcs11:"


def load_signer(spec: str, passphrase: bytes | None = None, *, pin: str | None = None) -> Signer:
    """A signer for a key file path or a ``pkcs11:`` spec.

    For a file, ``passphrase`` defaults to SEALTRACE_KEY_PASSPHRASE (or a prompt
    on a terminal); for PKCS#11, ``pin`` defaults to SEALTRACE_PKCS11_PIN. A
    PKCS#11 signer holds a session open: call its ``close()`` when done.
    """
    if spec.startswith(PKCS11_SCHEME):
        # Imported here so file-key users never load the PKCS#11 C extension.
        from keys.pkcs11 import Pkcs11Signer, Pkcs11Spec, pin_from_env

        return Pkcs11Signer(Pkcs11Spec.parse(spec), pin if pin is not None else pin_from_env())
    secret = passphrase if passphrase is not None else passphrase_from_env(prompt=True)
    return load_private_key(Path(spec), secret)


@contextmanager
def open_signer(
    spec: str, passphrase: bytes | None = None, *, pin: str | None = None
) -> Iterator[Signer]:
    """:func:`load_signer` as a context manager that closes an HSM session at the end."""
    signer = load_signer(spec, passphrase, pin=pin)
    try:
        yield signer
    finally:
        close = getattr(signer, "close", None)
        if callable(close):
            close()


class LazyFileSigner:
    """A file key opened on its first use, not when the service starts.

    Opening an encrypted key costs one scrypt (about a quarter of a second at the
    production work factor), and every serving worker would pay it before it could
    answer. The file is checked at once (it exists, it is the owner's only); the
    passphrase is checked on first use (``sealtrace serve`` opens each key once in
    the parent before any worker starts, so a wrong one still stops the start)."""

    def __init__(self, path: Path, passphrase: bytes) -> None:
        if not path.is_file():
            raise KeyStoreError(f"{path.name} is not a key file")
        self.path = path
        self._passphrase = passphrase
        self._key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()

    def _opened(self) -> Ed25519PrivateKey:
        key = self._key
        if key is None:
            with self._lock:
                if self._key is None:
                    self._key = load_private_key(self.path, self._passphrase)
                key = self._key
        return key

    def open(self) -> None:
        """Open the key now: a wrong passphrase or a damaged file raises here."""
        self._opened()

    def public_key(self) -> Ed25519PublicKey:
        return self._opened().public_key()

    def sign(self, data: bytes) -> bytes:
        return self._opened().sign(data)
