"""`sealtrace brand`: a producer's daily work against the verifier, without curl.

Every command speaks to the verifier's HTTP API as any producer software
would: the URL from --url, $SEALTRACE_URL or the config file, the token from
$SEALTRACE_TOKEN or the config file (TOML with ``url`` and ``token``, mode
0600; see `issuer.client`). Only httpx is imported here, so the command starts
fast. Exit status: 0 done, 1 some items failed, 2 nothing done (one error line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from authn.errors import InvalidInput
from sealtrace.cli import products_cmd
from sealtrace.cli.api_call import (
    ConfigOption,
    JsonOption,
    UrlOption,
    call,
    client,
    report_items,
    show,
)

app = typer.Typer(
    no_args_is_help=True,
    help="Producers: statuses (one or a file of many), lot recalls, markets, alerts, a code's "
    "history, seizures, the webhook, trust-list publishing; over the verifier's API.",
)
webhook_app = typer.Typer(no_args_is_help=True, help="The brand's alert webhook.")
app.add_typer(webhook_app, name="webhook")
app.add_typer(products_cmd.app, name="products")

GtinOption = Annotated[str, typer.Option("--gtin", help="GTIN (14 digits).")]
SerialOption = Annotated[str, typer.Option("--serial", help="Serial.")]
AlertArgument = Annotated[int, typer.Argument(help="Alert id.")]
CodeStatus = Annotated[
    str,
    typer.Option(
        "--status", help="sold, dispensed, destroyed, stolen, exported, sample, locked, recalled."
    ),
]


@app.command("status")
def status(
    status: CodeStatus,
    gtin: Annotated[str | None, typer.Option(help="GTIN of one unit (14 digits).")] = None,
    serial: Annotated[str | None, typer.Option(help="Serial of one unit.")] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Many units: an issue manifest, a CSV with gtin,serial[,status,comment], or "
            "one code a line.",
        ),
    ] = None,
    comment: Annotated[str | None, typer.Option(help="Kept in the audit trail.")] = None,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set the status of one unit (--gtin --serial) or of every unit in --file.

    Setting a unit's current status again changes nothing, so a file can be sent
    again after an interruption. Each unit that fails is printed with its reason
    (never registered, already in another status, not your product); the others
    are changed. Exit 1 when any failed.
    """
    with client(url, config) as http:
        items = _items(status, gtin, serial, file, comment)
        results = http.bulk_status(items)
    report_items(results, noun="units", name=lambda r: f"{r['gtin']} {r['serial']}",
                 as_json=as_json)  # fmt: skip


def _items(
    status: str, gtin: str | None, serial: str | None, file: Path | None, comment: str | None
) -> list[dict[str, Any]]:
    if (file is None) == (gtin is None or serial is None):
        raise InvalidInput("give either --gtin and --serial, or --file")
    if file is not None:
        from issuer.codes_file import read_units

        units = read_units(file.read_text(encoding="utf-8-sig"))
        return [
            {"gtin": u.gtin, "serial": u.serial, "status": u.status or status,
             "comment": u.comment or comment}
            for u in units
        ]  # fmt: skip
    from authn.gs1 import normalise_gtin

    return [{"gtin": normalise_gtin(gtin or ""), "serial": serial, "status": status,
             "comment": comment}]  # fmt: skip


