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
