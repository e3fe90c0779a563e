"""`sealtrace audit`: check the transparency log, and keep checkpoints as a witness."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    no_args_is_help=True,
    help="Transparency log: recompute and compare it (verify), keep checkpoints (checkpoint).",
)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: SEALTRACE_DATABASE_URL or ./data)."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command("verify")
def verify(
    db: DbOption = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="An earlier checkpoint (signed note) the log must extend.")
    ] = None,
    log_key: Annotated[
        Path | None, typer.Option(help="The log's public key (PEM), to check --checkpoint.")
    ] = None,
    key_name: Annotated[
        str | None, typer.Option(help="The checkpoint's key name (default: its origin line).")
    ] = None,
) -> None:
    """Recompute the tree from the stored entries and compare every logged row with its entry.

    Exit 0 when everything matches, 1 naming each mismatch, 2 when it cannot run.
    """
    import verifier.db.models  # noqa: F401  (the logged tables' models)
    from keys.filestore import load_public_key
    from transparency.audit import audit
    from verifier.db.engine import make_engine
    from verifier.settings import Settings

    note = None
    public_key = None
    if checkpoint is not None:
        if log_key is None:
            raise _fail("--checkpoint needs --log-key (the log's public key)")
        note = checkpoint.read_text(encoding="utf-8")
        public_key = load_public_key(log_key)
        key_name = key_name or note.split("\n", 1)[0]
    engine = make_engine(db or Settings().database_url)
    try:
        with engine.connect() as connection:
            report = audit(connection, checkpoint=note, key_name=key_name, public_key=public_key)
    finally:
        engine.dispose()
    typer.echo(
        f"{report.size} entries, root {base64.b64encode(report.root).decode()}; "
        f"{report.rows_checked} rows match their entries, "
        f"{report.rows_before_log} recorded before the log began"
    )
    for problem in report.problems:
        typer.echo(f"MISMATCH {problem}")
    if not report.ok:
        raise typer.Exit(1)
    typer.echo("the log is consistent" + (" with the earlier checkpoint" if note else ""))


@app.command("checkpoint")
def checkpoint(
    url: Annotated[str, typer.Option(help="The verifier, e.g. https://verify.brand.example")],
    save: Annotated[Path, typer.Option(help="Folder that keeps the witnessed checkpoints.")],
) -> None:
    """Fetch the log's checkpoint, check it extends the last one kept, and keep it.

    Run it from cron on a machine the operator does not control: a log that ever
    rewrites its history fails here (exit 1), with both checkpoints kept as proof.
    """
    import httpx
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from transparency.merkle import verify_consistency
    from transparency.note import NoteError, open_checkpoint

    save.mkdir(parents=True, exist_ok=True)
    base = url.rstrip("/")
    try:
        key_info = httpx.get(f"{base}/v1/log/key", timeout=30).raise_for_status().json()
        note = httpx.get(f"{base}/v1/log/checkpoint", timeout=30).raise_for_status().text
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach the log: {exc}") from exc
    pinned = save / "log-key.pem"
    if not pinned.exists():
        pinned.write_text(key_info["public_key_pem"], encoding="ascii")
        typer.echo(f"pinned the log key in {pinned} (compare it with the operator's)")
    public_key = load_pem_public_key(pinned.read_bytes())
    name = key_info["key_name"]
    try:
        current = open_checkpoint(note, name, public_key)  # type: ignore[arg-type]
    except NoteError as exc:
        typer.echo(f"MISMATCH the log's checkpoint is not signed by the pinned key: {exc}")
        raise typer.Exit(1) from exc
    latest = save / "latest.txt"
    if latest.exists():
        earlier = open_checkpoint(latest.read_text(encoding="utf-8"), name, public_key)  # type: ignore[arg-type]
        if earlier.size > current.size:
            typer.echo(f"MISMATCH the log shrank from {earlier.size} to {current.size} entries")
            raise typer.Exit(1)
        if 0 < earlier.size < current.size:
            answer = httpx.get(
                f"{base}/v1/log/proof/consistency",
                params={"first": earlier.size, "second": current.size},
                timeout=30,
            ).raise_for_status()
            proof = [base64.b64decode(p) for p in answer.json()["proof"]]
            if not verify_consistency(
                earlier.size, current.size, earlier.root, current.root, proof
            ):
                typer.echo(f"MISMATCH the log does not extend its checkpoint of {earlier.size}")
                raise typer.Exit(1)
        elif earlier.size == current.size and earlier.root != current.root:
            typer.echo(f"MISMATCH two different trees of {current.size} entries")
            raise typer.Exit(1)
    (save / f"checkpoint-{current.size}.txt").write_text(note, encoding="utf-8")
    latest.write_text(note, encoding="utf-8")
    typer.echo(f"checkpoint of {current.size} entries kept; consistent with the last one")
