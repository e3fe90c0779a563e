"""`sealtrace officer`: what a customs officer's handheld does, from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from authn.errors import SealtraceError
from keys.filestore import load_public_key

app = typer.Typer(
    no_args_is_help=True,
    help="Customs officers: verify codes offline against a signed offline bundle.",
)

EXIT_AUTHENTIC = 0
EXIT_NOT_AUTHENTIC = 1
EXIT_UNUSABLE = 2


@app.callback()
def officer() -> None:
    """Customs officers: verify codes offline against a signed offline bundle."""


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_UNUSABLE)


@app.command("verify")
def verify(
    text: Annotated[
        str, typer.Argument(help="What the scanner read (Digital Link, element string).")
    ],
    bundle: Annotated[
        Path, typer.Option("--bundle", help="Offline bundle from GET /v1/offline-bundle.")
    ],
    registry_key: Annotated[
        Path,
        typer.Option(
            "--registry-key",
            envvar="SEALTRACE_REGISTRY_PUBLIC_KEY",
            help="PEM public key of the registry (signs the trust list).",
        ),
    ],
    bundle_key: Annotated[
        Path,
        typer.Option(
            "--bundle-key",
            envvar="SEALTRACE_MOBILE_BUNDLE_PUBLIC_KEY",
            help="PEM public key of the server that signs bundles (GET /v1/offline-bundle/key).",
        ),
    ],
    delta: Annotated[
        list[Path] | None,
        typer.Option("--delta", help="Deltas to apply in order (GET ...?since=VERSION)."),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Judge as of this ISO 8601 time (default now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Verify one code offline. Exit 0 authentic, 1 not authentic (suspect, counterfeit or
    cannot confirm), 2 unusable input (not a code, bad or unsigned bundle, bad keys)."""
    try:
        now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        fail(f"--at is not an ISO 8601 time: {at!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    # The bundle's Bloom filter needs numpy: imported here, not for every `sealtrace` start.
    from mobile_api.bundle import apply_delta, open_bundle
    from mobile_api.offline import verify_offline

    try:
        registry = load_public_key(registry_key)
        server = load_public_key(bundle_key)
        held = open_bundle(bundle.read_bytes(), registry_key=registry, bundle_key=server, now=now)
        for path in delta or []:
            held = apply_delta(
                held, path.read_bytes(), registry_key=registry, bundle_key=server, now=now
            )
        result = verify_offline(held, text, now=now)
    except SealtraceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}")
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        product = result.code
        typer.echo(f"verdict: {result.verdict}")
        typer.echo(f"product: GTIN {product.gtin} serial {product.serial}"
                   + (f" lot {product.lot}" if product.lot else "")
                   + (f" ({result.brand})" if result.brand else ""))  # fmt: skip
        for reason in result.reasons:
            typer.echo(f"  {reason.code}: {reason.message}")
        typer.echo(f"bundle: version {held.version}, valid until {held.expires_at.isoformat()}")
    raise typer.Exit(EXIT_AUTHENTIC if result.authentic else EXIT_NOT_AUTHENTIC)