@app.command("undo")
def undo(
    gtin: GtinOption,
    serial: SerialOption,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Undo a unit's latest status change (same account, within the undo window)."""
    answer = call(url, config, "POST", f"/v1/codes/{gtin}/{serial}/status/undo")
    show(answer, as_json, f"{gtin} {serial}: {answer['previous']} -> {answer['status']}")


@app.command("resolve-flag")
def resolve_flag(
    gtin: GtinOption,
    serial: SerialOption,
    comment: Annotated[str, typer.Option(help="What was found and done (required).")],
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve a code flagged as cloned (owning brand or officer), with a comment; audited."""
    with client(url, config) as http:
        answer = http.call(
            "POST", f"/v1/codes/{gtin}/{serial}/flag/resolve", json={"comment": comment}
        )
    show(answer, as_json, f"{gtin} {serial}: flag of {answer['flagged_at']} resolved")


@app.command("recall")
def recall(
    gtin: GtinOption,
    lot: Annotated[str, typer.Option(help="Lot number (AI 10).")],
    comment: Annotated[str | None, typer.Option(help="Kept in the audit trail.")] = None,
    lift: Annotated[bool, typer.Option("--lift", help="Lift the recall (lot active).")] = False,
    undo: Annotated[bool, typer.Option("--undo", help="Undo the latest lot change.")] = False,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recall a lot (or --lift the recall, or --undo the latest change). Only a lot with
    registered codes can be recalled."""
    path = f"/v1/lots/{gtin}/{lot}/status"
    if undo:
        answer = call(url, config, "POST", path + "/undo")
    else:
        body = {"status": "active" if lift else "recalled", "comment": comment}
        answer = call(url, config, "POST", path, json=body)
    what = "changed" if answer["changed"] else "unchanged"
    show(answer, as_json, f"lot {lot} of {gtin}: {answer['status']} ({what})")


@app.command("markets")
def markets(
    gtin: GtinOption,
    markets: Annotated[str, typer.Option("--markets", help="Countries, e.g. DE,FR.")],
    batch_id: Annotated[str | None, typer.Option(help="Only this batch of the GTIN.")] = None,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set the intended markets of a GTIN (or of one batch of it)."""
    countries = [m.strip().upper() for m in markets.split(",") if m.strip()]
    body = {"markets": countries, "batch_id": batch_id}
    answer = call(url, config, "PUT", f"/v1/markets/{gtin}", json=body)
    show(answer, as_json, f"{gtin}: markets {', '.join(answer['markets']) or 'none'}")


@app.command("history")
def history(
    gtin: GtinOption,
    serial: SerialOption,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """A registered code: its status, lot status and change history."""
    answer = call(url, config, "GET", f"/v1/codes/{gtin}/{serial}")
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    typer.echo(
        f"{gtin} {serial}: {answer['effective_status']} (lot {answer['lot'] or '-'}, "
        f"batch {answer['batch_id']}, registered {answer['registered_at']})"
    )
    for change in answer["changes"]:
        note = f"  {change['comment']}" if change.get("comment") else ""
        typer.echo(
            f"  {change['at']}  {change['action']}  {change['before']} -> {change['after']}{note}"
        )


@app.command("alerts")
def alerts(
    status: Annotated[
        str | None, typer.Option(help="open, acknowledged or closed (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The brand's alerts, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    answer = call(url, config, "GET", "/v1/alerts", params=params)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    for a in answer:
        typer.echo(
            f"{a['id']}\t{a['status']}\t{a['severity']}\t{a['reason']}\t{a['gtin']} {a['serial']}"
        )
    typer.echo(f"{len(answer)} alerts", err=True)


@app.command("ack")
def ack(
    alert_id: AlertArgument,
    comment: Annotated[str | None, typer.Option(help="Why, for the trail.")] = None,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge an open alert."""
    _move_alert(alert_id, "acknowledge", comment, url, config, as_json)


@app.command("close")
def close(
    alert_id: AlertArgument,
    comment: Annotated[str, typer.Option(help="What was found (required).")],
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close an alert with a comment."""
    _move_alert(alert_id, "close", comment, url, config, as_json)


def _move_alert(
    alert_id: int,
    action: str,
    comment: str | None,
    url: str | None,
    config: Path | None,
    as_json: bool,
) -> None:
    answer = call(url, config, "POST", f"/v1/alerts/{alert_id}/{action}", json={"comment": comment})
    show(answer, as_json, f"alert {alert_id}: {answer['status']}")


@app.command("seizures")
def seizures(
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Seizures of the brand's products by customs, newest first."""
    answer = call(url, config, "GET", "/v1/seizures", params={"limit": limit})
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    for s in answer:
        typer.echo(
            f"{s['id']}\t{s['seized_at']}\t{s['country'] or '-'}\t{s['gtin']} {s['serial']}\t"
            f"qty {s['quantity'] or '-'}\t{s['report_url']}"
        )
    typer.echo(f"{len(answer)} seizures", err=True)


@app.command("publish-trust-list")
def publish_trust_list(
    path: Annotated[Path, typer.Argument(help="Signed trust list, e.g. trustlist/current.json.")],
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Install a newer signed trust list on the verifier (registry admin token)."""
    with client(url, config) as http:
        data = path.read_bytes()
        answer = http.call(
            "PUT", "/v1/trust-list", content=data, headers={"Content-Type": "application/json"}
        )
    what = "installed" if answer["installed"] else "already held"
    show(answer, as_json, f"trust list version {answer['version']}: {what}")


@webhook_app.command("show")
def webhook_show(
    brand: Annotated[str, typer.Option("--brand", help="Brand id.")],
    url: UrlOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Where the brand's alerts are posted. The secret is never shown."""
    answer = call(url, config, "GET", f"/v1/brands/{brand}/webhook")
    line = f"{brand}: {answer['url'] or 'no webhook set'}"
    if answer["url"]:
        line += f" (secret set, updated {answer['updated_at']})"
    show(answer, as_json, line)


@webhook_app.command("set")
def webhook_set(
    brand: Annotated[str, typer.Option("--brand", help="Brand id.")],
    endpoint: Annotated[str, typer.Option("--endpoint", help="https URL that receives alerts.")],
    secret_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the HMAC secret (default: generated)."),
    ] = None,
    url: UrlOption = None,
    config: ConfigOption = None,
) -> None:
    """Set the webhook endpoint. A generated secret is printed once, on stdout only."""
    import os

    secret = os.environ.get(secret_env) if secret_env else None
    if secret_env and not secret:
        typer.echo(f"error: ${secret_env} is empty", err=True)
        raise typer.Exit(2)
    body = {"url": endpoint, "secret": secret}
    answer = call(url, config, "PUT", f"/v1/brands/{brand}/webhook", json=body)
    typer.echo(f"{brand}: alerts go to {answer['url']}", err=True)
    if secret is None and answer.get("secret"):
        typer.echo(answer["secret"])
