"""Encrypted PKCS#8 with scrypt: a private key file whose passphrase is costly to guess.

cryptography's ``BestAvailableEncryption`` writes PBES2 with PBKDF2 at 2,048
iterations, about a thousand guesses a second on one core, and it has no
PKCS#8 builder with a chosen work factor (its ``encryption_builder`` serves only
OpenSSH and PKCS#12). The standard answer is PBES2 (RFC 8018) with scrypt as
its key-derivation function (RFC 7914, section 7) and AES-256-CBC: the same
``-----BEGIN ENCRYPTED PRIVATE KEY-----`` file, read by cryptography's own
``load_pem_private_key`` and by OpenSSL, but each guess costs a quarter of a
second and 128 MiB of memory.

Only the writing is done here; reading stays with cryptography. The DER is
built with asn1crypto, so no byte of ASN.1 is hand-encoded, and
:func:`encrypted_key_kdf` reads back which KDF and cost a file uses (so
``sealtrace keys kdf`` can tell old files from new).
"""

from __future__ import annotations

import base64
import os
import textwrap
from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import core
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from authn.errors import KeyStoreError

# OWASP's minimum for scrypt (N=2^17, r=8, p=1): 128 MiB and about 0.25 s a
# guess on this project's reference machine, against about 0.2 ms for the
# previous PBKDF2 files. SEALTRACE_KEY_KDF_LOG2N may raise it, or lower it to
# no less than 2^14 (16 MiB, still ~100x the old files): the test suite does,
# because it writes hundreds of keys.
SCRYPT_LOG2_N = 17
MIN_LOG2_N, MAX_LOG2_N = 14, 22
WORK_FACTOR_ENV = "SEALTRACE_KEY_KDF_LOG2N"
SCRYPT_R = 8
SCRYPT_P = 1

_PBES2 = "1.2.840.113549.1.5.13"
_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_PBKDF2 = "1.2.840.113549.1.5.12"
_AES256_CBC = "2.16.840.1.101.3.4.1.42"
_PEM_LABEL = "ENCRYPTED PRIVATE KEY"


class _ScryptParams(core.Sequence):  # type: ignore[misc]  # untyped base; RFC 7914, section 7.1
    _fields: ClassVar[list[Any]] = [
        ("salt", core.OctetString),
        ("cost", core.Integer),
        ("block_size", core.Integer),
        ("parallelization", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
    ]


class _Pbkdf2Params(core.Sequence):  # type: ignore[misc]  # untyped base; RFC 8018, appendix A.2 (read only)
    _fields: ClassVar[list[Any]] = [
        ("salt", core.Any),
        ("iteration_count", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
        ("prf", core.Any, {"optional": True}),
    ]


class _Algorithm(core.Sequence):  # type: ignore[misc]  # untyped base
    _fields: ClassVar[list[Any]] = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any)]


class _Pbes2Params(core.Sequence):  # type: ignore[misc]  # untyped base
    _fields: ClassVar[list[Any]] = [("kdf", _Algorithm), ("cipher", _Algorithm)]


class _EncryptedPrivateKeyInfo(core.Sequence):  # type: ignore[misc]  # untyped base; RFC 5958, section 3
    _fields: ClassVar[list[Any]] = [("algorithm", _Algorithm), ("data", core.OctetString)]


def work_factor() -> int:
    """log2 of scrypt's N for new key files: SCRYPT_LOG2_N unless the setting says otherwise."""
    value = os.environ.get(WORK_FACTOR_ENV, "")
    if not value:
        return SCRYPT_LOG2_N
    if not value.isdigit() or not MIN_LOG2_N <= int(value) <= MAX_LOG2_N:
        raise KeyStoreError(
            f"{WORK_FACTOR_ENV} must be a whole number from {MIN_LOG2_N} to {MAX_LOG2_N}"
        )
    return int(value)


@dataclass(frozen=True)
class KdfInfo:
    """Which key-derivation function protects a key file, and at what cost."""

    name: str  # "scrypt", "pbkdf2" or "other"
    cost: int  # scrypt's N, PBKDF2's iteration count, 0 when unknown

    @property
    def current(self) -> bool:
        """True when the file already uses the configured work factor (or more)."""
        return self.name == "scrypt" and self.cost >= 1 << work_factor()

    def describe(self) -> str:
        if self.name == "scrypt":
            return f"scrypt N=2^{self.cost.bit_length() - 1}"
        if self.name == "pbkdf2":
            return f"PBKDF2, {self.cost} iterations"
        return "an unrecognised encryption scheme"


def encrypt_private_key(
    key: Ed25519PrivateKey, passphrase: bytes, *, log2_n: int | None = None
) -> bytes:
    """``key`` as PEM PKCS#8, encrypted under PBES2 with scrypt and AES-256-CBC."""
    if log2_n is None:
        log2_n = work_factor()
    plain = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    salt, iv = os.urandom(16), os.urandom(16)
    cost = 1 << log2_n
    # Scrypt checks n, r and p itself; maxmem is its own default, which fits 128 MiB.
    secret = Scrypt(salt=salt, length=32, n=cost, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padded) + encryptor.finalize()
    params = _Pbes2Params(
        {
            "kdf": {
                "algorithm": _SCRYPT,
                "parameters": _ScryptParams(
                    {
                        "salt": salt,
                        "cost": cost,
                        "block_size": SCRYPT_R,
                        "parallelization": SCRYPT_P,
                    }
                ),
            },
            "cipher": {"algorithm": _AES256_CBC, "parameters": core.OctetString(iv)},
        }
    )
    info = _EncryptedPrivateKeyInfo(
        {"algorithm": {"algorithm": _PBES2, "parameters": params}, "data": sealed}
    )
    body = "\n".join(textwrap.wrap(base64.b64encode(info.dump()).decode("ascii"), 64))
    return f"-----BEGIN {_PEM_LABEL}-----\n{body}\n-----END {_PEM_LABEL}-----\n".encode("ascii")


def encrypted_key_kdf(pem: bytes) -> KdfInfo:
    """The KDF of an encrypted PKCS#8 PEM file; raises KeyStoreError if it is not one."""
    try:
        text = pem.decode("ascii")
        start = text.index(f"-----BEGIN {_PEM_LABEL}-----") + len(_PEM_LABEL) + 16
        end = text.index(f"-----END {_PEM_LABEL}-----")
        info = _EncryptedPrivateKeyInfo.load(base64.b64decode(text[start:end]))
        algorithm = info["algorithm"]
        if algorithm["algorithm"].dotted != _PBES2:
            return KdfInfo("other", 0)
        kdf = _Pbes2Params.load(algorithm["parameters"].dump())["kdf"]
        oid = kdf["algorithm"].dotted
        if oid == _SCRYPT:
            return KdfInfo("scrypt", _ScryptParams.load(kdf["parameters"].dump())["cost"].native)
        if oid == _PBKDF2:
            params = _Pbkdf2Params.load(kdf["parameters"].dump())
            return KdfInfo("pbkdf2", params["iteration_count"].native)
        return KdfInfo("other", 0)
    except (ValueError, UnicodeDecodeError, TypeError, KeyError):
        raise KeyStoreError("not an encrypted PKCS#8 private key file") from None
