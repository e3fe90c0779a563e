"""Encrypted key files: generation, permissions, loading, passphrases, and `keys new`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from typer.testing import CliRunner

from authn.errors import InvalidInput, KeyStoreError, PassphraseError
from authn.signing import key_id, raw_public_key
from keys.filestore import (
    PASSPHRASE_ENV,
    export_public_key,
    generate_key_files,
    load_private_key,
    load_public_key,
    passphrase_from_env,
)
from sealtrace.cli import app

PASS = b"correct horse battery staple"


def test_generate_writes_encrypted_private_and_public_key(tmp_path: Path) -> None:
    files = generate_key_files(tmp_path / "k", PASS, name="line-1")
    assert files.private_path.name == "line-1.key.pem"
    assert files.public_path.name == "line-1.pub.pem"
    assert files.private_path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(files.private_path.stat().st_mode) == 0o600
    private = load_private_key(files.private_path, PASS)
    public = load_public_key(files.public_path)
    assert raw_public_key(private.public_key()) == raw_public_key(public)
    assert files.key_id == key_id(public)
    assert export_public_key(public) == files.public_path.read_bytes()


def test_private_key_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        files = generate_key_files(tmp_path, PASS)
    finally:
        os.umask(old)
    assert stat.S_IMODE(files.private_path.stat().st_mode) == 0o600


def test_empty_passphrase_refused_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="refusing to write an unencrypted private key"):
        generate_key_files(tmp_path, b"")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("existing", ["signing.key.pem", "signing.pub.pem"])
def test_never_overwrites_an_existing_key(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_bytes(b"precious")
    with pytest.raises(KeyStoreError, match="already exists"):
        generate_key_files(tmp_path, PASS)
    assert (tmp_path / existing).read_bytes() == b"precious"


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "x" * 65])
def test_bad_key_names_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput):
        generate_key_files(tmp_path, PASS, name=name)


def test_wrong_passphrase_names_the_file_and_nothing_else(tmp_path: Path) -> None:
    files = generate_key_files(tmp_path, PASS)
    with pytest.raises(PassphraseError) as info:
        load_private_key(files.private_path, b"wrong passphrase")
    assert str(info.value) == "wrong passphrase for signing.key.pem (or the key file is damaged)"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_a_wrong_passphrase_whose_padding_checks_out_is_still_a_passphrase_error(
    tmp_path: Path,
) -> None:
    # About one wrong passphrase in 256 decrypts to valid padding; pyca then reports bad key
    # data, not a bad password. Find one such passphrase for this key, and load with it.
    # The search runs on a PBKDF2 file of earlier releases (still read): both formats end
    # in AES-CBC padding, and a guess there costs 0.2 ms instead of scrypt's tens of ms.
    path = tmp_path / "old.key.pem"
    data = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(PASS)
    )
    path.write_bytes(data)
    path.chmod(0o600)
    unlucky = None
    for attempt in range(5000):
        guess = f"guess-{attempt}".encode()
        try:
            load_pem_private_key(data, password=guess)
        except ValueError as exc:
            if "password" not in str(exc).lower() and "decrypt" not in str(exc).lower():
                unlucky = guess
                break
    assert unlucky is not None, "no passphrase in 5,000 tries decrypted to valid padding"
    with pytest.raises(PassphraseError):
        load_private_key(path, unlucky)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o610])
def test_group_or_other_accessible_private_key_refused(tmp_path: Path, mode: int) -> None:
    files = generate_key_files(tmp_path, PASS)
    files.private_path.chmod(mode)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        load_private_key(files.private_path, PASS)


def test_owner_only_read_mode_accepted(tmp_path: Path) -> None:
    files = generate_key_files(tmp_path, PASS)
    files.private_path.chmod(0o400)
    assert isinstance(load_private_key(files.private_path, PASS), Ed25519PrivateKey)


def _write(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def test_unencrypted_private_key_refused(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(KeyStoreError, match="unencrypted"):
        load_private_key(_write(tmp_path / "plain.key.pem", pem), PASS)


def test_non_ed25519_keys_refused(tmp_path: Path) -> None:
    ec = generate_private_key(SECP256R1())
    pem = ec.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(PASS))
    with pytest.raises(KeyStoreError, match="not an Ed25519 private key"):
        load_private_key(_write(tmp_path / "ec.key.pem", pem), PASS)
    pub = ec.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "ec.pub.pem").write_bytes(pub)
    with pytest.raises(KeyStoreError, match="not an Ed25519 public key"):
        load_public_key(tmp_path / "ec.pub.pem")


@pytest.mark.parametrize("content", [b"", b"not a key", b"-----BEGIN PUBLIC KEY-----\nAAAA\n"])
def test_garbage_files_give_keystore_errors(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(KeyStoreError):
        load_private_key(_write(tmp_path / "bad.key.pem", content), PASS)
    (tmp_path / "bad.pub.pem").write_bytes(content)
    with pytest.raises(KeyStoreError):
        load_public_key(tmp_path / "bad.pub.pem")


def test_missing_files_give_keystore_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="cannot open"):
        load_private_key(tmp_path / "none.key.pem", PASS)
    with pytest.raises(KeyStoreError, match="cannot read"):
        load_public_key(tmp_path / "none.pub.pem")


def test_passphrase_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "s3cret ü")
    assert passphrase_from_env(prompt=False) == "s3cret ü".encode()
    monkeypatch.setenv(PASSPHRASE_ENV, "")
    with pytest.raises(PassphraseError, match="empty"):
        passphrase_from_env(prompt=False)
    monkeypatch.delenv(PASSPHRASE_ENV)
    with pytest.raises(PassphraseError, match="set SEALTRACE_KEY_PASSPHRASE or run interactively"):
        passphrase_from_env(prompt=False)


def test_cli_keys_new_prints_key_id_and_refuses_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {PASSPHRASE_ENV: "pw for cli"}
    out = tmp_path / "keys"
    result = runner.invoke(app, ["keys", "new", "--out", str(out), "--name", "l1"], env=env)
    assert result.exit_code == 0, result.output
    kid = result.stdout.strip()
    assert kid == key_id(load_public_key(out / "l1.pub.pem"))
    again = runner.invoke(app, ["keys", "new", "--out", str(out), "--name", "l1"], env=env)
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert "Traceback" not in again.output


def test_cli_keys_new_without_passphrase_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["keys", "new", "--out", str(tmp_path)], env={PASSPHRASE_ENV: None}
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: set SEALTRACE_KEY_PASSPHRASE or run interactively"
    assert list(tmp_path.iterdir()) == []
