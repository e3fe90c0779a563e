"""A worker starts without paying for its keys or its heavy libraries: the log and bundle
keys open on first use (``sealtrace serve`` opens them once before any worker, so a wrong
passphrase still stops the start), and importing the app loads no image, array or HTTP
client library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from authn.errors import KeyStoreError, PassphraseError
from keys.filestore import write_private_key
from keys.signers import LazyFileSigner
from mobile_api.bundle_service import load_bundle_signer
from mobile_api.settings import MobileSettings
from sealtrace.cli.serve_cmd import check_keys
from verifier.settings import Settings

PASS = b"correct horse battery staple"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def key_file(tmp_path: Path) -> tuple[Path, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    write_private_key(tmp_path / "bundle.key.pem", key, PASS)
    return tmp_path / "bundle.key.pem", key


def test_a_file_key_opens_on_first_use(key_file: tuple[Path, Ed25519PrivateKey]) -> None:
    path, key = key_file
    wrong = LazyFileSigner(path, b"not the passphrase")  # nothing decrypted yet: no error
    with pytest.raises(PassphraseError):
        wrong.sign(b"data")
    signer = LazyFileSigner(path, PASS)
    assert signer._key is None
    key.public_key().verify(signer.sign(b"data"), b"data")
    assert signer.public_key() == key.public_key()
    with pytest.raises(KeyStoreError):
        LazyFileSigner(path.with_name("missing.pem"), PASS)  # a missing file is told at once


def test_the_bundle_key_is_opened_lazily(key_file: tuple[Path, Ed25519PrivateKey]) -> None:
    path, key = key_file
    mobile = MobileSettings(  # type: ignore[call-arg]
        _env_file=None, bundle_key=path, bundle_key_passphrase=SecretStr(PASS.decode())
    )
    signer = load_bundle_signer(mobile, environment="production")
    assert isinstance(signer, LazyFileSigner)
    assert signer.public_key() == key.public_key()


def test_serve_opens_the_keys_once_before_the_workers(
    key_file: tuple[Path, Ed25519PrivateKey], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = key_file
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="development",
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        log_key=path,
        log_key_passphrase=SecretStr("wrong passphrase"),
    )
    with pytest.raises(PassphraseError):
        check_keys(settings)
    monkeypatch.setenv("SEALTRACE_MOBILE_BUNDLE_KEY", str(path))
    monkeypatch.setenv("SEALTRACE_MOBILE_BUNDLE_KEY_PASSPHRASE", "wrong passphrase")
    right = settings.model_copy(update={"log_key_passphrase": SecretStr(PASS.decode())})
    with pytest.raises(PassphraseError):
        check_keys(right)  # the log key opens; the bundle key does not
    monkeypatch.setenv("SEALTRACE_MOBILE_BUNDLE_KEY_PASSPHRASE", PASS.decode())
    check_keys(right)


def test_importing_the_app_loads_no_heavy_library() -> None:
    heavy = ["PIL", "zxingcpp", "numpy", "httpx", "fpdf"]
    script = (
        "import json, sys; import mobile_api.app; "
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(output) == []
