"""Officers' inspection outcomes on scans, and seizure reports.

An officer (or admin) records what happened to a scanned unit: ``released``,
``detained`` or ``seized``, with notes and a quantity. Each inspection emits
an EPCIS inspecting event (same transaction). A seizure (an inspection with
outcome ``seized``) is read back as a report an officer can file: JSON, or a
printable, self-contained HTML page (:func:`render_seizure_html`). Brand
accounts may read the seizures of their own products.

Service functions take the session, the caller, the trust list and ``now``;
the HTTP routes and the web console both call them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from authn.errors import NotFound, PermissionDenied, Unauthenticated
from epcis.documents import inspection_event
from epcis.store import record_own_events
from keys.trust import TrustList
from verifier.accounts import Caller, Role
from verifier.db.models import Account, BrandWebhook, CodeRecord, Inspection, Scan, WebhookOutbox
from verifier.registry import caller_owns
from verifier.text import Text
from verifier.webhooks import new_event

InspectionOutcome = Literal["released", "detained", "seized"]
HISTORY_SHOWN = 50


SEIZURE_RECORDED = "seizure.recorded"


class InspectionIn(BaseModel):
    outcome: InspectionOutcome
    notes: Text | None = Field(default=None, max_length=4000)
    quantity: int | None = Field(default=None, ge=1, le=10_000_000)


class InspectionOut(BaseModel):
    id: int
    scan_id: str
    gtin: str
    serial: str
    outcome: str
    notes: str | None
    quantity: int | None
    officer: str | None
    at: datetime
    country: str | None
    seizure_url: str | None = Field(default=None, description="For seizures: the report.")


class PartyOut(BaseModel):
    name: str | None
    contact: dict[str, str] | str | None = None


class PlaceOut(BaseModel):
    country: str | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None


class ReportFinding(BaseModel):
    code: str
    severity: str | None = None
    message: str


class ReportScan(BaseModel):
    scanned_at: datetime
    role: str
    country: str | None
    lat: float | None
    lon: float | None
    device_id: str | None
    verdict: str
    scan_id: str


class SeizureReport(BaseModel):
    """What a seizure report carries; the HTML page shows the same."""

    id: int
    seized_at: datetime
    quantity: int | None
    notes: str | None
    officer: PartyOut
    place: PlaceOut
    product: dict[str, Any]
    code: str
    brand: PartyOut
    brand_id: str | None
    verdict: str
    risk_score: int | None
    findings: list[ReportFinding]
    scan_id: str
    history: list[ReportScan]


def _require_officer(caller: Caller) -> int:
    if caller.role is Role.ANONYMOUS or caller.account_id is None:
        raise Unauthenticated("inspections need an officer's bearer token")
    if caller.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("only customs officers and admins record inspections")
    return caller.account_id


def _brand_id(session: Session, trust: TrustList, gtin: str, serial: str) -> str | None:
    record = session.exec(
        select(CodeRecord.brand_id).where(CodeRecord.gtin == gtin, CodeRecord.serial == serial)
    ).first()
    if record is not None:
        return record
    brand = trust.brand_owning(gtin)
    return brand.id if brand is not None else None


def _out(row: Inspection, officer: str | None) -> InspectionOut:
    assert row.id is not None
    return InspectionOut(
        id=row.id, scan_id=row.scan_id, gtin=row.gtin, serial=row.serial, outcome=row.outcome,
        notes=row.notes, quantity=row.quantity, officer=officer, at=row.at, country=row.country,
        seizure_url=f"/v1/seizures/{row.id}" if row.outcome == "seized" else None,
    )  # fmt: skip


def record_inspection(
    session: Session,
    caller: Caller,
    trust: TrustList,
    scan_id: str,
    body: InspectionIn,
    *,
    now: datetime,
) -> InspectionOut:
    """Record an officer's outcome on a scan and emit the EPCIS inspecting event."""
    account_id = _require_officer(caller)
    scan = session.exec(select(Scan).where(Scan.scan_id == scan_id)).first()
    if scan is None:
        raise NotFound("no such scan")
    brand_id = _brand_id(session, trust, scan.gtin, scan.serial)
    row = Inspection(
        scan_id=scan.scan_id, gtin=scan.gtin, serial=scan.serial, brand_id=brand_id,
        outcome=body.outcome, notes=body.notes, quantity=body.quantity, account_id=account_id,
        at=now, country=scan.country, lat=scan.lat, lon=scan.lon, accuracy_m=scan.accuracy_m,
    )  # fmt: skip
    session.add(row)
    session.flush()
    if brand_id is not None:
        event = inspection_event(scan.gtin, scan.serial, at=now, lat=scan.lat, lon=scan.lon)
        # Commits the inspection with the event: one transaction.
        record_own_events(session, [event], brand_id=brand_id, now=now, account_id=account_id)
        if row.outcome == "seized":
            _tell_brand_of_seizure(session, row, brand_id, now=now)
    session.commit()
    session.refresh(row)
    return _out(row, caller.name)


