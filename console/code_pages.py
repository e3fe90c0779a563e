"""HTML of a code's page (facts, findings, journey, history, inspection) and its seizure report."""

from __future__ import annotations

from html import escape

from console.data import OUTCOMES, CodePage
from console.journey import Journey, speed_words
from console.layout import csrf_field, layout
from console.pages import code_href, when
from console.svg import journey_svg, path_legs, timeline_svg
from console.tables import Row, card_table
from verifier.accounts import Caller, Role
from verifier.db.models import Scan
from verifier.verification.rules import stored_reasons


def _place(lat: float | None, lon: float | None, country: str | None) -> str:
    where = country or ""
    if lat is not None and lon is not None:
        where += f" ({lat:.2f}, {lon:.2f})"
    return where.strip() or "—"


def expiry_date(yymmdd: str | None) -> str:
    """GS1's AI (17) YYMMDD as a date; day 00 means the end of the month (GS1 General Specs)."""
    if not yymmdd:
        return "—"
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        return yymmdd
    year, month, day = 2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    if not 1 <= month <= 12:
        return yymmdd
    if day == 0:
        return f"end of {year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


def _product(page: CodePage) -> str:
    """The Product line: the brand's uploaded picture of the pack (if any) beside its name."""
    name = escape(page.product_name or "no product data: GTIN only")
    if page.product_image is None:
        return f"<dd>{name}</dd>"
    alt = f"Pack of {page.product_name or 'GTIN ' + page.gtin}, as its brand uploaded it"
    return (
        f'<dd class="product"><img class="product-image" id="product-image" '
        f'src="{escape(page.product_image)}" alt="{escape(alt)}" decoding="async">'
        f"<span>{name}</span></dd>"
    )


def _facts(page: CodePage) -> str:
    record = page.record
    rows = [
        ("GTIN", page.gtin), ("Serial", page.serial), ("Brand", page.brand_name or "—"),
        ("Registered", when(record.registered_at) if record else "never: not registered"),
        ("Status", record.status if record else "unknown"),
        ("Lot", (record.lot or "—") if record else "—"),
        ("Expiry", expiry_date(record.expiry) if record else "—"),
        ("Batch", record.batch_id if record else "—"),
    ]  # fmt: skip
    cells = f"<dt>Product</dt>{_product(page)}" + "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows
    )
    return f'<dl class="facts" id="facts">{cells}</dl>'


def _summary(page: CodePage) -> str:
    """The one line an officer reads first: what the service answered, never a replay.

    It comes from the stored state only (the code's flag, each scan's stored verdict and
    reasons, the seizures), so it cannot disagree with the answers callers were given.
    """
    record, scans = page.record, page.scans
    seized = sum(i.quantity or 1 for i in page.inspections if i.outcome == "seized")
    seizure = f" {seized} unit{'s' if seized != 1 else ''} seized." if seized else ""
    if record is not None and record.flagged_at is not None:
        why = ", ".join(stored_reasons(record.flag_reasons)) or "clone findings"
        shown = next((s for s in scans if s.scan_id == record.flag_scan_id), None)
        by = (
            f" by the scan of {when(shown.scanned_at)} in "
            f"{escape(_place(shown.lat, shown.lon, shown.country))}"
            if shown
            else ""
        )
        return (
            f'<p class="summary bad" id="summary"><span aria-hidden="true">✖</span> '
            f"Flagged as cloned since {when(record.flagged_at)} ({escape(why)}){by}: every "
            f"answer says so until the brand or an officer resolves it."
            f"{_last_legitimate(scans, shown)}{seizure}</p>"
        )
    answered = [s for s in scans if s.verdict != "authentic"]
    if not answered:
        tone, mark = ("bad", "✖") if seized else ("ok", "✔")
        return (
            f'<p class="summary {tone}" id="summary"><span aria-hidden="true">{mark}</span> '
            f"Every answer given for this code was authentic ({len(scans)} "
            f"scan{'s' if len(scans) != 1 else ''}).{seizure}</p>"
        )
    first = answered[0]
    reasons = stored_reasons(first.reasons)
    shown_reasons = reasons[1:] if first.verdict == "suspect" and len(reasons) > 1 else reasons
    return (
        f'<p class="summary bad" id="summary"><span aria-hidden="true">✖</span> '
        f"Answered {escape(first.verdict)} ({escape(', '.join(shown_reasons))}) to the scan of "
        f"{when(first.scanned_at)} in {escape(_place(first.lat, first.lon, first.country))}; "
        f"{len(answered)} of {len(scans)} answers were not authentic."
        f"{_last_legitimate(scans, first)}{seizure}</p>"
    )


def _last_legitimate(scans: list[Scan], before: Scan | None) -> str:
    """Where the code was last seen and answered authentic before ``before``."""
    if before is None:
        return ""
    earlier = scans[: scans.index(before)] if before in scans else scans
    last = next(
        (s for s in reversed(earlier) if s.verdict == "authentic" and s.lat is not None), None
    )
    if last is None:
        return ""
    return (
        f" Last seen legitimately in {escape(_place(last.lat, last.lon, last.country))} "
        f"on {when(last.scanned_at)}."
    )


