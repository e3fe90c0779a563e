"""Key files resist guessing: scrypt PBES2 files, old PBKDF2 files still read, and upgrades."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)
from typer.testing import CliRunner

from authn.errors import KeyStoreError, PassphraseError
from keys.filestore import (
    PASSPHRASE_ENV,
    generate_key_files,
    load_private_key,
    private_key_kdf,
    reencrypt_private_key,
)
from keys.pkcs8 import (
    SCRYPT_LOG2_N,
    WORK_FACTOR_ENV,
    encrypt_private_key,
    encrypted_key_kdf,
    work_factor,
)
from sealtrace.cli import app

PASS = b"correct horse battery staple"


def _old_style_key(path: Path, key: Ed25519PrivateKey) -> None:
    """A key file as earlier releases wrote it: PBKDF2 with 2,048 iterations."""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(PASS))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def test_new_key_files_use_scrypt_at_owasps_minimum_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(WORK_FACTOR_ENV, raising=False)
    assert SCRYPT_LOG2_N == 17
    files = generate_key_files(tmp_path, PASS)
    info = private_key_kdf(files.private_path)
    assert (info.name, info.cost) == ("scrypt", 1 << 17)
    assert info.current
    assert info.describe() == "scrypt N=2^17"


@pytest.mark.parametrize("value", ["13", "23", "x", "-1"])
def test_the_work_factor_setting_has_a_floor_and_a_ceiling(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORK_FACTOR_ENV, value)
    with pytest.raises(KeyStoreError, match="from 14 to 22"):
        work_factor()


def test_a_file_below_the_configured_work_factor_is_not_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(WORK_FACTOR_ENV, "15")
    pem = encrypt_private_key(Ed25519PrivateKey.generate(), PASS, log2_n=14)
    assert not encrypted_key_kdf(pem).current
    assert encrypted_key_kdf(encrypt_private_key(Ed25519PrivateKey.generate(), PASS)).current


def test_the_scrypt_file_is_standard_pkcs8_read_by_cryptography_itself() -> None:
    key = Ed25519PrivateKey.generate()
    pem = encrypt_private_key(key, PASS, log2_n=14)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    loaded = load_pem_private_key(pem, password=PASS)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert loaded.private_bytes_raw() == key.private_bytes_raw()
    with pytest.raises(ValueError, match="Incorrect password"):
        load_pem_private_key(pem, password=b"wrong")
    assert encrypted_key_kdf(pem).cost == 1 << 14


def test_a_wrong_passphrase_on_a_scrypt_file_is_a_passphrase_error(tmp_path: Path) -> None:
    files = generate_key_files(tmp_path, PASS)
    with pytest.raises(PassphraseError):
        load_private_key(files.private_path, b"not it")


def test_old_pbkdf2_files_still_load_and_are_reported_weak(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "old.key.pem"
    _old_style_key(path, key)
    assert load_private_key(path, PASS).private_bytes_raw() == key.private_bytes_raw()
    info = private_key_kdf(path)
    assert info.name == "pbkdf2"
    assert info.cost == 2048
    assert not info.current


def test_reencrypt_upgrades_in_place_keeping_the_key_and_mode(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "old.key.pem"
    _old_style_key(path, key)
    info = reencrypt_private_key(path, PASS)
    assert info.current
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_key(path, PASS).private_bytes_raw() == key.private_bytes_raw()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.key.pem"]


def test_reencrypt_with_a_wrong_passphrase_changes_nothing(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "old.key.pem"
    _old_style_key(path, key)
    before = path.read_bytes()
    with pytest.raises(PassphraseError):
        reencrypt_private_key(path, b"wrong")
    assert path.read_bytes() == before


def test_a_file_that_is_not_an_encrypted_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.key.pem"
    path.write_bytes(
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
    )
    path.chmod(0o600)
    with pytest.raises(KeyStoreError):
        private_key_kdf(path)


def test_cli_kdf_and_reencrypt_change_passphrase(tmp_path: Path) -> None:
    runner = CliRunner()
    key = Ed25519PrivateKey.generate()
    _old_style_key(tmp_path / "a.key.pem", key)
    env = {PASSPHRASE_ENV: PASS.decode()}
    weak = runner.invoke(app, ["keys", "kdf", str(tmp_path)], env=env)
    assert weak.exit_code == 1
    assert "PBKDF2, 2048 iterations (weak" in weak.output
    changed = runner.invoke(
        app,
        ["keys", "reencrypt", str(tmp_path)],
        env={**env, "SEALTRACE_NEW_KEY_PASSPHRASE": "a new passphrase"},
    )
    assert changed.exit_code == 0, changed.output
    assert load_private_key(tmp_path / "a.key.pem", b"a new passphrase").private_bytes_raw() == (
        key.private_bytes_raw()
    )
    current = runner.invoke(app, ["keys", "kdf", str(tmp_path / "a.key.pem")], env=env)
    assert current.exit_code == 0
    assert f"scrypt N=2^{work_factor()} (current)" in current.output
