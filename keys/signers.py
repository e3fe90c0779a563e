"""One door to a signing key, whichever store holds it.

``load_signer("keys/line-1.key.pem")`` and
``load_signer("pkcs11:module=...;token=...;object=...")`` both return an
:class:`authn.signing.Signer`, so the issuer does not care where its key lives.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
