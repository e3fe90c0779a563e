"""No private key material or passphrase in any log line, exception or output.

Every key operation runs with logging captured at DEBUG and stdout/stderr
captured; then the private key in every spelling (raw, hex, base64, base64url,
the PEM bodies) and the passphrase are searched for in all of it.
"""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from typer.testing import CliRunner

from authn.code import ProductCode
from authn.errors import SealtraceError
from authn.signing import sign_code
from keys.filestore import PASSPHRASE_ENV, generate_key_files, load_private_key
from keys.home import KeyHome
from keys.model import Contact
from keys.sample import gtin_with_prefix
from keys.signers import open_signer
from sealtrace.cli import app

PASSPHRASE = b"Tr0ub4dor&3-unique-marker"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def spellings(key: Ed25519PrivateKey) -> list[str]:
    """The ways a private key could leak into text."""
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    pem_body = "".join(pem.splitlines()[1:-1])
    forms = [
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(der).decode().rstrip("="),
        pem_body,
        repr(raw)[2:-1],
    ]
    return [f for f in forms if f]


def leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


def test_file_key_operations_leak_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []

    def attempt(operation: Callable[[], object]) -> None:
        try:
            operation()
        except SealtraceError:
            errors.append(traceback.format_exc())

    files = generate_key_files(tmp_path, PASSPHRASE, "line")
    key = load_private_key(files.private_path, PASSPHRASE)
    attempt(lambda: load_private_key(files.private_path, b"wrong " + PASSPHRASE))
    attempt(lambda: generate_key_files(tmp_path, PASSPHRASE, "line"))
    files.private_path.chmod(0o644)
    attempt(lambda: load_private_key(files.private_path, PASSPHRASE))
    files.private_path.chmod(0o600)
    with open_signer(str(files.private_path), PASSPHRASE) as signer:
        code = sign_code(ProductCode(gtin=gtin_with_prefix("9506000"), serial="S1"), signer)
    assert code.signature is not None

    home = KeyHome(tmp_path / "home", PASSPHRASE)
    home.init_registry()
    home.init_brand("acme", "Acme", ["9506000"], Contact(email="a@acme.example"))
    home.register_brand("acme", registered_by="op", now=NOW)
    cert = home.new_line("acme", name="l1", prefixes=["9506000"], valid_days=9, now=NOW)
    home.rotate_root("acme", now=NOW + timedelta(hours=1))
    home.revoke(cert.key_id, compromised_since=NOW, reason="test", now=NOW + timedelta(hours=2))
    trust_list, _ = home.build_trust_list(now=NOW + timedelta(hours=3), valid_days=7)
    attempt(lambda: KeyHome(tmp_path / "home", b"wrong").build_trust_list(now=NOW, valid_days=1))

    private_keys = [key] + [
        load_private_key(p, PASSPHRASE)
        for p in sorted((tmp_path / "home" / "keys").glob("*.key.pem"))
    ]
    secrets = [PASSPHRASE.decode()] + [s for k in private_keys for s in spellings(k)]
    captured = capsys.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert len(errors) == 4  # every failing operation above did fail
    assert "wrong passphrase" in errors[0]
    assert caplog.records, "the key operations are expected to log something"
    for text in (logged, captured.out, captured.err, *errors, trust_list.to_signed_json().decode()):
        assert leaks(text, secrets) == []
    # The state file and published list carry public material only.
    for path in [tmp_path / "home" / "state.json", *(tmp_path / "home").glob("trustlist/*.json")]:
        assert leaks(path.read_text(), secrets) == []


def test_cli_leaks_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {PASSPHRASE_ENV: PASSPHRASE.decode(), "SEALTRACE_HOME": str(tmp_path / "home")}
    outputs = []
    for args in (
        ["keys", "new", "--out", str(tmp_path / "k")],
        ["keys", "new", "--out", str(tmp_path / "k")],  # refused: exists
        ["keys", "init-registry"],
        ["keys", "init-brand", "--name", "Acme", "--prefix", "9506000"],
        ["keys", "register-brand", "--brand", "acme", "--by", "op"],
        ["keys", "new-line", "--brand", "acme", "--prefix", "9506000", "--valid-days", "5"],
        ["keys", "trustlist", "build"],
        ["keys", "trustlist", "show"],
    ):
        result = runner.invoke(app, args, env=env)
        outputs.append(result.output + (result.stderr or ""))
    wrong = runner.invoke(app, ["keys", "trustlist", "build"], env={**env, PASSPHRASE_ENV: "nope"})
    assert wrong.exit_code == 2
    assert "wrong passphrase" in wrong.stderr
    keys = [
        load_private_key(p, PASSPHRASE)
        for p in [*(tmp_path / "home" / "keys").glob("*.key.pem"), tmp_path / "k/signing.key.pem"]
    ]
    secrets = [PASSPHRASE.decode()] + [s for k in keys for s in spellings(k)]
    assert len(keys) == 4
    for text in [*outputs, wrong.output]:
        assert leaks(text, secrets) == []
