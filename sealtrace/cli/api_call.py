"""What every command that speaks to the verifier's HTTP API shares: the --url/--config/--json
options, one call with the client config resolved, and printing an answer or its JSON.

Only httpx is imported (lazily, by `issuer.client`), so these commands start fast. Any
SealtraceError in a call becomes one error line and exit 2 (`reported`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from sealtrace.cli.reporting import reported

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Verifier URL (default: $SEALTRACE_URL, config).")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Client config TOML (default: $SEALTRACE_CONFIG or "
                 "~/.config/sealtrace/client.toml)."),
]  # fmt: skip
JsonOption = Annotated[bool, typer.Option("--json", help="Print the service's JSON answer.")]


@contextmanager
def client(url: str | None, config: Path | None) -> Iterator[Any]:
    """A verifier client; any SealtraceError inside becomes one line and exit 2."""
    from issuer.client import ClientConfig, VerifierClient

    with reported(), VerifierClient(ClientConfig.resolve(url, config)) as http:
        yield http


def call(url: str | None, config: Path | None, method: str, path: str, **kwargs: Any) -> Any:
    """One request to the verifier; its JSON answer (None when empty)."""
    with client(url, config) as http:
        return http.call(method, path, **kwargs)


def show(answer: Any, as_json: bool, line: str) -> None:
    typer.echo(json.dumps(answer, indent=2) if as_json else line)


def report_items(
    results: Sequence[dict[str, Any]],
    *,
    noun: str,
    name: Callable[[dict[str, Any]], str],
    as_json: bool,
    answer: Any = None,
) -> None:
    """A bulk call's per-item results: each failure on stderr with its reason, then one
    summary line (or the JSON ``answer``, by default the results); exit 1 when any failed."""
    failed = [r for r in results if r.get("error")]
    changed = sum(bool(r.get("changed")) for r in results)
    if as_json:
        typer.echo(json.dumps(results if answer is None else answer, indent=2))
    else:
        for r in failed:
            typer.echo(f"{name(r)}: {r['error']['detail']}", err=True)
        typer.echo(
            f"{len(results):,} {noun}: {changed:,} changed, "
            f"{len(results) - changed - len(failed):,} unchanged, {len(failed):,} failed"
        )
    if failed:
        raise typer.Exit(1)