def _findings(journey: Journey) -> str:
    numbers = {s.scan.scan_id: s.number for s in journey.stops}
    if not journey.findings:
        return '<p id="findings">No findings.</p>'
    items = "".join(
        f'<li class="finding sev-{escape(f.severity)}" data-reason="{escape(f.reason)}">'
        f"<strong>{escape(f.reason)}</strong> ({escape(f.severity)}"
        f"{', scan ' + str(numbers[f.scan_id]) if f.scan_id in numbers else ''}): "
        f"{escape(f.message)}</li>"
        for f in journey.findings
    )
    return f'<ul id="findings">{items}</ul>'


def _legs(journey: Journey) -> str:
    if not journey.legs:
        return ""
    rows = (
        Row(
            [
                f"{leg.start.number} → {leg.end.number}",
                escape(speed_words(leg)),
                escape(", ".join(leg.reasons) or "plausible"),
            ],
            'class="offending"' if leg.offending else "",
        )
        for leg in journey.legs
    )
    return card_table("legs", ("Leg", "Distance, time, speed", "Rule"), rows)


def journey_story(journey: Journey) -> str:
    """The map, its numbered explanations beside it, and the time line under it."""
    if not journey.stops:
        return '<p id="journey-none">No scan with a location.</p>'
    why: dict[str, list[str]] = {}
    for finding in journey.findings:
        why.setdefault(finding.scan_id, []).append(f"{finding.reason}: {finding.message}")
    for leg in path_legs(journey):
        if leg.offending:
            why.setdefault(leg.end.scan.scan_id, []).append(
                f"leg {leg.start.number} → {leg.end.number}: {speed_words(leg)}"
            )
    last_ok = journey.last_legitimate.scan_id if journey.last_legitimate else None
    items = []
    for stop in journey.stops:
        scan = stop.scan
        notes = why.get(scan.scan_id, [])
        if scan.scan_id == last_ok:
            notes = ["last seen legitimately", *notes]
        explained = "; ".join(notes) or "nothing found"
        items.append(
            f'<li value="{stop.number}" class="{"offending" if why.get(scan.scan_id) else "plain"}"'
            f' data-scan-id="{escape(scan.scan_id)}"><strong>{stop.number}</strong> · '
            f"{when(scan.effective_at)} · {escape(_place(scan.lat, scan.lon, scan.country))} · "
            f'{escape(scan.role)} · <span class="finding">{escape(explained)}</span></li>'
        )
    return (
        '<div class="story"><figure class="map">'
        + journey_svg(journey)
        + '</figure><ol id="journey-notes" class="journey-notes">'
        + "".join(items)
        + "</ol></div>"
        + timeline_svg(journey)
    )


def _history(page: CodePage) -> str:
    numbers = {s.scan.scan_id: s.number for s in page.journey.stops}
    rows = (
        Row(
            [
                str(numbers.get(s.scan_id, "")),
                when(s.scanned_at),
                escape(_place(s.lat, s.lon, s.country)),
                escape(s.role),
                escape(s.device_id or "—"),
                escape(s.verdict),
                escape(", ".join(stored_reasons(s.reasons))),
            ],
            f'data-scan-id="{escape(s.scan_id)}"',
        )
        for s in page.scans
    )
    columns = ("Map", "Scanned", "Where", "Who", "Device", "Verdict", "Reasons")
    return card_table("history", columns, rows)


def _inspections(page: CodePage) -> str:
    if not page.inspections:
        return '<p id="inspections">No inspection recorded.</p>'
    items = "".join(
        f'<li class="inspection outcome-{escape(i.outcome)}">{when(i.at)}: '
        f"<strong>{escape(i.outcome)}</strong>"
        f"{(' × ' + str(i.quantity)) if i.quantity else ''} in "
        f"{escape(_place(i.lat, i.lon, i.country))}"
        f"{(': ' + escape(i.notes)) if i.notes else ''}</li>"
        for i in page.inspections
    )
    return f'<ul id="inspections">{items}</ul>'


def _inspection_form(page: CodePage, csrf: str) -> str:
    if not page.scans:
        return ""
    latest = page.scans[-1].scan_id
    scans = "".join(
        f'<option value="{escape(s.scan_id)}"{" selected" if s.scan_id == latest else ""}>'
        f"{when(s.scanned_at)} · {escape(_place(s.lat, s.lon, s.country))} · "
        f"{escape(s.role)}</option>"
        for s in reversed(page.scans)
    )
    outcomes = "".join(
        f'<label class="choice"><input type="radio" name="outcome" value="{o}" required> '
        f"{o}</label>"
        for o in OUTCOMES
    )
    action = code_href(page.gtin, page.serial) + "/inspections"
    return (
        f'<form method="post" action="{action}" id="inspection-form" class="inspection">'
        f'{csrf_field(csrf)}<label>Scan <select name="scan_id">{scans}</select></label>'
        f"<fieldset><legend>Outcome</legend>{outcomes}</fieldset>"
        '<label>Units <input name="quantity" type="number" min="1" max="10000000"></label>'
        '<label>Notes <textarea name="notes" maxlength="4000" rows="3"></textarea></label>'
        '<button type="submit">Record outcome</button></form>'
    )


