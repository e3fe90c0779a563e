"""`sealtrace code ...` and `make run`'s demo, driven as a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from sealtrace.cli import app

PASS = "correct horse battery staple"
runner = CliRunner()


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keys")
    result = runner.invoke(
        app, ["keys", "new", "--out", str(out)], env={"SEALTRACE_KEY_PASSPHRASE": PASS}
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"[A-Za-z0-9_-]{4}", result.output)
    return out


def sign(keydir: Path, *extra: str) -> str:
    result = runner.invoke(
        app,
        [
            "code",
            "sign",
            "--key",
            str(keydir / "signing.key.pem"),
            "--gtin",
            "4006381333931",
            "--serial",
            "7KQ2M9XH4R0WT",
            "--lot",
            "LOT2026A",
            "--expiry",
            "271231",
            *extra,
        ],
        env={"SEALTRACE_KEY_PASSPHRASE": PASS},
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def verify(keydir: Path, text: str) -> tuple[int, dict[str, object] | None]:
    result = runner.invoke(
        app, ["code", "verify", text, "--public-key", str(keydir / "signing.pub.pem"), "--json"]
    )
    return result.exit_code, json.loads(result.stdout) if result.exit_code in (0, 1) else None


def test_sign_then_verify(keydir: Path) -> None:
    uri = sign(keydir)
    assert uri.startswith(
        "https://id.sealtrace.example/01/04006381333931/10/LOT2026A/21/7KQ2M9XH4R0WT?"
    )
    code, out = verify(keydir, uri)
    assert code == 0
    assert out is not None
    assert out["valid"] is True
    assert out["reason"] == "SIGNATURE_VALID"


def test_sign_compressed_then_verify_and_parse(keydir: Path) -> None:
    plain = sign(keydir)
    uri = sign(keydir, "--compressed")
    assert re.fullmatch(r"https://id\.sealtrace\.example/[A-Za-z0-9_-]+", uri), uri
    assert len(uri) < len(plain)
    code, out = verify(keydir, uri)
    assert code == 0
    assert out is not None
    assert out["valid"] is True
    parsed = runner.invoke(app, ["code", "parse", uri, "--json"])
    assert parsed.exit_code == 0, parsed.output
    assert json.loads(parsed.stdout)["digital_link"] == plain


def test_custom_resolver_is_not_signed(keydir: Path) -> None:
    uri = sign(keydir, "--resolver", "https://brand.example/p")
    assert uri.startswith("https://brand.example/p/01/")
    moved = uri.replace("https://brand.example/p", "https://elsewhere.example")
    assert verify(keydir, moved)[0] == 0


def test_one_character_change_anywhere_in_the_data_is_invalid(keydir: Path) -> None:
    """Acceptance: a 1-character change in GTIN, serial, lot, expiry or signature never verifies."""
    uri = sign(keydir)
    _path, query = uri.split("?")
    fields = {
        "gtin": "04006381333931",
        "lot": "LOT2026A",
        "serial": "7KQ2M9XH4R0WT",
        "expiry": "271231",
        "signature": query.split("8030=")[1],
    }
    checked = 0
    for name, value in fields.items():
        for i, ch in enumerate(value):
            replacement = "7" if ch != "7" else "8"
            changed = value[:i] + replacement + value[i + 1 :]
            tampered = uri.replace(value, changed, 1)
            assert tampered != uri
            exit_code, _ = verify(keydir, tampered)
            assert exit_code != 0, f"{name}[{i}] changed still verifies: {tampered}"
            checked += 1
    assert checked == 14 + 8 + 13 + 6 + 90


def test_parse_json_keeps_input_order() -> None:
    result = runner.invoke(
        app, ["code", "parse", "(01)04006381333931(17)271231(10)L1(21)S1", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ais"] == [["01", "04006381333931"], ["17", "271231"], ["10", "L1"], ["21", "S1"]]
    assert out["element_string"] == "(01)04006381333931(17)271231(10)L1(21)S1"
    assert out["digital_link"].endswith("/01/04006381333931/10/L1/21/S1?17=271231")


@pytest.mark.parametrize(
    "text",
    ["(01)04006381333932(21)A", "https://x.example/01/123/21/A", "", "(17)271301", "hello"],
)
def test_parse_rejects_with_one_line_and_exit_2(text: str) -> None:
    result = runner.invoke(app, ["code", "parse", text, "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")


def test_verify_exit_2_on_unusable_input(keydir: Path) -> None:
    assert verify(keydir, "not a code")[0] == 2


def test_wrong_passphrase_is_one_clear_line(keydir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "code",
            "sign",
            "--key",
            str(keydir / "signing.key.pem"),
            "--gtin",
            "4006381333931",
            "--serial",
            "A",
        ],
        env={"SEALTRACE_KEY_PASSPHRASE": "wrong"},
    )
    assert result.exit_code == 2
    assert "passphrase" in result.stderr
    assert PASS not in result.stderr


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_qr_writes_a_decodable_image(keydir: Path, tmp_path: Path, suffix: str) -> None:
    uri = sign(keydir)
    out = tmp_path / f"label{suffix}"
    result = runner.invoke(app, ["code", "qr", uri, "--out", str(out)])
    assert result.exit_code == 0, result.output
    if suffix == ".png":
        image = Image.open(out)
    else:
        import pymupdf

        pix = pymupdf.open(stream=out.read_bytes(), filetype="svg")[0].get_pixmap(dpi=300)
        image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
    decoded = zxingcpp.read_barcodes(image)
    assert [d.text for d in decoded] == [uri]


def test_demo_labels_decode_to_the_printed_uris_which_verify(tmp_path: Path) -> None:
    """Acceptance of `make run`: every demo label decodes to exactly a printed URI that verifies."""
    env = {**os.environ, "SEALTRACE_KEY_PASSPHRASE": PASS}
    done = subprocess.run(
        [sys.executable, "-m", "sealtrace.demo", "--no-serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = set(re.findall(r"https?://[^\s']+/01/[^\s']+", done.stdout))
    pngs = sorted((tmp_path / "demo" / "batches").glob("*/labels/*.png"))
    assert len(pngs) >= 3
    decoded = {zxingcpp.read_barcodes(Image.open(p))[0].text for p in pngs}
    assert decoded == printed
    public_key = tmp_path / "demo" / "registry" / "keys" / "line-demo-pharma-line-1.pub.pem"
    for uri in decoded:
        result = runner.invoke(app, ["code", "verify", uri, "--public-key", str(public_key)])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--expiry", "250229", "day 29 does not exist in month 02"),
        ("--expiry", "230229", "day 29"),
        ("--expiry", "261301", "month 13"),
        ("--lot", "LOT 1", "' ' is not allowed"),
        ("--serial", "A" * 21, "too long"),
    ],
)
def test_sign_refuses_what_the_verifier_would_refuse(
    keydir: Path, option: str, value: str, words: str
) -> None:
    args = ["--gtin", "4006381333931", "--serial", "7KQ2M9XH4R0WT", option, value]
    result = runner.invoke(
        app,
        ["code", "sign", "--key", str(keydir / "signing.key.pem"), *args],
        env={"SEALTRACE_KEY_PASSPHRASE": PASS},
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert words in lines[0]


def test_sign_accepts_29_february_of_a_leap_year(keydir: Path) -> None:
    uri = sign(keydir, "--expiry", "280229")
    assert "17=280229" in uri
    assert verify(keydir, uri)[0] == 0


def test_parse_jsonl_gives_one_result_per_line_and_survives_bad_lines() -> None:
    good = "(01)04006381333931(21)A"
    lines = [
        good.encode(),
        b"hello",
        b"\x00\x00",
        b"\xff\xfe not utf-8",
        b"1" * 100_000,  # far past what a scan may hold
        b"]d20104006381333931\x1d21S1\r",
        b"",
        b"https://id.example/01/04006381333931/21/S%2B1?17=250229",
        good.encode(),
    ]
    result = runner.invoke(app, ["code", "parse", "--jsonl"], input=b"\n".join(lines) + b"\n")
    assert result.exit_code == 1  # some lines failed
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert [r["ok"] for r in out] == [True, False, False, False, False, True, False, False, True]
    assert out[0] == {"input": good, "ok": True, "ais": [["01", "04006381333931"], ["21", "A"]]}
    assert out[5]["ais"] == [["01", "04006381333931"], ["21", "S1"]]
    assert "U+0000" in out[2]["error"]
    assert "UTF-8" in out[3]["error"]
    assert "100000 bytes" in out[4]["error"]
    assert len(out[4]["input"]) < 100
    assert "day 29" in out[7]["error"]
    for record in out:
        assert set(record) == {"input", "ok", "ais" if record["ok"] else "error"}


def test_parse_jsonl_exit_0_when_every_line_parses() -> None:
    data = "(01)04006381333931(21)A\n(01)04006381333931(21)B"  # no final newline
    result = runner.invoke(app, ["code", "parse", "--jsonl"], input=data)
    assert result.exit_code == 0
    assert [json.loads(x)["ais"][1][1] for x in result.stdout.splitlines()] == ["A", "B"]


def test_parse_jsonl_takes_no_argument() -> None:
    result = runner.invoke(app, ["code", "parse", "--jsonl", "(01)04006381333931"])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: --jsonl")
