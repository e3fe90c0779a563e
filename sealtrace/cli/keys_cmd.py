"""`sealtrace keys`: signing keys, brands, line certificates and the trust list.

Every private key is written encrypted (passphrase from SEALTRACE_KEY_PASSPHRASE
or the terminal). Registry state lives in a home directory (--home, or
SEALTRACE_HOME, default ./sealtrace-keys). Errors print one line on stderr and
exit with status 2.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from authn.errors import InvalidInput, KeyStoreError
from authn.signing import key_id
from keys.canonical import format_time
from keys.filestore import (
    PRIVATE_SUFFIX,
    generate_key_files,
    key_paths,
    load_public_key,
    passphrase_from_env,
    private_key_kdf,
    reencrypt_private_key,
    write_public_key,
)
from keys.home import DEFAULT_HOME, HOME_ENV, KeyHome, describe_certificate
from keys.model import Contact
from keys.trust import TrustList
from sealtrace.cli.reporting import reported

app = typer.Typer(
    no_args_is_help=True,
    help=(
        "Keys and trust: generate keys, register brands, certify line keys, publish the trust list."
    ),
)
trustlist_app = typer.Typer(no_args_is_help=True, help="Build, show and verify the trust list.")
app.add_typer(trustlist_app, name="trustlist")

HomeOption = Annotated[
    Path,
    typer.Option("--home", envvar=HOME_ENV, help="Registry state directory (keys, state, lists)."),
]


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_moment(text: str) -> datetime:
    """An RFC 3339 / ISO 8601 time with a zone (``2026-03-01T12:00:00Z``), or ``now``."""
    if text == "now":
        return now_utc()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a time like 2026-03-01T12:00:00Z") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{text!r} has no time zone; add Z for UTC")
    return moment


def open_home(home: Path, *, confirm: bool = False) -> KeyHome:
    return KeyHome(home, passphrase_from_env(prompt=True, confirm=confirm))


@app.command("new")
def new(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the key pair into.")],
    name: Annotated[
        str, typer.Option("--name", help="File name stem: NAME.key.pem and NAME.pub.pem.")
    ] = "signing",
    pkcs11_spec: Annotated[
        str | None,
        typer.Option(
            "--pkcs11",
            help="Generate the key in an HSM instead: pkcs11:module=LIB;token=LABEL;object=KEY "
            "(PIN from SEALTRACE_PKCS11_PIN). Only NAME.pub.pem is written.",
        ),
    ] = None,
) -> None:
    """Generate an Ed25519 key pair: an encrypted private key (mode 0600) and its public key.

    The passphrase comes from SEALTRACE_KEY_PASSPHRASE, or is asked for when run in a
    terminal. Prints the key id (4 base64url characters, as it appears in AI 8030).
    """
    with reported():
        if pkcs11_spec is not None:
            public_path = _new_pkcs11_key(pkcs11_spec, out, name)
            typer.echo(f"public key:  {public_path}", err=True)
            typer.echo(key_id(load_public_key(public_path)))
            return
        files = generate_key_files(out, passphrase_from_env(prompt=True, confirm=True), name)
    typer.echo(f"private key: {files.private_path}", err=True)
    typer.echo(f"public key:  {files.public_path}", err=True)
    typer.echo(files.key_id)


def _new_pkcs11_key(spec: str, out: Path, name: str) -> Path:
    # Imported here so that commands on key files never load the PKCS#11 extension.
    from keys.pkcs11 import Pkcs11Spec, generate_pkcs11_key, pin_from_env

    public_path = key_paths(out, name)[1]
    if public_path.exists():
        raise KeyStoreError(f"{public_path} already exists; refusing to overwrite a key")
    public = generate_pkcs11_key(Pkcs11Spec.parse(spec), pin_from_env())
    out.mkdir(parents=True, exist_ok=True)
    write_public_key(public_path, public)
    return public_path


@app.command("init-registry")
def init_registry(home: HomeOption = DEFAULT_HOME) -> None:
    """Create the registry key that signs the trust list (once per home). Prints its key id.

    Verifiers pin the registry public key: HOME/keys/registry.pub.pem.
    """
    with reported():
        kid = open_home(home, confirm=True).init_registry()
    typer.echo(f"registry public key: {home / 'keys' / 'registry.pub.pem'}", err=True)
    typer.echo(kid)


@app.command("init-brand")
def init_brand(
    name: Annotated[str, typer.Option("--name", help="The right holder's name.")],
    prefix: Annotated[
        list[str], typer.Option("--prefix", help="A GS1 company prefix it owns (repeatable).")
    ],
    brand_id: Annotated[
        str | None,
        typer.Option("--id", help="Short brand id (default: the name, lowercased, dashed)."),
    ] = None,
    contact: Annotated[
        list[str] | None,
        typer.Option(
            "--contact",
            help="Contact for officers: an email, a phone number or an https URL (repeatable).",
        ),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Create a brand's root key and record its name, prefixes and contact for registration."""
    with reported():
        chosen_id = brand_id or "-".join(name.lower().split())
        application = open_home(home).init_brand(
            chosen_id, name, prefix, parse_contact(contact or [])
        )
    typer.echo(f"brand {application.id}: root key created; now run register-brand", err=True)
    typer.echo(application.id)


