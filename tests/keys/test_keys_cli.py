"""`sealtrace keys ...` end to end in a temporary home directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from authn.code import ProductCode
from authn.signing import sign_code
from keys.canonical import parse_time
from keys.filestore import PASSPHRASE_ENV, load_private_key, load_public_key
from keys.sample import gtin_with_prefix
from keys.trust import TrustList
from sealtrace.cli import app

PASS = "cli passphrase"


class Cli:
    """`sealtrace keys` with a home directory and passphrase in the environment."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {PASSPHRASE_ENV: PASS, "SEALTRACE_HOME": str(home)}

    def __call__(self, *args: str, passphrase: str = PASS) -> Result:
        env = {**self.env, PASSPHRASE_ENV: passphrase}
        return CliRunner().invoke(app, ["keys", *args], env=env)


@pytest.fixture
def invoke(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result.stdout.strip()


def fails(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_full_registry_workflow(invoke: Cli, tmp_path: Path) -> None:
    home = invoke.home
    ok(invoke("init-registry"))
    fails(invoke("init-registry"), "already has a registry key")
    brand = ok(
        invoke("init-brand", "--name", "Acme Ltd", "--prefix", "9506000",
               "--contact", "bp@acme.example", "--contact", "https://acme.example/report")
    )  # fmt: skip
    assert brand == "acme-ltd"
    fails(invoke("new-line", "--brand", "acme-ltd", "--prefix", "9506000", "--valid-days", "3"),
          "not registered")  # fmt: skip
    assert "by officer-1" in ok(
        invoke("register-brand", "--brand", "acme-ltd", "--by", "officer-1")
    )
    fails(invoke("new-line", "--brand", "acme-ltd", "--prefix", "4000001", "--valid-days", "3"),
          "not all within brand")  # fmt: skip
    kid = ok(
        invoke("new-line", "--brand", "acme-ltd", "--prefix", "95060001", "--valid-days", "30")
    )
    assert len(kid) == 4
    assert "trust list version 1" in ok(invoke("trustlist", "build"))
    v1 = home / "trustlist" / "v1.json"

    # A code signed with the line key file is genuine under the published list.
    line = load_private_key(home / "keys" / "line-acme-ltd-line-1.key.pem", PASS.encode())
    code = sign_code(ProductCode(gtin=gtin_with_prefix("95060001"), serial="C1"), line)
    registry = load_public_key(home / "keys" / "registry.pub.pem")
    issued = parse_time(json.loads(v1.read_text())["signed"]["issued_at"], "issued_at")
    tl = TrustList.from_signed_json(v1.read_bytes(), registry, now=issued)
    assert tl.evaluate(code, now=issued, registered_at=None, online=True).genuine

    assert "new root" in ok(invoke("rotate-root", "--brand", "acme-ltd"))
    revoked = ok(invoke("revoke", "--kid", kid, "--compromised-since", "2026-01-01T00:00:00Z"))
    assert revoked == f"revoked {kid}, compromised since 2026-01-01T00:00:00Z"
    fails(invoke("revoke", "--kid", kid, "--compromised-since", "now"), "already revoked")
    fails(invoke("revoke", "--kid", "ZZZZ", "--compromised-since", "now"), "no line key")
    fails(invoke("revoke", "--kid", kid, "--compromised-since", "2026-01-01"), "no time zone")
    built = ok(invoke("trustlist", "build", "--valid-days", "3"))
    assert "trust list version 2" in built
    assert "root_rotated acme-ltd" in built
    assert f"key_revoked {kid}" in built

    shown = ok(invoke("trustlist", "show"))
    assert "trust list version 2" in shown
    assert "bp@acme.example" in shown
    assert f"revoked {kid}: compromised since 2026-01-01T00:00:00Z" in shown

    assert "OK: trust list version 1" in ok(invoke("trustlist", "verify", str(v1)))
    fails(invoke("trustlist", "verify", str(v1), "--held-version", "2"), "older than the held")
    tampered = json.loads(v1.read_text())
    tampered["signed"]["brands"][0]["name"] = "Evil"
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    fails(invoke("trustlist", "verify", str(tmp_path / "tampered.json")), "not signed by")
    fails(invoke("trustlist", "verify", str(tmp_path / "none.json")), "cannot read")


def test_wrong_passphrase_is_one_clear_line(invoke: Cli) -> None:
    ok(invoke("init-registry"))
    fails(
        invoke("trustlist", "build", passphrase="wrong"),
        "wrong passphrase for registry.key.pem (or the key file is damaged)",
    )
    fails(invoke("trustlist", "build", passphrase=""), "SEALTRACE_KEY_PASSPHRASE is set but empty")


@pytest.mark.parametrize(
    "command",
    ["new", "init-registry", "init-brand", "register-brand", "new-line", "rotate-root",
     "revoke", "trustlist build", "trustlist show", "trustlist verify"],
)  # fmt: skip
def test_every_command_explains_itself(command: str) -> None:
    result = CliRunner().invoke(app, ["keys", *command.split(), "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    # The first docstring line shows up as the description.
    assert len(result.output.splitlines()) > 5


def test_bad_contact_refused(invoke: Cli) -> None:
    fails(invoke("init-brand", "--name", "X", "--prefix", "9506000", "--contact", "carrier pigeon"),
          "not an email")  # fmt: skip


def test_overlapping_prefix_cannot_be_registered_twice(invoke: Cli) -> None:
    ok(invoke("init-registry"))
    ok(invoke("init-brand", "--name", "Acme", "--prefix", "9506000"))
    ok(invoke("register-brand", "--brand", "acme", "--by", "op"))
    ok(invoke("init-brand", "--name", "Copycat", "--prefix", "95060001"))
    fails(invoke("register-brand", "--brand", "copycat", "--by", "op"), "overlaps 9506000")
    fails(invoke("register-brand", "--brand", "acme", "--by", "op"), "already registered")
    fails(invoke("register-brand", "--brand", "ghost", "--by", "op"), "run init-brand first")
