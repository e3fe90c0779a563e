"""HTML of the sign-in page, the alert list and detail, and the brand overview."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote, urlencode

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

from console.layout import csrf_field, layout
from console.overview import KeyEvent, Overview
from console.svg import bar_chart, places_svg
from console.tables import Row, card_table
from detection.reasons import ALL_REASONS
from keys.trust import TrustList
from verifier.accounts import Caller, Role
from verifier.alerts import AlertView
from verifier.db.models import AuditEvent

# The reader's locale for dates, set per console request from Accept-Language (web._run);
# None keeps the ISO form. Times stay in UTC, said as such: scans come from every zone.
READER_LOCALE: ContextVar[Locale | None] = ContextVar("console_reader_locale", default=None)


def reader_locale(accept_language: str | None) -> Locale | None:
    """The first language of an Accept-Language header that Babel knows, or None."""
    for part in (accept_language or "")[:256].split(","):
        tag = part.split(";", 1)[0].strip().replace("-", "_")
        if not tag or tag == "*":
            continue
        try:
            return Locale.parse(tag)
        except (ValueError, UnknownLocaleError):
            continue
    return None


def when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    locale = READER_LOCALE.get()
    if locale is None:
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    at = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return f"{format_datetime(at, format='medium', tzinfo=UTC, locale=locale)} UTC"


def code_href(gtin: str, serial: str) -> str:
    return f"/console/codes/{quote(gtin, safe='')}/{quote(serial, safe='')}"


def login_page(*, token: str, next_path: str, error: str | None = None) -> str:
    message = f'<p class="error" id="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        "<h1>Sign in</h1>"
        "<p>For customs officers, brand owners and registry admins.</p>"
        f'{message}<form method="post" action="/console/login" class="login" id="login">'
        f'<input type="hidden" name="csrf" value="{escape(token)}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label>Account name <input name="username" autocomplete="username" required '
        'maxlength="100"></label>'
        '<label>Password <input name="password" type="password" autocomplete="current-password" '
        'required maxlength="1024"></label><button type="submit">Sign in</button></form>'
    )
    return layout("Sign in", body)


def _options(values: Sequence[str], chosen: str | None, *, blank: str) -> str:
    parts = [f'<option value="">{escape(blank)}</option>']
    for value in values:
        selected = " selected" if value == chosen else ""
        parts.append(f'<option value="{escape(value)}"{selected}>{escape(value)}</option>')
    return "".join(parts)


def alerts_page(
    caller: Caller,
    csrf: str,
    alerts: Sequence[AlertView],
    filters: dict[str, str],
    *,
    next_before_id: int | None,
) -> str:
    brand_filter = ""
    if caller.role is not Role.BRAND:
        brand_filter = (
            f'<label>Brand <input name="brand" value="{escape(filters.get("brand", ""))}" '
            'maxlength="64"></label>'
        )
    form = (
        '<form method="get" action="/console/alerts" class="filters" id="filters">'
        f"{brand_filter}"
        f'<label>Reason <select name="reason">'
        f"{_options(sorted(ALL_REASONS | {'CONSUMER_REPORT'}), filters.get('reason'), blank='any')}"
        "</select></label>"
        f'<label>Country <input name="country" value="{escape(filters.get("country", ""))}" '
        'maxlength="2" size="3" pattern="[A-Za-z]{2}"></label>'
        f'<label>Status <select name="status">'
        f"{_options(['open', 'acknowledged', 'closed'], filters.get('status'), blank='any')}"
        '</select></label><button type="submit">Filter</button></form>'
    )
    columns = (
        "Alert", "Raised", "Reason", "Severity", "Status", "Brand", "Code", "Country", "Seen",
    )  # fmt: skip
    rows = (
        Row(
            [
                f'<a href="/console/alerts/{a.id}">#{a.id}</a>',
                when(a.created_at),
                escape(a.reason),
                _severity(a.severity),
                escape(a.status),
                escape(a.brand_id or ""),
                f'<a href="{code_href(a.gtin, a.serial)}">'
                f"{escape(a.gtin)} / {escape(a.serial)}</a>",
                escape(a.country or ""),
                str(a.count),
            ],
            f'class="alert severity-{escape(a.severity)}" data-alert-id="{a.id}"',
        )
        for a in alerts
    )
    table = (
        card_table("alerts", columns, rows) if alerts else '<p id="no-alerts">No alerts match.</p>'
    )
    more = ""
    if next_before_id is not None:
        query = urlencode({**filters, "before": str(next_before_id)})
        more = f'<p><a href="/console/alerts?{escape(query)}">Older alerts</a></p>'
    return layout("Alerts", f"<h1>Alerts</h1>{form}{table}{more}", caller=caller, csrf=csrf)


def _severity(severity: str) -> str:
    icon = {"critical": "✖", "warning": "!"}.get(severity, "i")
    return (
        f'<span class="sev sev-{escape(severity)}"><span aria-hidden="true">{icon}</span> '
        f"{escape(severity)}</span>"
    )


def alert_page(caller: Caller, csrf: str, alert: AlertView) -> str:
    message = str(alert.detail.get("message") or "")
    events = "".join(
        f"<li>{when(e.at)}: {escape(e.account or 'someone')} {escape(e.before)} → "
        f"{escape(e.after)}{(': ' + escape(e.comment)) if e.comment else ''}</li>"
        for e in alert.events or []
    )
    actions = ""
    if alert.status == "open":
        actions += (
            f'<form method="post" action="/console/alerts/{alert.id}/acknowledge" id="acknowledge">'
            f'{csrf_field(csrf)}<button type="submit">Acknowledge</button></form>'
        )
    if alert.status != "closed":
        actions += (
            f'<form method="post" action="/console/alerts/{alert.id}/close" id="close">'
            f'{csrf_field(csrf)}<label>What was done <textarea name="comment" required '
            'maxlength="1000" rows="3"></textarea></label>'
            '<button type="submit">Close</button></form>'
        )
    body = (
        f"<h1>Alert #{alert.id}: {escape(alert.reason)}</h1>"
        f'<p class="lead">{_severity(alert.severity)} · '
        f'<span id="alert-status">{escape(alert.status)}</span> · raised {when(alert.created_at)}'
        f" · seen {alert.count}× (last {when(alert.last_seen_at)})</p>"
        f'<p class="finding-message">{escape(message)}</p>'
        f'<p><a id="code-link" class="button" href="{code_href(alert.gtin, alert.serial)}">'
        f"Open the code {escape(alert.gtin)} / {escape(alert.serial)}</a></p>"
        f"<dl><dt>Brand</dt><dd>{escape(alert.brand_id or '—')}</dd><dt>Country</dt>"
        f"<dd>{escape(alert.country or '—')}</dd><dt>Key</dt>"
        f"<dd>{escape(alert.key_id or '—')}</dd>{_aggregate(alert)}</dl>"
        f"{actions}"
        + (f'<h2>History</h2><ul id="alert-events">{events}</ul>' if events else "")
        + (f"<p>Closed: {escape(alert.close_comment)}</p>" if alert.close_comment else "")
    )
    return layout(f"Alert #{alert.id}", body, caller=caller, csrf=csrf)


def _aggregate(alert: AlertView) -> str:
    """An aggregated alert's lot, units and places (docs/api.md, "Alerts")."""
    parts = f"<dt>Lot</dt><dd>{escape(alert.lot)}</dd>" if alert.lot else ""
    if alert.units is not None:
        parts += f'<dt>Units</dt><dd id="alert-units">{alert.units}</dd>'
    if alert.places:
        places = ", ".join(f"{escape(p.country)} ({p.count})" for p in alert.places)
        parts += f'<dt>Places</dt><dd id="alert-places">{places}</dd>'
    return parts


