"""`sealtrace issue`: issue a batch of signed codes, resume one, register one with the verifier."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from authn.digital_link import DEFAULT_BASE
from authn.errors import InvalidInput
from authn.signing import Signer, key_id
from issuer.guard import IssueRefused, check_expiry, check_issue, load_trust_list
from keys.filestore import load_public_key
from keys.signers import load_signer
from sealtrace.cli.reporting import reported

if TYPE_CHECKING:
    # Rendering (numpy, pillow, fpdf) and the journal are imported when a batch runs,
    # so that `sealtrace --help` does not pay for them.
    from issuer.batch import BatchResult
    from issuer.journal import BatchJournal
    from keys.trust import TrustList

REGISTRY_ENV = "SEALTRACE_SERIAL_REGISTRY"
TRUST_LIST_ENV = "SEALTRACE_TRUST_LIST"
REGISTRY_KEY_ENV = "SEALTRACE_REGISTRY_PUBLIC_KEY"
DEFAULT_TOKEN_ENV = "SEALTRACE_REGISTRATION_TOKEN"  # noqa: S105 - a variable name
PLAIN_PROGRESS_SECONDS = float(os.environ.get("SEALTRACE_PROGRESS_SECONDS", "10"))
_PROGRESS_FROM = 2_000  # smaller batches finish before a bar would be worth drawing


def default_registry() -> Path:
    """Where this issuer's serial registry lives unless told otherwise."""
    if REGISTRY_ENV in os.environ:
        return Path(os.environ[REGISTRY_ENV])
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "sealtrace" / "serials.sqlite"


def _markets(text: str) -> tuple[str, ...]:
    return tuple(m.strip().upper() for m in text.split(",") if m.strip())