def _status_form(page: CodePage, csrf: str) -> str:
    """The brand's actions on its unit: lock, mark destroyed, or undo its latest change."""
    if page.record is None:
        return ""
    base = code_href(page.gtin, page.serial) + "/status"
    comment = (
        '<label>Comment <input name="comment" maxlength="500" '
        'placeholder="why, for the audit trail"></label>'
    )
    change = (
        f'<form method="post" action="{base}" id="status-form" class="status-actions">'
        f"{csrf_field(csrf)}{comment}"
        '<button type="submit" name="action" value="lock">Lock</button> '
        '<button type="submit" name="action" value="destroyed">Mark destroyed</button></form>'
        if page.record.status == "active"
        else ""
    )
    undo = (
        f'<form method="post" action="{base}/undo" id="undo-form">{csrf_field(csrf)}'
        '<button type="submit">Undo the latest change (unlock)</button></form>'
        if page.record.status != "active"
        else ""
    )
    return f"<h2>Status</h2><p>Now: <strong>{escape(page.record.status)}</strong></p>{change}{undo}"


def code_page_html(caller: Caller, csrf: str, page: CodePage, *, notice: str | None = None) -> str:
    staff = caller.role in (Role.OFFICER, Role.ADMIN)
    writer = caller.role in (Role.BRAND, Role.ADMIN)
    report = (
        f'<p><a id="report-link" href="{code_href(page.gtin, page.serial)}/report">'
        "Seizure report (print view)</a></p>"
        if staff
        else ""
    )
    alerts = "".join(
        f'<li><a href="/console/alerts/{a.id}">#{a.id} {escape(a.kind)}</a> ({escape(a.status)}, '
        f"{when(a.created_at)})</li>"
        for a in page.alerts
    )
    body = (
        (f'<p class="notice" id="notice" role="status">{escape(notice)}</p>' if notice else "")
        + f"<h1>Code {escape(page.gtin)} / {escape(page.serial)}</h1>"
        + _summary(page)
        + _facts(page)
        + "<h2>Findings</h2>"
        + _findings(page.journey)
        + "<h2>Journey</h2>"
        + '<p class="legend"><span class="key-ok">── plausible leg</span> '
        '<span class="key-bad">- - offending leg (red, dashed)</span> '
        '<span class="key-last">◯ last seen legitimately</span> · numbers as in the list</p>'
        + journey_story(page.journey)
        + _legs(page.journey)
        + "<h2>Scan history</h2>"
        + _history(page)
        + (f'<h2>Alerts</h2><ul id="code-alerts">{alerts}</ul>' if alerts else "")
        + "<h2>Inspections</h2>"
        + _inspections(page)
        + (_inspection_form(page, csrf) if staff else "")
        + (_status_form(page, csrf) if writer else "")
        + report
    )
    return layout(f"Code {page.gtin} / {page.serial}", body, caller=caller, csrf=csrf)


def report_html(caller: Caller, csrf: str, page: CodePage, *, contact: str) -> str:
    seized = [i for i in page.inspections if i.outcome == "seized"]
    rows = [
        Row(
            [
                when(i.at),
                escape(_place(i.lat, i.lon, i.country)),
                str(i.quantity or 1),
                escape(i.notes or ""),
            ]
        )
        for i in seized
    ]
    seizures = (
        card_table("seizures", ("Seized", "Where", "Units", "Notes"), rows)
        if seized
        else '<p id="seizures">No seizure recorded for this code.</p>'
    )
    body = (
        '<article class="report" id="report">'
        f"<h1>Seizure report: {escape(page.gtin)} / {escape(page.serial)}</h1>"
        f'<p class="print-hint">Print this page (Ctrl+P) for the file. '
        f'<a href="{code_href(page.gtin, page.serial)}">Back to the code</a></p>'
        f"{_summary(page)}{_facts(page)}"
        f"<h2>Right holder</h2><p>{escape(contact)}</p>"
        f"<h2>Seizures</h2>{seizures}<h2>Findings</h2>{_findings(page.journey)}"
        f"<h2>Journey</h2>"
        + journey_story(page.journey)
        + _legs(page.journey)
        + f"<h2>Scan history</h2>{_history(page)}"
        f'<p class="signature">Officer: {escape(caller.name or "")} · '
        "Signature: ____________________ · Date: ____________</p></article>"
    )
    return layout(f"Seizure report {page.gtin} / {page.serial}", body, caller=caller, csrf=csrf)
