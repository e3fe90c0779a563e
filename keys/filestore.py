"""Ed25519 keys in files: the private key encrypted with a passphrase, the public key beside it.

Layout for a key called ``<name>`` in a directory::

    <name>.key.pem   encrypted PKCS#8 PEM (PBES2 with scrypt, keys.pkcs8), mode 0600
                     from the moment it exists
    <name>.pub.pem   SubjectPublicKeyInfo PEM, mode 0644

Rules that keep a private key private:

* it is never written unencrypted (an empty passphrase is refused);
* it is created with ``O_CREAT | O_EXCL`` and mode 0600, so there is no moment
  when the file exists with wider permissions, and an existing key is never
  overwritten;
* loading refuses a private key file that group or others may read or write,
  as ``ssh`` does: a key that others could have copied is a key to rotate, not
  one to keep using quietly;
* no message, log line or exception raised here carries key bytes or the
  passphrase (errors are raised ``from None`` so the library's own exception,
  which could carry internals, is not chained either).
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from authn.errors import InvalidInput, KeyStoreError, PassphraseError
from authn.signing import key_id
from keys.pkcs8 import KdfInfo, encrypt_private_key, encrypted_key_kdf

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "SEALTRACE_KEY_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
PRIVATE_SUFFIX = ".key.pem"
PUBLIC_SUFFIX = ".pub.pem"
PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class KeyFiles:
    """Where a freshly generated key pair was written, and its key id."""

    private_path: Path
    public_path: Path
    key_id: str


def key_paths(out_dir: Path, name: str) -> tuple[Path, Path]:
    """(private, public) paths for the key called ``name`` in ``out_dir``."""
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return out_dir / f"{name}{PRIVATE_SUFFIX}", out_dir / f"{name}{PUBLIC_SUFFIX}"


def generate_key_files(out_dir: Path, passphrase: bytes, name: str = "signing") -> KeyFiles:
    """Generate an Ed25519 key pair and write it to ``out_dir`` (created if missing)."""
    _require_passphrase(passphrase)
    private_path, public_path = key_paths(out_dir, name)
    for path in (private_path, public_path):
        if path.exists():
            raise KeyStoreError(f"{path} already exists; refusing to overwrite a key")
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise KeyStoreError(f"cannot create key directory {out_dir}: {exc.strerror}") from None
    key = Ed25519PrivateKey.generate()
    write_private_key(private_path, key, passphrase)
    try:
        write_public_key(public_path, key.public_key())
    except KeyStoreError:
        # Half a key pair is worse than none: the caller can simply retry.
        private_path.unlink(missing_ok=True)
        raise
    kid = key_id(key.public_key())
    log.info("generated Ed25519 key %s in %s", kid, private_path)
    return KeyFiles(private_path=private_path, public_path=public_path, key_id=kid)


def write_private_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes) -> None:
    """Write ``key`` as encrypted PKCS#8 PEM (scrypt) to a new file with mode 0600."""
    _require_passphrase(passphrase)
    _write_new_file(path, encrypt_private_key(key, passphrase), PRIVATE_MODE)


def private_key_kdf(path: Path) -> KdfInfo:
    """Which key-derivation function protects the key file at ``path``."""
    return encrypted_key_kdf(_read_private_file(path))


def reencrypt_private_key(
    path: Path, passphrase: bytes, new_passphrase: bytes | None = None
) -> KdfInfo:
    """Rewrite the key file at ``path`` under the current work factor.

    Files written before scrypt (PBKDF2 at 2,048 iterations) keep loading; this
    upgrades one in place, optionally to a new passphrase. The new file is
    written beside the old one (0600, O_EXCL) and renamed over it, so a crash
    leaves either the old file or the new one, never half of either.
    """
    key = load_private_key(path, passphrase)
    target = new_passphrase if new_passphrase is not None else passphrase
    _require_passphrase(target)
    staging = path.with_name(f".{path.name}.new")
    staging.unlink(missing_ok=True)
    _write_new_file(staging, encrypt_private_key(key, target), PRIVATE_MODE)
    try:
        os.replace(staging, path)
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise KeyStoreError(f"cannot replace {path}: {exc.strerror}") from None
    log.info("re-encrypted private key %s in %s", key_id(key.public_key()), path.name)
    return private_key_kdf(path)