def _run_with_progress(journal: BatchJournal, signer: Signer, jobs: int) -> BatchResult:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from issuer.batch import run_batch

    total = journal.spec.count
    if total < _PROGRESS_FROM:
        return run_batch(journal, signer, jobs=jobs)
    if not sys.stderr.isatty():
        return run_batch(journal, signer, jobs=jobs, progress=_PlainProgress(journal.done))
    columns = (TextColumn("issuing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("issue", total=total, completed=journal.done)
        return run_batch(
            journal, signer, jobs=jobs, progress=lambda done, _: bar.update(task, completed=done)
        )


class _PlainProgress:
    """Off a terminal (a log, CI, a pipe): one plain line every PLAIN_PROGRESS_SECONDS."""

    def __init__(self, done: int) -> None:
        self.started = time.monotonic()
        self.first = done
        self.last = self.started

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PLAIN_PROGRESS_SECONDS and done < total:
            return
        self.last = now
        rate = (done - self.first) / max(now - self.started, 1e-9)
        typer.echo(f"issued {done:,} of {total:,} ({rate:,.0f} labels/s)", err=True)


def _summary(result: BatchResult, journal: BatchJournal) -> None:
    spec = journal.spec
    rate = result.written_now / result.seconds if result.seconds > 0 else 0.0
    typer.echo(f"batch {spec.batch_id}: {spec.count:,} codes for GTIN {spec.gtin} ({spec.fmt})")
    typer.echo(
        f"  written now {result.written_now:,} in {result.seconds:.1f} s ({rate:,.0f} labels/s)"
    )
    for path in result.outputs:
        typer.echo(f"  {path}")


def issue(
    gtin: Annotated[str | None, typer.Option(help="GTIN-8/12/13/14, check digit verified.")] = None,
    count: Annotated[int | None, typer.Option(help="How many codes to issue.")] = None,
    key: Annotated[
        str | None,
        typer.Option(help="Encrypted key file (passphrase in SEALTRACE_KEY_PASSPHRASE)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="New (or empty) batch directory.")] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", help="png, svg, pdf, csv or jsonl (the last two: manifest only)."),
    ] = "csv",
    lot: Annotated[str | None, typer.Option(help="Batch/lot number, AI 10 (max 20).")] = None,
    expiry: Annotated[str | None, typer.Option(help="Expiry date YYMMDD, AI 17.")] = None,
    carrier: Annotated[str, typer.Option(help="qr (Digital Link URI) or datamatrix.")] = "qr",
    resolver: Annotated[str, typer.Option(help="Digital Link resolver base URL.")] = DEFAULT_BASE,
    paper: Annotated[str, typer.Option(help="PDF paper: a4 or letter.")] = "a4",
    ec: Annotated[str, typer.Option(help="QR error correction: L, M, Q or H.")] = "M",
    markets: Annotated[str, typer.Option(help="Intended markets, e.g. DE,FR.")] = "",
    jobs: Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")] = None,
    batch_id: Annotated[str | None, typer.Option(help="Batch id (default: generated).")] = None,
    registry: Annotated[
        Path | None, typer.Option(help=f"Serial registry database (default: ${REGISTRY_ENV}).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Finish (or register) the batch in this directory.")
    ] = None,
    register: Annotated[
        str | None, typer.Option(help="Verifier URL: register the batch when it is complete.")
    ] = None,
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding the registration token.")
    ] = DEFAULT_TOKEN_ENV,
    trust_list: Annotated[
        Path | None,
        typer.Option(help=f"Signed trust list certifying the key (default: ${TRUST_LIST_ENV})."),
    ] = None,
    registry_key: Annotated[
        Path | None,
        typer.Option(help=f"Registry public key of that list (default: ${REGISTRY_KEY_ENV})."),
    ] = None,
    uncertified: Annotated[
        bool,
        typer.Option(help="Sign with a key no trust list certifies (tests, development only)."),
    ] = False,
    allow_past_expiry: Annotated[
        bool, typer.Option(help="Print labels whose expiry date is already past (tests only).")
    ] = False,
    chunk_size: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Issue a batch of signed, serialised codes as labels or a printer manifest.

    Serials are random (65 bits, Crockford base32) and journalled: after a crash,
    `--resume DIR` finishes the batch without issuing any serial twice. With
    `--register URL` the batch is then registered with the verifier.

    Before anything is written the key's certificate is checked in the trust
    list: the GTIN must lie within its prefixes and now within its signing
    window, and the expiry must not be past; otherwise exit 2.
    """
    from issuer.journal import BatchJournal
    from issuer.register import register_batch

    guard = _Guard(trust_list, registry_key, uncertified, allow_past_expiry)
    try:
        with reported():
            token = _registration_token(register, token_env)
            if resume is not None:
                journal = BatchJournal.open(resume)
                guard.load()
                signer = load_signer(key or journal.spec.key_spec)
                guard.check(journal.spec.gtin, journal.spec.expiry, signer)
            else:
                journal, signer = _new_batch(
                    gtin=gtin, count=count, key=key, out=out, fmt=fmt, lot=lot, expiry=expiry,
                    carrier=carrier, resolver=resolver, paper=paper, ec=ec, markets=markets,
                    batch_id=batch_id, registry=registry, chunk_size=chunk_size, guard=guard,
                )  # fmt: skip
            try:
                result = _run_with_progress(journal, signer, jobs or os.cpu_count() or 1)
                _summary(result, journal)
            finally:
                journal.close()
            if register is not None:
                report = register_batch(journal.directory, register, token)
                typer.echo(report.summary())
                if not report.complete:
                    raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted: the batch is incomplete; finish it with --resume DIR", err=True)
        raise typer.Exit(130) from None


class _Guard:
    """The checks of `issuer.guard`, fed from the command's options and environment."""

    def __init__(
        self, trust_list: Path | None, registry_key: Path | None, uncertified: bool, past: bool
    ) -> None:
        self.now = dt.datetime.now(dt.UTC)
        env_list, env_key = os.environ.get(TRUST_LIST_ENV), os.environ.get(REGISTRY_KEY_ENV)
        self.list_path = trust_list or (Path(env_list) if env_list else None)
        self.key_path = registry_key or (Path(env_key) if env_key else None)
        self.uncertified = uncertified
        self.allow_past_expiry = past
        self.trust: TrustList | None = None

    def load(self) -> None:
        if self.uncertified:
            return
        if self.list_path is None or self.key_path is None:
            raise IssueRefused(
                "the issuer checks the key's certificate before it prints: give --trust-list "
                f"and --registry-key (or ${TRUST_LIST_ENV} and ${REGISTRY_KEY_ENV}); "
                "--uncertified signs without (tests only: the labels will not verify)"
            )
        data = self.list_path.read_bytes()
        self.trust = load_trust_list(data, load_public_key(self.key_path), self.now)

    def check_expiry(self, expiry: str | None) -> None:
        """Before the key is opened (no passphrase asked for a batch refused anyway)."""
        if expiry is not None and not self.allow_past_expiry:
            check_expiry(expiry, self.now)

    def check(self, gtin14: str, expiry: str | None, signer: Signer) -> None:
        self.check_expiry(expiry)
        if self.trust is not None:
            check_issue(
                gtin14=gtin14, expiry=expiry, public_key=signer.public_key(),
                trust_list=self.trust, now=self.now, allow_past_expiry=self.allow_past_expiry,
            )  # fmt: skip


def _registration_token(register: str | None, token_env: str) -> str:
    if register is None:
        return ""
    token = os.environ.get(token_env, "")
    if not token:
        raise InvalidInput(f"--register needs the brand's token in ${token_env}")
    return token


def _new_batch(
    *,
    gtin: str | None,
    count: int | None,
    key: str | None,
    out: Path | None,
    fmt: str,
    lot: str | None,
    expiry: str | None,
    carrier: str,
    resolver: str,
    paper: str,
    ec: str,
    markets: str,
    batch_id: str | None,
    registry: Path | None,
    chunk_size: int | None,
    guard: _Guard,
) -> tuple[BatchJournal, Signer]:
    from issuer.batch import build_spec, create_batch
    from issuer.journal import SerialRegistry

    if gtin is None or count is None or key is None or out is None:
        named = (("--gtin", gtin), ("--count", count), ("--key", key), ("--out", out))
        missing = ", ".join(name for name, value in named if value is None)
        raise InvalidInput(f"a new batch needs {missing} (or --resume DIR)")
    registry_path = (registry or default_registry()).resolve()
    if not key.startswith("pkcs11:"):
        key = str(Path(key).resolve())  # so --resume works from any directory
    # Every check that needs no key or file comes first, so bad input is
    # reported before a passphrase is asked for or anything is written.
    spec = build_spec(
        gtin=gtin, count=count, fmt=fmt, key_spec=key, key_id="", registry=registry_path,
        now=dt.datetime.now(dt.UTC), resolver=resolver, carrier=carrier, lot=lot,
        expiry=expiry, markets=_markets(markets), paper=paper, ec=ec, batch_id=batch_id,
        chunk_size=chunk_size,
    )  # fmt: skip
    guard.check_expiry(spec.expiry)
    guard.load()
    signer = load_signer(key)
    guard.check(spec.gtin, spec.expiry, signer)
    spec = replace(spec, key_id=key_id(signer.public_key()))
    SerialRegistry(registry_path).close()  # fails now, not after the batch directory exists
    return create_batch(out.resolve(), spec), signer
