"""`sealtrace issue` from the outside: kill -9 and resume, and bad input refused cleanly."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from authn.code import ProductCode
from authn.element_string import parse_element_string
from authn.signing import check_signature
from issuer.batch import INCOMPLETE_MARKER
from keys.filestore import write_private_key
from sealtrace.cli.issue_cmd import issue

GTIN = "09506000134352"
PASSPHRASE = "correct horse battery staple"
# The command as the lead wires it (`app.command("issue")(issue)`), runnable
# on its own in a subprocess.
RUNNER = (
    "import sys, typer\n"
    "from sealtrace.cli.issue_cmd import issue\n"
    "app = typer.Typer()\n"
    "app.command()(issue)\n"
    "app(sys.argv[1:])\n"
)


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path_factory.mktemp("keys") / "line.key.pem"
    write_private_key(path, key, PASSPHRASE.encode())
    return path, key


def journal_value(batch: Path, key: str) -> str | None:
    path = batch / "journal.sqlite"
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:
        return None  # still being created
    return None if row is None else str(row[0])


def test_kill_9_mid_batch_then_resume_gives_exactly_n_distinct_signed_codes(
    tmp_path: Path, signing_key: tuple[Path, Ed25519PrivateKey]
) -> None:
    key_path, key = signing_key
    count = 20_000
    batch, registry = tmp_path / "batch", tmp_path / "registry.sqlite"
    env = {**os.environ, "SEALTRACE_KEY_PASSPHRASE": PASSPHRASE}
    args = [
        "--gtin", GTIN, "--count", str(count), "--key", str(key_path), "--out", str(batch),
        "--format", "csv", "--lot", "L1", "--registry", str(registry), "--jobs", "2",
        "--chunk-size", "200", "--uncertified",
    ]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so the kill reaches the worker processes too
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = journal_value(batch, "done")
        if done is not None and int(done) >= 1000:
            break
        time.sleep(0.002)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    done_at_kill = int(journal_value(batch, "done") or 0)
    assert 0 < done_at_kill < count, "the kill must land in the middle of the batch"
    assert journal_value(batch, "status") == "incomplete"
    assert (batch / INCOMPLETE_MARKER).exists()
    assert not (batch / "manifest.csv").exists(), "no final manifest for an unfinished batch"

    resumed = subprocess.run(
        [sys.executable, "-c", RUNNER, "--resume", str(batch), "--jobs", "2", "--uncertified"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert not (batch / INCOMPLETE_MARKER).exists()
    assert journal_value(batch, "status") == "complete"

    with (batch / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    serials = [r["serial"] for r in rows]
    assert [int(r["seq"]) for r in rows] == list(range(count))
    assert len(set(serials)) == count
    with sqlite3.connect(batch / "journal.sqlite") as conn:
        journalled = [r[0] for r in conn.execute("SELECT serial FROM serials ORDER BY seq")]
    assert journalled == serials, "every drawn serial is emitted once, none re-drawn"
    with sqlite3.connect(registry) as conn:
        registered = {r[0] for r in conn.execute("SELECT serial FROM used_serials")}
    assert set(serials) <= registered
    public = [key.public_key()]
    for row in rows:
        code = ProductCode.from_ais(parse_element_string(row["element_string"]))
        assert code.serial == row["serial"]
        assert check_signature(code, public).valid


def run_cli(args: list[str], env: dict[str, str | None]) -> tuple[int, str, str]:
    app = typer.Typer()
    app.command()(issue)
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.stdout, result.stderr


def base_args(key_path: Path, out: Path, tmp_path: Path) -> list[str]:
    return [
        "--gtin", GTIN, "--count", "5", "--key", str(key_path), "--out", str(out),
        "--registry", str(tmp_path / "registry.sqlite"), "--uncertified",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "env", "message"),
    [
        (["--gtin", "09506000134353"], {}, "check digit"),
        (["--lot", "L" * 21], {}, "too long"),
        (["--format", "gif"], {}, "unknown format"),
        (["--expiry", "281332"], {}, "(17)"),
        (["--expiry", "250229"], {}, "day 29 does not exist in month 02"),
        # Checked before the key is opened: no passphrase needed to hear about it.
        (["--expiry", "230229"], {"SEALTRACE_KEY_PASSPHRASE": None}, "(17)"),
        (["--lot", "LOT 1"], {}, "' ' is not allowed"),
        (["--markets", "Germany"], {}, "market"),
        (["--count", "0"], {}, "count"),
        ([], {"SEALTRACE_KEY_PASSPHRASE": None}, "SEALTRACE_KEY_PASSPHRASE"),
        ([], {"SEALTRACE_KEY_PASSPHRASE": "wrong"}, "wrong passphrase"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_is_written(
    tmp_path: Path,
    signing_key: tuple[Path, Ed25519PrivateKey],
    change: list[str],
    env: dict[str, str | None],
    message: str,
) -> None:
    out = tmp_path / "batch"
    code, _, stderr = run_cli(
        base_args(signing_key[0], out, tmp_path) + change,
        {"SEALTRACE_KEY_PASSPHRASE": PASSPHRASE, **env},
    )
    assert code != 0
    assert stderr.startswith("error: ")
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert message in stderr
    assert not out.exists()


def test_unwritable_output_directory_is_refused(
    tmp_path: Path, signing_key: tuple[Path, Ed25519PrivateKey]
) -> None:
    # Tests may run as root, which ignores permission bits; a path below a
    # regular file cannot be created by anyone.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    code, _, stderr = run_cli(
        base_args(signing_key[0], blocker / "batch", tmp_path),
        {"SEALTRACE_KEY_PASSPHRASE": PASSPHRASE},
    )
    assert code != 0
    assert stderr.startswith("error: cannot write to")
    assert len(stderr.strip().splitlines()) == 1


def test_an_existing_batch_is_never_overwritten(
    tmp_path: Path, signing_key: tuple[Path, Ed25519PrivateKey]
) -> None:
    out = tmp_path / "batch"
    env: dict[str, str | None] = {"SEALTRACE_KEY_PASSPHRASE": PASSPHRASE}
    code, stdout, _ = run_cli(base_args(signing_key[0], out, tmp_path), env)
    assert code == 0
    assert "5 codes" in stdout
    before = (out / "manifest.csv").read_bytes()
    code, _, stderr = run_cli(base_args(signing_key[0], out, tmp_path), env)
    assert code != 0
    assert "--resume" in stderr
    assert (out / "manifest.csv").read_bytes() == before


def test_resume_of_a_directory_without_a_batch_is_refused(tmp_path: Path) -> None:
    code, _, stderr = run_cli(["--resume", str(tmp_path)], {})
    assert code != 0
    assert "not a batch directory" in stderr