def write_public_key(path: Path, key: Ed25519PublicKey) -> None:
    """Write ``key`` as SubjectPublicKeyInfo PEM to a new file."""
    _write_new_file(path, export_public_key(key), PUBLIC_MODE)


def load_private_key(path: Path, passphrase: bytes) -> Ed25519PrivateKey:
    """Load an encrypted Ed25519 private key written by :func:`write_private_key`.

    Refuses a file that group or others can access (mode wider than 0600), an
    unencrypted key, and any key that is not Ed25519.
    """
    _require_passphrase(passphrase)
    data = _read_private_file(path)
    try:
        key = load_pem_private_key(data, password=passphrase)
    except ValueError as exc:
        # pyca says "Incorrect password" for a wrong passphrase and something
        # else for a file that is not a key at all; tell the two apart. About one
        # wrong passphrase in 256 decrypts to bytes whose padding happens to check
        # out, and then pyca reports bad key data instead: an encrypted key that
        # does not open is a passphrase problem either way.
        message = str(exc).lower()
        if b"ENCRYPTED PRIVATE KEY" in data or "password" in message or "decrypt" in message:
            raise PassphraseError(
                f"wrong passphrase for {path.name} (or the key file is damaged)"
            ) from None
        raise KeyStoreError(f"{path.name} is not a PEM private key") from None
    except TypeError:
        raise KeyStoreError(
            f"{path.name} holds an unencrypted private key; sealtrace only uses encrypted keys "
            "(re-encrypt it with a passphrase)"
        ) from None
    except Exception:  # pyca raises UnsupportedAlgorithm and others for odd files
        raise KeyStoreError(f"{path.name} cannot be read as a private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path.name} is not an Ed25519 private key")
    log.debug("loaded private key %s from %s", key_id(key.public_key()), path.name)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Load an Ed25519 public key (SubjectPublicKeyInfo PEM)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from None
    return public_key_from_pem(data, what=path.name)


def public_key_from_pem(data: bytes, *, what: str = "the data") -> Ed25519PublicKey:
    """Parse an Ed25519 public key from SubjectPublicKeyInfo PEM bytes."""
    try:
        key = load_pem_public_key(data)
    except Exception:  # ValueError for bad PEM, UnsupportedAlgorithm for odd keys
        raise KeyStoreError(f"{what} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyStoreError(f"{what} is not an Ed25519 public key")
    return key


def export_public_key(key: Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM."""
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def passphrase_from_env(*, prompt: bool, confirm: bool = False) -> bytes:
    """The key passphrase from ``SEALTRACE_KEY_PASSPHRASE``, else from the terminal.

    The terminal is asked only when ``prompt`` is true and stdin is a TTY (a
    pipeline never blocks on a hidden prompt). ``confirm`` asks twice, for a
    passphrase that is about to protect a new key.
    """
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        if not value:
            raise PassphraseError(f"{PASSPHRASE_ENV} is set but empty")
        return value.encode("utf-8")
    if prompt and sys.stdin.isatty():
        first = getpass.getpass("Key passphrase: ")
        if not first:
            raise PassphraseError("an empty passphrase is not allowed")
        if confirm and getpass.getpass("Repeat passphrase: ") != first:
            raise PassphraseError("the two passphrases differ")
        return first.encode("utf-8")
    raise PassphraseError(f"set {PASSPHRASE_ENV} or run interactively")


def _require_passphrase(passphrase: bytes) -> None:
    if not passphrase:
        raise PassphraseError("refusing to write an unencrypted private key")


def _read_private_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise KeyStoreError(f"cannot open {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        # Check the open file, not the path, so the file cannot be swapped in between.
        mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
        if os.name == "posix" and mode & 0o077:
            raise KeyStoreError(
                f"{path} is accessible by group or others (mode {mode:04o}); "
                f"run `chmod 600 {path}` and consider the key exposed"
            )
        return handle.read()


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyStoreError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyStoreError(f"cannot create {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise KeyStoreError(f"cannot write {path}: {exc.strerror}") from None