def brand_picker(caller: Caller, csrf: str, trust: TrustList | None) -> str:
    brands = trust.brands if trust is not None else ()
    items = "".join(
        f'<li><a href="/console/brand?brand={quote(b.id, safe="")}">{escape(b.name)}</a> '
        f"({escape(b.id)})</li>"
        for b in brands
    )
    body = f'<h1>Brand overview</h1><p>Choose a brand.</p><ul id="brands">{items}</ul>'
    return layout("Brand overview", body, caller=caller, csrf=csrf)


def _charts(figures: Overview) -> str:
    charts = (
        ("Scans by country", figures.scans_by_country, "scans-country"),
        ("Alerts by country", figures.alerts_by_country, "alerts-country"),
        ("Scans by week", figures.scans_by_week, "scans-week"),
        ("Alerts by week", figures.alerts_by_week, "alerts-week"),
    )
    cells = "".join(
        f"<div><h2>{escape(title)}</h2>{bar_chart(title, items, ident=ident)}</div>"
        for title, items, ident in charts
    )
    return f'<section class="charts">{cells}</section>'


def brand_page(
    caller: Caller,
    csrf: str,
    *,
    brand_id: str,
    brand_name: str,
    figures: Overview,
    key_events: Sequence[KeyEvent],
    audit: Sequence[AuditEvent],
) -> str:
    def table(ident: str, columns: Sequence[str], rows: list[Row]) -> str:
        if not rows:
            return f'<p id="{ident}">None in this period.</p>'
        return card_table(ident, columns, rows)

    codes = [
        Row([f'<a href="{code_href(g, s)}">{escape(g)} / {escape(s)}</a>', str(n)])
        for g, s, n in figures.top_codes
    ]
    lots = [Row([escape(g), escape(lot), str(n)]) for g, lot, n in figures.top_lots]
    keys = "".join(f"<li>{when(e.at)}: {escape(e.what)}</li>" for e in key_events)
    changes = "".join(
        f"<li>{when(e.at)}: {escape(e.action)} {escape(e.gtin or '')} "
        f"{escape(e.serial or e.lot or '')}"
        f"{(' → ' + escape(e.after)) if e.after else ''}</li>"
        for e in audit
    )
    places = (
        places_svg(figures.places, title="Where the brand's codes were scanned")
        if figures.places
        else "<p>No scan with a location in this period.</p>"
    )
    body = (
        f"<h1>{escape(brand_name)} <small>({escape(brand_id)})</small></h1>"
        "<p>The last 12 weeks.</p>"
        + _charts(figures)
        + "<h2>Most suspicious codes</h2>"
        + table("top-codes", ("Code", "Alerts"), codes)
        + "<h2>Most suspicious lots</h2>"
        + table("top-lots", ("GTIN", "Lot", "Alerts"), lots)
        + f"<h2>Where its codes are scanned</h2>{places}"
        + f'<h2>Key events</h2><ul id="key-events">{keys or "<li>None.</li>"}</ul>'
        + f'<h2>Recent changes</h2><ul id="audit">{changes or "<li>None.</li>"}</ul>'
    )
    return layout("Brand overview", body, caller=caller, csrf=csrf)
