"""`sealtrace code`: sign, parse, verify and draw single product codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from authn.code import ProductCode
from authn.digital_link import compress_digital_link, format_digital_link
from authn.element_string import format_bracketed
from authn.errors import SealtraceError
from authn.scan import ScanInput, parse_scan
from sealtrace.cli.scan_lines import parse_lines

DEFAULT_RESOLVER = "https://id.sealtrace.example"

app = typer.Typer(
    no_args_is_help=True,
    help="Sign, parse, verify and draw single product codes (GS1 Digital Link + AI 8030).",
)


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit: what scripts rely on."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command("sign")
def sign(
    key: Annotated[
        Path,
        typer.Option(help="Encrypted private key file (passphrase from SEALTRACE_KEY_PASSPHRASE)."),
    ],
    gtin: Annotated[str, typer.Option(help="GTIN-8/12/13/14; check digit verified.")],
    serial: Annotated[str, typer.Option(help="Serial number (AI 21), up to 20 characters.")],
    lot: Annotated[str | None, typer.Option(help="Lot/batch (AI 10).")] = None,
    expiry: Annotated[
        str | None, typer.Option(help="Expiry date YYMMDD (AI 17); DD=00 means end of month.")
    ] = None,
    resolver: Annotated[
        str, typer.Option(help="Resolver base URL the QR code points at.")
    ] = DEFAULT_RESOLVER,
    compressed: Annotated[
        bool,
        typer.Option(
            "--compressed",
            help="Print GS1's compressed Digital Link form (one URL-safe path segment).",
        ),
    ] = False,
) -> None:
    """Sign one code and print its Digital Link URI."""
    # The signing and key-file stacks (cryptography, asn1crypto) only where keys are used.
    from authn.signing import sign_code
    from keys.filestore import load_private_key, passphrase_from_env

    try:
        code = ProductCode(gtin=gtin, serial=serial, lot=lot, expiry=expiry)
        signer = load_private_key(key, passphrase_from_env(prompt=True))
        signed = sign_code(code, signer)
        write = compress_digital_link if compressed else format_digital_link
        typer.echo(write(signed.ais(), base=resolver))
    except SealtraceError as exc:
        fail(str(exc))


@app.command("parse")
def parse(
    text: Annotated[
        str | None, typer.Argument(help="A Digital Link URI, element string or raw scan data.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_jsonl: Annotated[
        bool,
        typer.Option(
            "--jsonl",
            help="Read one input per line from standard input; print one JSON result per line.",
        ),
    ] = False,
) -> None:
    """Parse whatever a scanner hands over; exit 2 with the reason when it is malformed.

    With --jsonl, every line of standard input is one input and gives one line
    {"input", "ok", "ais"} or {"input", "ok", "error"}; a bad line never stops
    the others. Exit 0 when every line parsed, 1 when some did not.
    """
    if as_jsonl:
        if text is not None:
            fail("--jsonl reads its inputs from standard input: give no TEXT")
        raise typer.Exit(parse_lines(sys.stdin.buffer, sys.stdout))
    if text is None:
        fail("give the TEXT to parse, or --jsonl to read lines from standard input")
    try:
        scanned = parse_scan(text)
        digital_link = _digital_link_or_none(scanned)
        out = {
            "ais": [[ai, value] for ai, value in scanned.ais],
            "digital_link": digital_link,
            "element_string": format_bracketed(scanned.ais),
        }
    except SealtraceError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(out))
        return
    for ai, value in scanned.ais:
        typer.echo(f"({ai}) {value}")
    if digital_link:
        typer.echo(f"Digital Link: {digital_link}")


@app.command("verify")
def verify(
    text: Annotated[str, typer.Argument(help="The code as scanned.")],
    public_key: Annotated[
        list[Path],
        typer.Option("--public-key", help="Public key file (PEM); repeat to try several."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a code's signature: exit 0 when valid, 1 when not, 2 on unusable input."""
    from authn.signing import check_signature
    from keys.filestore import load_public_key

    try:
        keys = [load_public_key(path) for path in public_key]
        scanned = parse_scan(text)
        code = ProductCode.from_ais(scanned.ais)
    except SealtraceError as exc:
        fail(str(exc))
    result = check_signature(code, keys)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "valid": result.valid,
                    "reason": result.reason.value,
                    "message": result.message,
                    "key_id": result.key_id,
                    "ais": [[ai, value] for ai, value in scanned.ais],
                }
            )
        )
    else:
        typer.echo(f"{'VALID' if result.valid else 'INVALID'}: {result.message} ({result.reason})")
    raise typer.Exit(0 if result.valid else 1)


@app.command("qr")
def qr(
    text: Annotated[str, typer.Argument(help="The data to encode, usually a Digital Link URI.")],
    out: Annotated[Path, typer.Option(help="Output file: .png or .svg.")],
    ec: Annotated[str, typer.Option(help="Error correction level L, M, Q or H.")] = "M",
) -> None:
    """Write a QR code image of TEXT."""
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg"):
        fail(f"--out must end in .png or .svg, got {out.name!r}")
    try:
        from issuer.render import render_png, render_svg  # numpy and pillow: only when drawing

        data = render_png(text, ec=ec) if suffix == ".png" else render_svg(text, ec=ec)
        tmp = out.with_name(out.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(out)
    except SealtraceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    typer.echo(str(out))


def _digital_link_or_none(scanned: ScanInput) -> str | None:
    """The Digital Link form of the data, on the input's own resolver when it had one."""
    base = scanned.digital_link.base if scanned.digital_link else DEFAULT_RESOLVER
    try:
        return format_digital_link(scanned.ais, base=base)
    except SealtraceError:
        return None  # no Digital Link primary key (e.g. only an expiry date)
