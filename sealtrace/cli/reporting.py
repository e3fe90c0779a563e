"""One error line and exit status 2, the same way for every command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from authn.errors import SealtraceError


@contextmanager
def reported() -> Iterator[None]:
    """Turn a sealtrace error (or a file that cannot be read) into one line on stderr, exit 2."""
    try:
        yield
    except SealtraceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
