"""`sealtrace officer`: what a customs officer's handheld does, from the command line."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from authn.errors import SealtraceError
from keys.canonical import format_time
from keys.filestore import load_public_key
from sealtrace.cli import officer_queue
from sealtrace.cli.api_call import ConfigOption, UrlOption, call

if TYPE_CHECKING:
    import httpx

    from mobile_api.bundle import OfflineBundle
    from mobile_api.offline import OfflineVerdict

app = typer.Typer(
    no_args_is_help=True,
    help="Customs officers: verify codes online, or offline against a signed offline bundle, "
    "record scans in a local queue and upload it.",
)

EXIT_AUTHENTIC = 0
EXIT_NOT_AUTHENTIC = 1
EXIT_UNUSABLE = 2
UPLOAD_BATCH = 200
RETRYABLE = (408, 429)

Text = Annotated[str, typer.Argument(help="What the scanner read (Digital Link, element string).")]
BundleFile = Annotated[
    Path, typer.Option("--bundle", help="Offline bundle from GET /v1/offline-bundle.")
]
RegistryKey = Annotated[
    Path,
    typer.Option(
        "--registry-key",
        envvar="SEALTRACE_REGISTRY_PUBLIC_KEY",
        help="PEM public key of the registry (signs the trust list).",
    ),
]
BundleKey = Annotated[
    Path,
    typer.Option(
        "--bundle-key",
        envvar="SEALTRACE_MOBILE_BUNDLE_PUBLIC_KEY",
        help="PEM public key of the server that signs bundles (GET /v1/offline-bundle/key).",
    ),
]
Deltas = Annotated[
    list[Path] | None,
    typer.Option("--delta", help="Deltas to apply in order (GET ...?since=VERSION)."),
]
At = Annotated[
    str | None, typer.Option("--at", help="Judge as of this ISO 8601 time (default now).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")]
Queue = Annotated[
    Path,
    typer.Option(
        "--queue", envvar="SEALTRACE_OFFICER_QUEUE", help="The local queue of recorded scans."
    ),
]


@app.callback()
def officer() -> None:
    """Customs officers: verify codes online or offline, record scans locally, upload them."""


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_UNUSABLE)


def _moment(at: str | None) -> datetime:
    try:
        now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        fail(f"--at is not an ISO 8601 time: {at!r}")
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _judge(
    text: str, bundle: Path, deltas: list[Path], registry_key: Path, bundle_key: Path, now: datetime
) -> tuple[OfflineBundle, OfflineVerdict]:
    # The bundle's Bloom filter needs numpy: imported here, not for every `sealtrace` start.
    from mobile_api.bundle import apply_delta, open_bundle
    from mobile_api.offline import verify_offline

    try:
        registry = load_public_key(registry_key)
        server = load_public_key(bundle_key)
        held = open_bundle(bundle.read_bytes(), registry_key=registry, bundle_key=server, now=now)
        for path in deltas:
            held = apply_delta(
                held, path.read_bytes(), registry_key=registry, bundle_key=server, now=now
            )
        return held, verify_offline(held, text, now=now)
    except SealtraceError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}")


def _print(held: OfflineBundle, result: OfflineVerdict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    product = result.code
    # The bundle's product data, only for a code its trust list vouches for (as online).
    label = result.product.label() if result.product is not None else "no product data"
    typer.echo(f"verdict: {result.verdict}")
    typer.echo(f"product: {label}: GTIN {product.gtin} serial {product.serial}"
               + (f" lot {product.lot}" if product.lot else "")
               + (f" ({result.brand})" if result.brand else ""))  # fmt: skip
    for reason in result.reasons:
        typer.echo(f"  {reason.code}: {reason.message}")
    typer.echo(f"bundle: version {held.version}, valid until {held.expires_at.isoformat()}")


@app.command("verify")
def verify(
    text: Text,
    bundle: BundleFile,
    registry_key: RegistryKey,
    bundle_key: BundleKey,
    delta: Deltas = None,
    at: At = None,
    as_json: AsJson = False,
) -> None:
    """Verify one code offline. Exit 0 authentic, 1 not authentic (suspect, counterfeit or
    cannot confirm), 2 unusable input (not a code, bad or unsigned bundle, bad keys)."""
    held, result = _judge(text, bundle, delta or [], registry_key, bundle_key, _moment(at))
    _print(held, result, as_json)
    raise typer.Exit(EXIT_AUTHENTIC if result.authentic else EXIT_NOT_AUTHENTIC)


@app.command("check")
def check(
    text: Text,
    country: Annotated[str | None, typer.Option(help="ISO 3166 country of the scan.")] = None,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: AsJson = False,
) -> None:
    """Verify one code online (POST /v1/verify with the officer's token, recorded as a scan):
    every finding, the recent history and the right holder. Exit codes as for `verify`."""
    body = {"code": text, "country": country.upper() if country else None}
    answer = call(url, config, "POST", "/v1/verify", json=body)
    if as_json:
        typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        _print_online(answer)
    raise typer.Exit(EXIT_AUTHENTIC if answer["verdict"] == "authentic" else EXIT_NOT_AUTHENTIC)


def _print_online(answer: dict[str, Any]) -> None:
    product = answer["product"]
    name = product.get("productName")
    label = " · ".join(
        p for p in (name, product.get("availableStrength"), product.get("netContent")) if p
    )
    typer.echo(f"verdict: {answer['verdict']} (status {answer['status']})")
    typer.echo(f"product: {label or 'no product data'}: GTIN {product['gtin']} serial "
               f"{product['serial']}" + (f" lot {product['lot']}" if product.get("lot") else "")
               + (f" ({product['brand']})" if product.get("brand") else ""))  # fmt: skip
    risk = answer.get("risk")
    for finding in risk["findings"] if risk else answer["reasons"]:
        typer.echo(f"  {finding['code']}: {finding['message']}")
    if risk:
        typer.echo(f"risk: {risk['score']}/100")
    if answer.get("history") is not None:
        typer.echo(f"history: {len(answer['history'])} recent scans")
    holder = answer.get("right_holder")
    if holder:
        contact = ", ".join(f"{k} {v}" for k, v in holder["contact"].items())
        typer.echo(f"right holder: {holder['name']}" + (f" ({contact})" if contact else ""))
    if answer.get("scan_id"):
        typer.echo(f"scan: {answer['scan_id']}")


@app.command("record")
def record(
    text: Text,
    bundle: BundleFile,
    registry_key: RegistryKey,
    bundle_key: BundleKey,
    queue: Queue,
    device_id: Annotated[
        str, typer.Option("--device-id", envvar="SEALTRACE_OFFICER_DEVICE_ID", help="This device.")
    ],
    delta: Deltas = None,
    at: At = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166 country of the scan.")] = None,
    lat: Annotated[float | None, typer.Option(help="Latitude of the scan.")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude of the scan.")] = None,
    accuracy_m: Annotated[float | None, typer.Option(help="Accuracy of lat/lon, metres.")] = None,
    as_json: AsJson = False,
) -> None:
    """Verify one code offline, print the verdict, queue the scan for `officer sync`.

    Exit codes as for `verify`; a text that is not a code is not queued."""
    now = _moment(at)
    held, result = _judge(text, bundle, delta or [], registry_key, bundle_key, now)
    if (lat is None) != (lon is None):
        fail("give both --lat and --lon, or neither")
    entry: dict[str, Any] = {
        "scan_id": str(uuid.uuid4()), "code": text, "scanned_at": format_time(now),
        "device_id": device_id, "state": "queued",
        "offline": {"verdict": result.verdict, "reasons": [r.code for r in result.reasons]},
    }  # fmt: skip
    if lat is not None:
        entry["location"] = {"lat": lat, "lon": lon, "accuracy_m": accuracy_m}
    if country:
        entry["country"] = country.upper()
    try:
        officer_queue.append(queue, entry)
    except (OSError, SealtraceError) as exc:
        fail(f"cannot queue the scan in {queue}: {exc}")
    _print(held, result, as_json)
    if not as_json:
        typer.echo(f"queued: scan {entry['scan_id']} in {queue}")
    raise typer.Exit(EXIT_AUTHENTIC if result.authentic else EXIT_NOT_AUTHENTIC)


def _upload(http: httpx.Client, token: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    fields = ("scan_id", "code", "scanned_at", "device_id", "location", "country")
    body = {"scans": [{k: e[k] for k in fields if k in e} for e in entries]}
    response = http.post("/v1/scans:batch", json=body, headers={"Authorization": f"Bearer {token}"})
    if response.status_code in (401, 403):
        fail(f"the service refused the token ({response.status_code}): use an officer's token")
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def _acknowledge(entries: list[dict[str, Any]], results: dict[str, dict[str, Any]]) -> None:
    """Mark the entries the service answered; others stay queued for the next sync."""
    for entry in entries:
        result = results.get(entry["scan_id"])
        if entry["state"] != "queued" or result is None:
            continue
        status = result["status"]
        if status == 200:
            entry["state"] = "synced"
            answer = result["answer"]
            reasons = [reason["code"] for reason in answer["reasons"]]
            entry["online"] = {"verdict": answer["verdict"], "reasons": reasons}
        elif 400 <= status < 500 and status not in RETRYABLE:
            entry["state"] = "refused"
            entry["error"] = result.get("error", {}).get("detail", f"status {status}")


@app.command("sync")
def sync(
    queue: Queue,
    url: Annotated[str, typer.Option("--url", envvar="SEALTRACE_URL", help="The service.")],
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding an officer's bearer token.")
    ] = "SEALTRACE_TOKEN",  # noqa: S107  (the variable's name, not a token)
) -> None:
    """Upload the queued scans; each is recorded once, however often this runs.

    POST /v1/scans:batch in batches of 200. Exit 0 when nothing is left queued, 1 when
    some scans are still queued (service unreachable or busy: run it again) or were
    refused, 2 for unusable input."""
    token = os.environ.get(token_env, "")
    if not token:
        fail(f"put an officer's bearer token in ${token_env}")
    try:
        pending = [e for e in officer_queue.read(queue) if e["state"] == "queued"]
    except (OSError, SealtraceError) as exc:
        fail(str(exc))
    results: dict[str, dict[str, Any]] = {}
    problem = None
    import httpx  # here, not for every `sealtrace` start

    with httpx.Client(base_url=url, timeout=60) as http:
        for start in range(0, len(pending), UPLOAD_BATCH):
            chunk = pending[start : start + UPLOAD_BATCH]
            try:
                answer = _upload(http, token, chunk)
            except (httpx.HTTPError, ValueError) as exc:
                problem = f"upload stopped: {exc}"
                break
            for result in answer["results"]:
                results[chunk[result["index"]]["scan_id"]] = result
    entries = officer_queue.update(queue, lambda entries: _acknowledge(entries, results))
    counts = {
        state: sum(1 for e in entries if e["state"] == state) for state in officer_queue.STATES
    }
    for entry in entries:
        if entry["scan_id"] in results and entry["state"] == "synced":
            offline, online = entry["offline"]["verdict"], entry["online"]["verdict"]
            note = f" (offline: {offline})" if offline != online else ""
            typer.echo(f"synced {entry['scan_id']}: {online}{note}")
        elif entry["scan_id"] in results and entry["state"] == "refused":
            typer.echo(f"refused {entry['scan_id']}: {entry['error']}")
    if problem:
        typer.echo(problem, err=True)
    typer.echo(f"queue: {counts['synced']} synced, {counts['refused']} refused, "
               f"{counts['queued']} still queued")  # fmt: skip
    refused_now = any(e["state"] == "refused" for e in entries if e["scan_id"] in results)
    raise typer.Exit(0 if counts["queued"] == 0 and not problem and not refused_now else 1)
