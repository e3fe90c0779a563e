"""`sealtrace console set-password` against a migrated SQLite database."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from sealtrace.cli.console_cmd import app
from tests.console.console_world import NOW, make_database
from verifier import accounts, console_auth
from verifier.db.engine import make_engine


def test_set_password_from_stdin_then_sign_in(tmp_path: Path, console_template: Path) -> None:
    url = make_database(console_template, tmp_path)
    engine = make_engine(url)
    with Session(engine) as session:
        accounts.create_account(session, name="anna", role=accounts.Role.OFFICER, now=NOW)
    runner = CliRunner()
    result = runner.invoke(
        app, ["set-password", "anna", "--password-stdin", "--db", url], input="long enough pw!\n"
    )
    assert result.exit_code == 0, result.output
    short = runner.invoke(
        app, ["set-password", "anna", "--password-stdin", "--db", url], input="x\n"
    )
    assert short.exit_code == 2
    unknown = runner.invoke(
        app, ["set-password", "bob", "--password-stdin", "--db", url], input="long enough pw!\n"
    )
    assert unknown.exit_code == 2
    with Session(engine) as session:
        signed = console_auth.sign_in(session, "anna", "long enough pw!", client="cli", now=NOW)
        assert signed.caller.name == "anna"
        stored = session.exec(select(console_auth.ConsoleCredential)).one()
        assert "long enough" not in stored.password_hash
        assert stored.scrypt_n == console_auth.SCRYPT_N
    engine.dispose()
