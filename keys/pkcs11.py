"""Ed25519 keys held in a PKCS#11 token (an HSM; SoftHSM2 in tests).

:class:`Pkcs11Signer` satisfies :class:`authn.signing.Signer`: it signs with
``CKM_EDDSA`` inside the token, and the private key is created sensitive and
non-extractable, so its bytes never leave the HSM. Signatures are plain
Ed25519 and verify with the same code as a file key's.

A key is named by a spec string::

    pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=LABEL;object=KEYLABEL

and the user PIN comes from ``SEALTRACE_PKCS11_PIN`` (never from the spec, so
it does not end up in shell history or process lists).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pkcs11
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from authn.errors import InvalidInput, KeyStoreError, PassphraseError

PIN_ENV = "SEALTRACE_PKCS11_PIN"
SCHEME = "pkcs11:"
# DER of OID 1.3.101.112 (id-Ed25519): the EC_PARAMS PKCS#11 3.0 names for Ed25519.
ED25519_PARAMS = bytes.fromhex("06032b6570")


@dataclass(frozen=True)
class Pkcs11Spec:
    """Where a key lives: the PKCS#11 module, the token label and the key label."""

    module: str
    token: str
    object: str

    @classmethod
    def parse(cls, spec: str) -> Pkcs11Spec:
        if not spec.startswith(SCHEME):
            raise InvalidInput(f"a PKCS#11 key spec starts with {SCHEME!r}")
        fields: dict[str, str] = {}
        for part in spec[len(SCHEME) :].split(";"):
            name, sep, value = part.partition("=")
            if not sep or not value or name in fields:
                raise InvalidInput(f"PKCS#11 spec part {part!r} must be name=value, once each")
            fields[name.strip()] = value.strip()
        if set(fields) != {"module", "token", "object"}:
            raise InvalidInput(
                "a PKCS#11 key spec needs exactly module=, token= and object= "
                "(the PIN comes from SEALTRACE_PKCS11_PIN)"
            )
        return cls(fields["module"], fields["token"], fields["object"])

    def __str__(self) -> str:
        return f"{SCHEME}module={self.module};token={self.token};object={self.object}"


def pin_from_env() -> str:
    pin = os.environ.get(PIN_ENV)
    if not pin:
        raise PassphraseError(f"set {PIN_ENV} to the token's user PIN")
    return pin


class Pkcs11Signer:
    """Signs inside a PKCS#11 token; one logged-in session, serialised by a lock."""

    def __init__(self, spec: Pkcs11Spec, pin: str) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        with _translated(spec):
            token = _library(spec.module).get_token(token_label=spec.token)
            self._session = token.open(user_pin=pin)
        try:
            with _translated(spec):
                self._private = self._session.get_key(
                    object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC_EDWARDS,
                    label=spec.object,
                )  # fmt: skip
                public = self._session.get_key(
                    object_class=ObjectClass.PUBLIC_KEY, key_type=KeyType.EC_EDWARDS,
                    label=spec.object,
                )  # fmt: skip
                self._public = _public_from_token(public)
        except BaseException:
            self._session.close()
            raise

    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        with self._lock, _translated(self.spec):
            signature = self._private.sign(data, mechanism=Mechanism.EDDSA)
        return bytes(signature)

    def close(self) -> None:
        with self._lock:
            self._session.close()

    def __enter__(self) -> Pkcs11Signer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def generate_pkcs11_key(spec: Pkcs11Spec, pin: str) -> Ed25519PublicKey:
    """Create an Ed25519 key pair in the token, labelled ``spec.object``; never overwrites.

    The private half is sensitive and non-extractable: the token will sign with
    it and refuse to export it.
    """
    with _translated(spec):
        token = _library(spec.module).get_token(token_label=spec.token)
        with token.open(user_pin=pin, rw=True) as session:
            existing = list(session.get_objects({Attribute.LABEL: spec.object}))
            if existing:
                raise KeyStoreError(f"token {spec.token} already holds an object {spec.object!r}")
            params = session.create_domain_parameters(
                KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: ED25519_PARAMS}, local=True
            )
            private_template: dict[Attribute, Any] = {
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
                Attribute.SIGN: True,
            }
            public, _ = params.generate_keypair(
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                store=True,
                label=spec.object,
                private_template=private_template,
            )
            return _public_from_token(public)


_libraries: dict[str, Any] = {}


def _library(module: str) -> Any:
    # Loading a module twice in one process confuses some PKCS#11 libraries.
    if module not in _libraries:
        if not os.path.isfile(module):
            raise KeyStoreError(f"PKCS#11 module {module} does not exist")
        _libraries[module] = pkcs11.lib(module)
    return _libraries[module]


def _public_from_token(public: Any) -> Ed25519PublicKey:
    point = bytes(public[Attribute.EC_POINT])
    # CKA_EC_POINT is a DER OCTET STRING (04 20 || key) in most tokens, raw in some.
    if len(point) == 34 and point[:2] == b"\x04\x20":
        point = point[2:]
    if len(point) != 32:
        raise KeyStoreError("the token's public key is not an Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(point)


@contextmanager
def _translated(spec: Pkcs11Spec) -> Iterator[None]:
    """Map python-pkcs11 errors to the sealtrace tree, with messages free of secrets."""
    where = f"token {spec.token!r}"
    try:
        yield
    except (KeyStoreError, InvalidInput):
        raise
    except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
        raise PassphraseError(f"wrong PIN for {where}") from None
    except p11.NoSuchToken:
        raise KeyStoreError(f"no PKCS#11 {where} in {spec.module}") from None
    except p11.NoSuchKey:
        raise KeyStoreError(f"no Ed25519 key {spec.object!r} in {where}") from None
    except p11.MultipleObjectsReturned:
        raise KeyStoreError(f"several keys labelled {spec.object!r} in {where}") from None
    except (p11.PKCS11Error, RuntimeError, OSError) as exc:
        raise KeyStoreError(f"PKCS#11 operation failed on {where}: {type(exc).__name__}") from None
