"""The issuer refuses, before it writes anything, a batch the verifier would call counterfeit.

Each refusal is one line on stderr, exit 2, and no batch directory, for a key
file and for an HSM key alike.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from typer.testing import CliRunner

from keys.authority import issue_line_certificate, revoke
from keys.filestore import write_private_key, write_public_key
from keys.sample import SampleHierarchy, gtin_with_prefix, sample_hierarchy
from keys.trust import build_trust_list
from sealtrace.cli.issue_cmd import issue

PASSPHRASE = "guard test passphrase"
GTIN = gtin_with_prefix("9506000")  # inside the sample brand's prefix
OTHER_GTIN = "4006381333931"  # a real GTIN outside it
FUTURE = (datetime.now(UTC) + timedelta(days=400)).strftime("%y%m%d")


def now() -> datetime:
    return datetime.now(UTC)


def trust_files(
    tmp: Path, h: SampleHierarchy, *, certs: list[tuple[Ed25519PublicKey, datetime, int]]
) -> tuple[Path, Path]:
    """A signed trust list certifying each (key, not_before, days) and the registry key."""
    lines = [
        issue_line_certificate(
            h.brand_root, h.brand, key, name=f"line-{i}", prefixes=["9506000"],
            not_before=start, not_after=start + timedelta(days=days), issued_at=start,
        )
        for i, (key, start, days) in enumerate(certs)
    ]  # fmt: skip
    listed = build_trust_list(
        h.registry, version=1, issued_at=now(), expires_at=now() + timedelta(days=7),
        brands=[h.brand], line_keys=lines, revocations=[],
    )  # fmt: skip
    (tmp / "trust.json").write_bytes(listed.to_signed_json())
    write_public_key(tmp / "registry.pub.pem", h.registry.public_key())
    return tmp / "trust.json", tmp / "registry.pub.pem"


@pytest.fixture
def world(tmp_path: Path) -> tuple[SampleHierarchy, Path]:
    h = sample_hierarchy(now() - timedelta(days=1))
    key_path = tmp_path / "line.key.pem"
    write_private_key(key_path, h.line_key, PASSPHRASE.encode())
    return h, key_path


def run(args: list[str], env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    app = typer.Typer()
    app.command()(issue)
    result = CliRunner().invoke(
        app, args, env={"SEALTRACE_KEY_PASSPHRASE": PASSPHRASE, **(env or {})}
    )
    return result.exit_code, result.stdout, result.stderr


def batch_args(tmp: Path, key: str, gtin: str = GTIN, expiry: str = FUTURE) -> list[str]:
    return [
        "--gtin", gtin, "--count", "3", "--key", key, "--out", str(tmp / "batch"),
        "--registry", str(tmp / "serials.sqlite"), "--expiry", expiry,
    ]  # fmt: skip


def assert_refused(tmp: Path, result: tuple[int, str, str], words: str) -> None:
    code, _, stderr = result
    assert code == 2, stderr
    assert stderr.startswith("error: ")
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert words in stderr
    assert not (tmp / "batch").exists(), "nothing is written for a refused batch"
    assert not (tmp / "serials.sqlite").exists(), "no serial is drawn for a refused batch"


def test_a_certified_key_inside_its_prefixes_and_window_issues(
    tmp_path: Path, world: tuple[SampleHierarchy, Path]
) -> None:
    h, key = world
    trust, registry = trust_files(tmp_path, h, certs=[(h.line_key.public_key(), now(), 30)])
    args = [*batch_args(tmp_path, str(key)), "--trust-list", str(trust)]
    code, stdout, stderr = run([*args, "--registry-key", str(registry)])
    assert code == 0, stderr
    assert "3 codes" in stdout
    assert (tmp_path / "batch" / "manifest.csv").exists()


def test_gtin_outside_the_certified_prefixes_is_refused(
    tmp_path: Path, world: tuple[SampleHierarchy, Path]
) -> None:
    h, key = world
    trust, registry = trust_files(tmp_path, h, certs=[(h.line_key.public_key(), now(), 30)])
    env = {"SEALTRACE_TRUST_LIST": str(trust), "SEALTRACE_REGISTRY_PUBLIC_KEY": str(registry)}
    result = run(batch_args(tmp_path, str(key), gtin=OTHER_GTIN), env)
    assert_refused(tmp_path, result, "outside line key")


@pytest.mark.parametrize("opens_in_days", [10, -40], ids=["not-yet-open", "ended"])
def test_now_outside_the_signing_window_is_refused(
    tmp_path: Path, world: tuple[SampleHierarchy, Path], opens_in_days: int
) -> None:
    h, key = world
    start = now() + timedelta(days=opens_in_days)
    trust, registry = trust_files(tmp_path, h, certs=[(h.line_key.public_key(), start, 30)])
    args = [*batch_args(tmp_path, str(key)), "--trust-list", str(trust)]
    assert_refused(tmp_path, run([*args, "--registry-key", str(registry)]), "may sign only from")


def test_a_key_the_trust_list_does_not_certify_is_refused(
    tmp_path: Path, world: tuple[SampleHierarchy, Path]
) -> None:
    h, key = world
    stranger = Ed25519PrivateKey.generate().public_key()
    trust, registry = trust_files(tmp_path, h, certs=[(stranger, now(), 30)])
    args = [*batch_args(tmp_path, str(key)), "--trust-list", str(trust)]
    assert_refused(tmp_path, run([*args, "--registry-key", str(registry)]), "is not certified")


def test_a_revoked_key_is_refused(tmp_path: Path, world: tuple[SampleHierarchy, Path]) -> None:
    h, key = world
    revoked = revoke(h.certificate, compromised_since=now(), revoked_at=now(), reason="stolen")
    listed = build_trust_list(
        h.registry, version=2, issued_at=now(), expires_at=now() + timedelta(days=7),
        brands=[h.brand], line_keys=[h.certificate], revocations=[revoked],
    )  # fmt: skip
    (tmp_path / "trust.json").write_bytes(listed.to_signed_json())
    write_public_key(tmp_path / "registry.pub.pem", h.registry.public_key())
    args = [*batch_args(tmp_path, str(key)), "--trust-list", str(tmp_path / "trust.json")]
    result = run([*args, "--registry-key", str(tmp_path / "registry.pub.pem")])
    assert_refused(tmp_path, result, "revoked")


def test_a_trust_list_signed_by_another_registry_is_refused(
    tmp_path: Path, world: tuple[SampleHierarchy, Path]
) -> None:
    h, key = world
    trust, _ = trust_files(tmp_path, h, certs=[(h.line_key.public_key(), now(), 30)])
    write_public_key(tmp_path / "other.pub.pem", Ed25519PrivateKey.generate().public_key())
    args = [*batch_args(tmp_path, str(key)), "--trust-list", str(trust)]
    result = run([*args, "--registry-key", str(tmp_path / "other.pub.pem")])
    assert_refused(tmp_path, result, "not signed by the registry key")


def test_no_trust_list_is_refused_unless_uncertified_is_said(
    tmp_path: Path, world: tuple[SampleHierarchy, Path]
) -> None:
    _, key = world
    env: dict[str, str | None] = {
        "SEALTRACE_TRUST_LIST": None,
        "SEALTRACE_REGISTRY_PUBLIC_KEY": None,
    }
    assert_refused(tmp_path, run(batch_args(tmp_path, str(key)), env), "--trust-list")
    code, _, stderr = run([*batch_args(tmp_path, str(key)), "--uncertified"], env)
    assert code == 0, stderr


@pytest.mark.parametrize("uncertified", [False, True])
def test_an_expiry_already_past_is_refused_unless_allowed(
    tmp_path: Path, world: tuple[SampleHierarchy, Path], uncertified: bool
) -> None:
    h, key = world
    trust, registry = trust_files(tmp_path, h, certs=[(h.line_key.public_key(), now(), 30)])
    past = (now() - timedelta(days=3)).strftime("%y%m%d")
    args = batch_args(tmp_path, str(key), expiry=past)
    args += ["--uncertified"] if uncertified else ["--trust-list", str(trust)]
    args += ["--registry-key", str(registry)]
    assert_refused(tmp_path, run(args), "already past")
    code, _, stderr = run([*args, "--allow-past-expiry"])
    assert code == 0, stderr


def test_an_impossible_expiry_date_is_refused(
    tmp_path: Path, world: tuple[SampleHierarchy, Path]
) -> None:
    _, key = world
    result = run([*batch_args(tmp_path, str(key), expiry="281331"), "--uncertified"])
    assert_refused(tmp_path, result, "(17)")


@pytest.fixture
def hsm_token(softhsm_module: str, tmp_path: Path) -> tuple[str, dict[str, str]]:
    tokens = tmp_path / "softhsm"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "guard", "--pin", "1234",
         "--so-pin", "12345678"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    return f"pkcs11:module={softhsm_module};token=guard;object=line", env


@pytest.mark.hsm
def test_an_hsm_key_is_checked_like_a_file_key(
    tmp_path: Path, hsm_token: tuple[str, dict[str, str]]
) -> None:
    """In a subprocess: SoftHSM reads its configuration once per process."""
    import sys

    spec, env = hsm_token
    generate = (
        "import sys\nfrom keys.pkcs11 import Pkcs11Spec, generate_pkcs11_key\n"
        "from keys.filestore import write_public_key\n"
        "write_public_key(__import__('pathlib').Path(sys.argv[2]),"
        " generate_pkcs11_key(Pkcs11Spec.parse(sys.argv[1]), '1234'))\n"
    )
    subprocess.run(
        [sys.executable, "-c", generate, spec, str(tmp_path / "hsm.pub.pem")],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    from keys.filestore import load_public_key

    h = sample_hierarchy(now() - timedelta(days=1))
    hsm_public = load_public_key(tmp_path / "hsm.pub.pem")
    trust, registry = trust_files(tmp_path, h, certs=[(hsm_public, now(), 30)])
    runner = (
        "import sys, typer\nfrom sealtrace.cli.issue_cmd import issue\n"
        "app = typer.Typer()\napp.command()(issue)\napp(sys.argv[1:])\n"
    )
    base = [sys.executable, "-c", runner, "--trust-list", str(trust), "--registry-key",
            str(registry)]  # fmt: skip
    env = {**env, "SEALTRACE_PKCS11_PIN": "1234"}
    refused = subprocess.run(
        [*base, *batch_args(tmp_path, spec, gtin=OTHER_GTIN)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert_refused(tmp_path, (refused.returncode, refused.stdout, refused.stderr), "outside")
    issued = subprocess.run(
        [*base, *batch_args(tmp_path, spec)], env=env, capture_output=True, text=True, check=False
    )
    assert issued.returncode == 0, issued.stderr
    assert (tmp_path / "batch" / "manifest.csv").exists()


def test_off_a_terminal_a_long_batch_prints_plain_progress_lines(tmp_path: Path) -> None:
    import sys

    key_path = tmp_path / "k.key.pem"
    write_private_key(key_path, Ed25519PrivateKey.generate(), PASSPHRASE.encode())
    runner = (
        "import sys, typer\nfrom sealtrace.cli.issue_cmd import issue\n"
        "app = typer.Typer()\napp.command()(issue)\napp(sys.argv[1:])\n"
    )
    env = {**os.environ, "SEALTRACE_KEY_PASSPHRASE": PASSPHRASE,
           "SEALTRACE_PROGRESS_SECONDS": "0"}  # fmt: skip
    args = [*batch_args(tmp_path, str(key_path)), "--count", "3000", "--uncertified",
            "--chunk-size", "500"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", runner, *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [x for x in done.stderr.splitlines() if x.startswith("issued ")]
    assert lines[-1].startswith("issued 3,000 of 3,000")
    assert len(lines) >= 2
    assert "\x1b[" not in done.stderr  # no bar drawing