@app.command("register-brand")
def register_brand(
    brand: Annotated[str, typer.Option("--brand", help="The brand id from init-brand.")],
    by: Annotated[
        str | None, typer.Option("--by", help="Who registers it (default: the login name).")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Register a brand for its prefixes: the registry records who registered it and when."""
    with reported():
        registered = open_home(home).register_brand(
            brand, registered_by=by or getpass.getuser(), now=now_utc()
        )
    typer.echo(
        f"registered {registered.id} ({registered.name}) for {', '.join(registered.prefixes)} "
        f"by {registered.registered_by} at {format_time(registered.registered_at)}"
    )


@app.command("new-line")
def new_line(
    brand: Annotated[str, typer.Option("--brand", help="The registered brand id.")],
    prefix: Annotated[
        list[str],
        typer.Option("--prefix", help="GTIN prefix the line may sign (within the brand's)."),
    ],
    valid_days: Annotated[
        int, typer.Option("--valid-days", help="Signing window length, starting now.")
    ],
    name: Annotated[str, typer.Option("--name", help="Line or site name.")] = "line-1",
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Certify this existing public key (e.g. one held in an HSM) instead of "
            "generating a new key file.",
        ),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Create (or take) a line key and certify it with the brand root. Prints its key id."""
    with reported():
        key = load_public_key(public_key) if public_key else None
        cert = open_home(home).new_line(
            brand, name=name, prefixes=prefix, valid_days=valid_days, now=now_utc(), public_key=key
        )
    typer.echo(describe_certificate(cert), err=True)
    typer.echo(cert.key_id)


@app.command("rotate-root")
def rotate_root(
    brand: Annotated[str, typer.Option("--brand", help="The registered brand id.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Replace a brand's root key: the statement is signed by old and new root.

    The brand's line keys are re-certified under the new root; build a new trust list after.
    """
    with reported():
        rotated = open_home(home).rotate_root(brand, now=now_utc())
    typer.echo(f"brand {rotated.id}: new root {rotated.root_key_id}")


@app.command("revoke")
def revoke(
    kid: Annotated[str, typer.Option("--kid", help="The line key id (4 characters).")],
    compromised_since: Annotated[
        str,
        typer.Option(
            "--compromised-since",
            help="When the key was compromised, e.g. 2026-03-01T12:00:00Z. Codes registered "
            "before stay genuine; all others signed by the key are counterfeit.",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why.")] = "key compromised",
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="The key (base64url) when several share the id."),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Revoke a line key from a moment on; takes effect in the next trust list."""
    with reported():
        revocation = open_home(home).revoke(
            kid,
            compromised_since=parse_moment(compromised_since),
            reason=reason,
            now=now_utc(),
            public_key=public_key,
        )
    since = format_time(revocation.compromised_since)
    typer.echo(f"revoked {revocation.key_id}, compromised since {since}")


NEW_PASSPHRASE_ENV = "SEALTRACE_NEW_KEY_PASSPHRASE"  # noqa: S105 (a variable name)


def _private_key_files(paths: list[Path]) -> list[Path]:
    """The given key files, with a directory standing for every *.key.pem in it."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.glob(f"*{PRIVATE_SUFFIX}")) if path.is_dir() else [path])
    if not found:
        raise InvalidInput("no private key files (*.key.pem) found")
    return found


@app.command("kdf")
def kdf(
    paths: Annotated[list[Path], typer.Argument(help="Key files, or directories of them.")],
) -> None:
    """Say which key-derivation function protects each private key file.

    Files written before scrypt (PBKDF2, 2,048 iterations) still load; `keys reencrypt`
    upgrades them. Exits 1 when any file is not at the current work factor.
    """
    with reported():
        files = _private_key_files(paths)
        infos = [(path, private_key_kdf(path)) for path in files]
    for path, info in infos:
        state = "current" if info.current else "weak: run `sealtrace keys reencrypt`"
        typer.echo(f"{path}: {info.describe()} ({state})")
    if not all(info.current for _, info in infos):
        raise typer.Exit(1)


@app.command("reencrypt")
def reencrypt(
    paths: Annotated[list[Path], typer.Argument(help="Key files, or directories of them.")],
) -> None:
    """Rewrite private key files under the current work factor (scrypt N=2^17).

    The passphrase comes from SEALTRACE_KEY_PASSPHRASE (or the terminal); set
    SEALTRACE_NEW_KEY_PASSPHRASE to change it at the same time. Each file is replaced
    atomically; files already current are left alone unless the passphrase changes.
    """
    with reported():
        files = _private_key_files(paths)
        passphrase = passphrase_from_env(prompt=True)
        new_value = os.environ.get(NEW_PASSPHRASE_ENV)
        new_passphrase = new_value.encode("utf-8") if new_value else None
        for path in files:
            if new_passphrase is None and private_key_kdf(path).current:
                typer.echo(f"{path}: already current", err=True)
                continue
            info = reencrypt_private_key(path, passphrase, new_passphrase)
            typer.echo(f"{path}: now {info.describe()}", err=True)


@trustlist_app.command("build")
def trustlist_build(
    valid_days: Annotated[
        int, typer.Option("--valid-days", help="Days until the list expires.")
    ] = 7,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Sign the next trust list version with the registry key and list what changed."""
    with reported():
        if valid_days < 1:
            raise InvalidInput("--valid-days must be at least 1")
        trust_list, changes = open_home(home).build_trust_list(now=now_utc(), valid_days=valid_days)
    typer.echo(f"trust list version {trust_list.version}: {home / 'trustlist' / 'current.json'}")
    for change in changes:
        typer.echo(f"  {change}")


@trustlist_app.command("show")
def trustlist_show(
    file: Annotated[
        Path | None, typer.Argument(help="A trust list file (default: the home's current one).")
    ] = None,
    registry_key: Annotated[
        Path | None,
        typer.Option("--registry-key", help="Registry public key (default: the home's)."),
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Verify a trust list and print its brands, line keys and revocations."""
    with reported():
        trust_list = _load_list(file or home / "trustlist" / "current.json", registry_key, home)
    now = now_utc()
    state = "EXPIRED" if trust_list.is_stale(now) else "valid"
    typer.echo(
        f"trust list version {trust_list.version}, issued {format_time(trust_list.issued_at)}, "
        f"expires {format_time(trust_list.expires_at)} ({state})"
    )
    for brand in trust_list.brands:
        contact = ", ".join(brand.contact.to_json().values()) or "no contact"
        typer.echo(
            f"brand {brand.id}: {brand.name} ({contact}); prefixes {', '.join(brand.prefixes)}; "
            f"root {brand.root_key_id}; registered by {brand.registered_by} "
            f"at {format_time(brand.registered_at)}"
        )
    for cert in trust_list.line_keys:
        typer.echo(f"line key {describe_certificate(cert)}")
    for rev in trust_list.revocations:
        typer.echo(
            f"revoked {rev.key_id}: compromised since {format_time(rev.compromised_since)} "
            f"({rev.reason})"
        )


@trustlist_app.command("verify")
def trustlist_verify(
    file: Annotated[Path, typer.Argument(help="The trust list file.")],
    registry_key: Annotated[
        Path | None,
        typer.Option("--registry-key", help="Registry public key (default: the home's)."),
    ] = None,
    held_version: Annotated[
        int | None, typer.Option("--held-version", help="Refuse versions older than this.")
    ] = None,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Check a trust list's signature, version and expiry; exit status 0 only if usable."""
    with reported():
        trust_list = _load_list(file, registry_key, home, held_version=held_version, stale=False)
    typer.echo(
        f"OK: trust list version {trust_list.version}, expires {format_time(trust_list.expires_at)}"
    )


def parse_contact(items: list[str]) -> Contact:
    """Sort free-form contact items into email, phone and URL."""
    email = phone = url = None
    for item in items:
        if "@" in item:
            email = item
        elif item.startswith(("https://", "http://")):
            url = item
        elif item.replace(" ", "").lstrip("+").replace("-", "").isdigit():
            phone = item
        else:
            raise InvalidInput(f"contact {item!r} is not an email, phone number or URL")
    return Contact(email=email, phone=phone, url=url)


def _load_list(
    path: Path,
    registry_key: Path | None,
    home: Path,
    *,
    held_version: int | None = None,
    stale: bool = True,
) -> TrustList:
    key_path = registry_key or home / "keys" / "registry.pub.pem"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    return TrustList.from_signed_json(
        data,
        load_public_key(key_path),
        now=now_utc(),
        held_version=held_version,
        allow_stale=stale,
    )
