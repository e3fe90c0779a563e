"""The `sealtrace` command starts without the database, web or rendering stacks."""

from __future__ import annotations

import subprocess
import sys

from sealtrace.cli.accounts_cmd import AccountRole
from verifier.accounts import ACCOUNT_ROLES

HEAVY = ("sqlmodel", "sqlalchemy", "fastapi", "uvicorn", "numpy", "fpdf", "PIL", "httpx")


def test_help_and_code_commands_import_no_heavy_stack() -> None:
    probe = (
        "import sys\nfrom sealtrace.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    code = "https://id.example.com/01/09506000134352/21/ABC123?17=281231"
    for args in (["--help"], ["code", "parse", code, "--json"], ["brand", "--help"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False
        )
        [loaded] = [x for x in done.stdout.splitlines() if x.startswith("LOADED=")]
        assert loaded == "LOADED=", f"sealtrace {' '.join(args)} imported {loaded}"


def test_the_cli_roles_are_the_account_roles() -> None:
    assert [r.value for r in AccountRole] == [r.value for r in ACCOUNT_ROLES]


def test_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import sys\nfrom sealtrace.cli import for_arguments\n"
        "try:\n    for_arguments(sys.argv[1:])(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('LOADED=' + ','.join(sorted(m for m in sys.modules if m.startswith("
        "('sealtrace.cli.', 'issuer', 'asn1crypto', 'keys.')))))\n"
    )
    code = "https://id.example.com/01/09506000134352/21/ABC123?17=281231"
    done = subprocess.run(
        [sys.executable, "-c", probe, "code", "parse", code, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert '"element_string": "(01)09506000134352(21)ABC123(17)281231"' in done.stdout
    [loaded] = [x for x in done.stdout.splitlines() if x.startswith("LOADED=")]
    assert loaded == "LOADED=sealtrace.cli.code_cmd,sealtrace.cli.scan_lines"


def test_a_single_command_tree_still_takes_the_command_name() -> None:
    # With one command registered, typer would make it the root; the callback prevents it.
    done = subprocess.run(
        [sys.executable, "-m", "sealtrace", "issue", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Usage: python -m sealtrace issue" in done.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "sealtrace", "no-such-command"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert unknown.returncode == 2
    assert "No such command" in unknown.stderr
