"""`sealtrace db`: schema migrations of the verifier's database."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Verifier database: apply or inspect migrations.")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: SEALTRACE_DATABASE_URL or ./data)."),
]


def _url(db: str | None) -> str:
    from verifier.settings import Settings

    return db or Settings().database_url


@app.command("upgrade")
def upgrade(
    db: DbOption = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from verifier.db import migrate

    migrate.upgrade(_url(db), revision)
    typer.echo(f"database at revision {migrate.current(_url(db))}")


@app.command("current")
def current(db: DbOption = None) -> None:
    """Print the revision the database is at ('none' for an empty database)."""
    from verifier.db import migrate

    typer.echo(migrate.current(_url(db)) or "none")


@app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. 'base'.")],
    db: DbOption = None,
) -> None:
    """Revert migrations down to REVISION (destroys data of the reverted tables)."""
    from verifier.db import migrate

    migrate.downgrade(_url(db), revision)
    typer.echo(f"database at revision {migrate.current(_url(db)) or 'none'}")
