"""Keys in a PKCS#11 token (SoftHSM2): sign inside, verify like any file key."""

from __future__ import annotations

import logging
import os
import subprocess
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from authn.code import ProductCode
from authn.errors import InvalidInput, KeyStoreError, PassphraseError, SealtraceError
from authn.signing import check_signature, key_id, raw_public_key, sign_code
from keys.authority import issue_line_certificate
from keys.filestore import generate_key_files
from keys.sample import gtin_with_prefix, sample_hierarchy
from keys.signers import load_signer, open_signer
from keys.trust import build_trust_list

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PIN = "246810"
TOKEN = "sealtrace-test"


@pytest.fixture(scope="module")
def token(softhsm_module: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh SoftHSM2 token in a temporary directory; yields the module path.

    SoftHSM reads SOFTHSM2_CONF once, when the module is first initialised in
    the process, so the token is created before any test loads the module.
    """
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN,
             "--pin", PIN, "--so-pin", "13579111"],
            check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        )  # fmt: skip
        yield softhsm_module


def spec(module: str, label: str) -> str:
    return f"pkcs11:module={module};token={TOKEN};object={label}"


@pytest.mark.hsm
def test_hsm_signature_verifies_like_a_file_key(token: str) -> None:
    from keys.pkcs11 import Pkcs11Signer, Pkcs11Spec, generate_pkcs11_key

    public = generate_pkcs11_key(Pkcs11Spec.parse(spec(token, "line-1")), PIN)
    with Pkcs11Signer(Pkcs11Spec.parse(spec(token, "line-1")), PIN) as signer:
        assert raw_public_key(signer.public_key()) == raw_public_key(public)
        code = sign_code(ProductCode(gtin=gtin_with_prefix("9506000"), serial="HSM1"), signer)
        result = check_signature(code, [public])
        assert result.valid
        assert result.key_id == key_id(public)
        # The same signature fails once the data changes: it really is over the code.
        forged = ProductCode(gtin=code.gtin, serial="HSM2", signature=code.signature)
        assert not check_signature(forged, [public]).valid


@pytest.mark.hsm
def test_hsm_line_key_is_genuine_through_the_trust_list(token: str) -> None:
    from keys.pkcs11 import Pkcs11Spec, generate_pkcs11_key

    h = sample_hierarchy(NOW)
    public = generate_pkcs11_key(Pkcs11Spec.parse(spec(token, "line-2")), PIN)
    cert = issue_line_certificate(
        h.brand_root, h.brand, public, name="hsm-line", prefixes=["9506000"],
        not_before=NOW, not_after=NOW + timedelta(days=30), issued_at=NOW,
    )  # fmt: skip
    tl = build_trust_list(
        h.registry, version=2, issued_at=NOW, expires_at=NOW + timedelta(days=7),
        brands=[h.brand], line_keys=[h.certificate, cert], revocations=[],
    )  # fmt: skip
    with open_signer(spec(token, "line-2"), pin=PIN) as signer:
        code = sign_code(ProductCode(gtin=gtin_with_prefix("9506000"), serial="HSM3"), signer)
    decision = tl.evaluate(code, now=NOW, registered_at=NOW, online=True)
    assert (decision.outcome, decision.certificate and decision.certificate.name) == (
        "genuine",
        "hsm-line",
    )


@pytest.mark.hsm
def test_private_key_stays_in_the_token(token: str) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    from keys.pkcs11 import Pkcs11Spec, generate_pkcs11_key

    generate_pkcs11_key(Pkcs11Spec.parse(spec(token, "line-3")), PIN)
    lib = pkcs11.lib(token)
    with lib.get_token(token_label=TOKEN).open(user_pin=PIN) as session:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="line-3")
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        with pytest.raises(AttributeSensitive):
            private[Attribute.VALUE]


@pytest.mark.hsm
def test_hsm_errors_are_clear(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from keys.pkcs11 import Pkcs11Spec, generate_pkcs11_key

    generate_pkcs11_key(Pkcs11Spec.parse(spec(token, "line-4")), PIN)
    with pytest.raises(KeyStoreError, match="already holds"):
        generate_pkcs11_key(Pkcs11Spec.parse(spec(token, "line-4")), PIN)
    with pytest.raises(PassphraseError, match="wrong PIN") as info:
        load_signer(spec(token, "line-4"), pin="000000")
    assert "000000" not in str(info.value)
    with pytest.raises(KeyStoreError, match="no Ed25519 key 'nope'"):
        load_signer(spec(token, "nope"), pin=PIN)
    with pytest.raises(KeyStoreError, match="no PKCS#11 token"):
        load_signer(f"pkcs11:module={token};token=other;object=x", pin=PIN)
    monkeypatch.delenv("SEALTRACE_PKCS11_PIN", raising=False)
    with pytest.raises(PassphraseError, match="SEALTRACE_PKCS11_PIN"):
        load_signer(spec(token, "line-4"))
    monkeypatch.setenv("SEALTRACE_PKCS11_PIN", PIN)
    with open_signer(spec(token, "line-4")) as signer:
        assert len(signer.sign(b"x")) == 64


@pytest.mark.parametrize(
    "bad",
    ["pkcs11:", "pkcs11:module=/x;token=t", "pkcs11:module=/x;token=t;object=k;pin=1",
     "pkcs11:module=/x;module=/y;token=t;object=k", "pkcs11:module;token=t;object=k"],
)  # fmt: skip
def test_bad_pkcs11_specs_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        load_signer(bad, pin=PIN)


def test_missing_module_refused() -> None:
    with pytest.raises(KeyStoreError, match="does not exist"):
        load_signer("pkcs11:module=/nonexistent/lib.so;token=t;object=k", pin=PIN)


def test_load_signer_takes_a_key_file(tmp_path: Path) -> None:
    files = generate_key_files(tmp_path, b"file passphrase")
    signer = load_signer(str(files.private_path), b"file passphrase")
    assert key_id(signer.public_key()) == files.key_id
    code = sign_code(ProductCode(gtin=gtin_with_prefix("9506000"), serial="F1"), signer)
    assert check_signature(code, [signer.public_key()]).valid


@pytest.mark.hsm
def test_hsm_operations_leak_no_pin(
    token: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # The private key cannot be read out of the token at all (test above); what
    # could leak on this path is the PIN.
    from keys.pkcs11 import Pkcs11Spec, generate_pkcs11_key

    caplog.set_level(logging.DEBUG)
    generate_pkcs11_key(Pkcs11Spec.parse(spec(token, "line-5")), PIN)
    with open_signer(spec(token, "line-5"), pin=PIN) as signer:
        assert len(signer.sign(b"data")) == 64
    errors = []
    for pin in (PIN + "9", "1"):
        try:
            load_signer(spec(token, "line-5"), pin=pin)
        except SealtraceError:
            errors.append(traceback.format_exc())
    assert len(errors) == 2
    captured = capsys.readouterr()
    for text in [captured.out, captured.err, *errors, *(r.getMessage() for r in caplog.records)]:
        assert PIN not in text


@pytest.mark.hsm
def test_cli_certifies_an_hsm_key(token: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from keys.filestore import load_public_key
    from keys.trust import TrustList
    from sealtrace.cli import app

    hsm_spec = spec(token, "cli-line")
    env = {
        "SEALTRACE_KEY_PASSPHRASE": "home passphrase",
        "SEALTRACE_PKCS11_PIN": PIN,
        "SEALTRACE_HOME": str(tmp_path / "home"),
    }
    runner = CliRunner()

    def keys(*args: str) -> str:
        result = runner.invoke(app, ["keys", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    kid = keys("new", "--pkcs11", hsm_spec, "--out", str(tmp_path / "pub"), "--name", "hsm")
    assert sorted(p.name for p in (tmp_path / "pub").iterdir()) == ["hsm.pub.pem"]
    keys("init-registry")
    keys("init-brand", "--name", "Acme", "--prefix", "9506000")
    keys("register-brand", "--brand", "acme", "--by", "op")
    pub = str(tmp_path / "pub" / "hsm.pub.pem")
    certified = keys("new-line", "--brand", "acme", "--prefix", "9506000", "--valid-days", "9",
                     "--public-key", pub)  # fmt: skip
    assert certified == kid
    assert not list((tmp_path / "home" / "keys").glob("line-*"))  # the key stays in the HSM
    keys("trustlist", "build")

    registry = load_public_key(tmp_path / "home" / "keys" / "registry.pub.pem")
    data = (tmp_path / "home" / "trustlist" / "current.json").read_bytes()
    tl = TrustList.from_signed_json(data, registry, now=datetime.now(UTC))
    with open_signer(hsm_spec, pin=PIN) as signer:
        code = sign_code(ProductCode(gtin=gtin_with_prefix("9506000"), serial="CLI1"), signer)
    decision = tl.evaluate(code, now=datetime.now(UTC), registered_at=None, online=True)
    assert (decision.outcome, decision.key_id) == ("genuine", kid)
    again = runner.invoke(
        app, ["keys", "new", "--pkcs11", hsm_spec, "--out", str(tmp_path / "o2")], env=env
    )
    assert again.exit_code == 2
    assert "already holds" in again.stderr