def _tell_brand_of_seizure(
    session: Session, row: Inspection, brand_id: str, *, now: datetime
) -> None:
    """A seizure of its product goes to the brand's signed webhook, in the same transaction."""
    webhook = session.exec(select(BrandWebhook).where(BrandWebhook.brand_id == brand_id)).first()
    if webhook is None:
        return
    assert row.id is not None
    event = new_event(
        SEIZURE_RECORDED,
        {
            "seizure_id": row.id, "brand_id": brand_id, "gtin": row.gtin, "serial": row.serial,
            "quantity": row.quantity, "country": row.country, "scan_id": row.scan_id,
            "seized_at": row.at.isoformat(), "report": f"/v1/seizures/{row.id}",
            "evidence": f"/v1/seizures/{row.id}/evidence",
        },
        now=now,
    )  # fmt: skip
    session.add(
        WebhookOutbox(
            event_id=event.event_id, event_type=event.event_type, brand_id=brand_id,
            created_at=now, payload=event.body().decode("utf-8"), next_attempt_at=now,
        )
    )  # fmt: skip


def get_seizure(
    session: Session, caller: Caller, trust: TrustList, seizure_id: int, *, now: datetime
) -> SeizureReport:
    """A seizure's report: officers and admins any, a brand account its own products' only."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("seizure reports need a bearer token")
    if caller.role not in (Role.OFFICER, Role.BRAND, Role.ADMIN):
        raise PermissionDenied("seizure reports are for officers, admins and the brand concerned")
    row = session.get(Inspection, seizure_id)
    if row is None or row.outcome != "seized":
        raise NotFound("no such seizure")
    if caller.role is Role.BRAND and not (
        row.brand_id == caller.brand_id or caller_owns(caller, trust, row.gtin)
    ):
        raise NotFound("no such seizure")
    assert row.id is not None
    scan = session.exec(select(Scan).where(Scan.scan_id == row.scan_id)).first()
    officer = session.get(Account, row.account_id)
    answer: dict[str, Any] = json.loads(scan.answer) if scan is not None and scan.answer else {}
    brand = trust.brand_for(row.brand_id) if row.brand_id else None
    history = session.exec(
        select(Scan)
        .where(Scan.gtin == row.gtin, Scan.serial == row.serial)
        .order_by(col(Scan.scanned_at).desc())
        .limit(HISTORY_SHOWN)
    ).all()
    return SeizureReport(
        id=row.id,
        seized_at=row.at,
        quantity=row.quantity,
        notes=row.notes,
        officer=PartyOut(
            name=officer.name if officer else None, contact=officer.contact if officer else None
        ),
        place=PlaceOut(country=row.country, lat=row.lat, lon=row.lon, accuracy_m=row.accuracy_m),
        product=answer.get("product") or {"gtin": row.gtin, "serial": row.serial},
        code=f"(01){row.gtin}(21){row.serial}",
        brand=PartyOut(
            name=brand.name if brand else None,
            contact={k: str(v) for k, v in brand.contact.to_json().items()} if brand else None,
        ),
        brand_id=row.brand_id,
        verdict=scan.verdict if scan is not None else "unknown",
        risk_score=(answer.get("risk") or {}).get("score"),
        findings=_findings(answer),
        scan_id=row.scan_id,
        history=[
            ReportScan(
                scanned_at=s.scanned_at,
                role=s.role,
                country=s.country,
                lat=s.lat,
                lon=s.lon,
                device_id=s.device_id,
                verdict=s.verdict,
                scan_id=s.scan_id,
            )
            for s in history
        ],
    )


def _findings(answer: dict[str, Any]) -> list[ReportFinding]:
    """The findings the officer was shown at the scan (the trust decision's included)."""
    risk = answer.get("risk")
    if isinstance(risk, dict) and risk.get("findings"):
        return [
            ReportFinding(code=f["code"], severity=f.get("severity"), message=f["message"])
            for f in risk["findings"]
        ]
    return [ReportFinding(code=r["code"], message=r["message"]) for r in answer.get("reasons", [])]


# The printable report ----------------------------------------------------------------------------

_PRINT_CSS = """
body { font: 11pt/1.4 Georgia, 'Times New Roman', serif; margin: 2em auto; max-width: 52em;
       color: #000; background: #fff; }
h1 { font-size: 16pt; border-bottom: 2px solid #000; padding-bottom: .2em; }
h2 { font-size: 12pt; margin-top: 1.4em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #444; padding: .25em .4em; text-align: left; vertical-align: top; }
th { background: #eee; }
dl { display: grid; grid-template-columns: 12em 1fr; gap: .2em .8em; }
dt { font-weight: bold; }
.critical { font-weight: bold; }
.signature { margin-top: 3em; border-top: 1px solid #000; width: 20em; padding-top: .2em; }
@media print {
  body { margin: 0; max-width: none; }
  h2, table, dl { page-break-inside: avoid; }
  @page { size: A4; margin: 18mm; }
}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _contact(party: PartyOut) -> str:
    if isinstance(party.contact, dict):
        return ", ".join(f"{k}: {v}" for k, v in party.contact.items())
    return party.contact or ""


def _headline(report: SeizureReport, where: str) -> str:
    """What was seized, where and why, in one sentence (never 'nothing suspicious')."""
    units = f"{report.quantity} units" if report.quantity is not None else "Units"
    product = report.product
    what = product.get("name") or f"GTIN {product.get('gtin')}, serial {product.get('serial')}"
    reasons = ", ".join(f.code for f in report.findings) or "no finding recorded"
    return (
        f"{units} of {what} seized in {where} on {report.seized_at:%Y-%m-%d}; "
        f"the scan was judged {report.verdict} ({reasons})."
    )


def render_seizure_html(report: SeizureReport) -> str:
    """A self-contained printable page (inline CSS, no scripts, images or external links)."""
    product = report.product
    place = report.place
    where = place.country or "unknown country"
    if place.lat is not None and place.lon is not None:
        where += f" ({place.lat:.5f}, {place.lon:.5f}"
        where += f", ±{place.accuracy_m:.0f} m)" if place.accuracy_m is not None else ")"
    facts = [
        ("Seizure", f"#{report.id}"),
        ("Seized at", report.seized_at.isoformat()),
        ("Place", where),
        ("Officer", f"{report.officer.name or ''} {_contact(report.officer)}".strip()),
        ("Quantity", report.quantity if report.quantity is not None else "not stated"),
        ("Verdict at scan", report.verdict),
        ("Risk score", report.risk_score if report.risk_score is not None else "not shown"),
        ("Scan", report.scan_id),
    ]
    product_rows = [
        ("Code", report.code),
        ("GTIN", product.get("gtin")),
        ("Serial", product.get("serial")),
        ("Lot", product.get("lot") or "-"),
        ("Expiry", product.get("expiry") or "-"),
        ("Brand", report.brand.name or product.get("brand") or "unknown"),
        ("Brand contact", _contact(report.brand) or "-"),
    ]
    findings = "".join(
        f'<tr class="{_e(f.severity)}"><td>{_e(f.code)}</td><td>{_e(f.severity or "")}</td>'
        f"<td>{_e(f.message)}</td></tr>"
        for f in report.findings
    )
    history = "".join(
        f"<tr><td>{_e(s.scanned_at.isoformat())}</td><td>{_e(s.role)}</td>"
        f"<td>{_e(s.country or '')}</td>"
        f"<td>{_e(f'{s.lat:.1f}, {s.lon:.1f}' if s.lat is not None and s.lon is not None else '')}"
        f"</td><td>{_e(s.device_id or '')}</td><td>{_e(s.verdict)}</td></tr>"
        for s in report.history
    )

    def pairs(rows: Sequence[tuple[str, object]]) -> str:
        return "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)

    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Seizure report #{report.id}</title><style>{_PRINT_CSS}</style></head><body>"
        f"<h1>Seizure report #{report.id}</h1>"
        f'<p class="headline">{_e(_headline(report, where))}</p>'
        f"<dl>{pairs(facts)}</dl>"
        f"<h2>Product</h2><dl>{pairs(product_rows)}</dl>"
        "<h2>Findings</h2><table><thead><tr><th>Reason</th><th>Severity</th>"
        f"<th>What was found</th></tr></thead><tbody>{findings}</tbody></table>"
        "<h2>Scan history (newest first)</h2><table><thead><tr><th>Time (UTC)</th>"
        "<th>Role</th><th>Country</th><th>Location (0.1°)</th><th>Device</th><th>Verdict</th>"
        f"</tr></thead><tbody>{history}</tbody></table>"
        f"<h2>Notes</h2><p>{_e(report.notes or 'none')}</p>"
        "<h2>How to verify this report</h2><p>Every fact above is an entry of the verifier's "
        "transparency log. The evidence bundle (GET "
        f"{_e(f'/v1/seizures/{report.id}/evidence')}) holds those entries with proofs against "
        "a signed checkpoint; <code>python -m transparency.checker BUNDLE.json LOG-KEY.pem"
        "</code> checks it offline with only the log's public key (docs/transparency.md).</p>"
        '<p class="signature">Officer\'s signature</p>'
        "</body></html>\n"
    )
