"""Server-rendered HTML: the verdict page, the report receipt, the scanner page.

Plain string templates with :func:`html.escape` on every value that came from
outside (code fields, brand names, contact data). The pages work with
JavaScript off; the scripts under /static only add geolocation and the camera.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Literal
from urllib.parse import quote

from mobile_api.i18n import translate
from verifier.api.schemas import VerifyOut

Verdict = Literal["authentic", "suspect", "counterfeit", "unverifiable"]

# Icon and words carry the verdict as well as the colour (WCAG 1.4.1).
ICONS: dict[str, str] = {
    "authentic": "✔",
    "suspect": "!",
    "counterfeit": "✖",
    "unverifiable": "?",
    "recalled": "!",
    "expired": "!",
}
# A genuine unit that must not be used: the verdict says genuine, the status says
# why not to use it, and the banner leads with the status so nobody sees green.
SAFETY_STATUSES = frozenset({"recalled", "expired"})


def banner_of(answer: VerifyOut) -> str:
    """What the page's banner shows: the verdict, or a safety status of a genuine unit."""
    if answer.verdict == "authentic" and answer.status in SAFETY_STATUSES:
        return answer.status
    return answer.verdict


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


@dataclass(frozen=True)
class BrandContact:
    name: str
    email: str | None = None
    phone: str | None = None
    url: str | None = None


def _escaped(lang: str) -> Callable[[str], str]:
    """The catalogue of ``lang``, HTML-escaped."""

    def t(key: str) -> str:
        return escape(translate(lang, key))

    return t


def _layout(lang: str, title: str, body: str, *, script: str | None = None) -> str:
    script_tag = f'<script src="/static/{script}" defer></script>' if script else ""
    return (
        "<!doctype html>\n"
        f'<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/static/mobile.css">'
        f"{script_tag}</head><body><main>{body}</main>"
        f"<footer><p>{escape(translate(lang, 'footer'))}</p></footer></body></html>\n"
    )


def verdict_block(lang: str, answer: VerifyOut) -> str:
    """The coloured verdict banner with icon, headline and the plain reasons."""
    verdict = answer.verdict
    banner = banner_of(answer)
    reasons = "".join(
        f"<p>{escape(translate(lang, 'reason.' + r.code) if r.code else r.message)}</p>"
        for r in answer.reasons
    )
    return (
        f'<section class="verdict verdict-{banner}" id="verdict" role="status" '
        f'data-verdict="{verdict}" data-status="{escape(answer.status)}">'
        f'<span class="icon" aria-hidden="true">{ICONS[banner]}</span>'
        f"<h1>{escape(translate(lang, 'verdict.' + banner))}</h1>{reasons}</section>"
    )


def facts_block(lang: str, answer: VerifyOut) -> str:
    product = answer.product
    unknown = translate(lang, "fact.unknown")
    rows = [
        ("fact.brand", product.brand or unknown),
        ("fact.gtin", product.gtin),
        ("fact.serial", product.serial),
        ("fact.lot", product.lot or "–"),
        ("fact.expiry", product.expiry.isoformat() if product.expiry else "–"),
    ]
    items = "".join(
        f"<dt>{escape(translate(lang, key))}</dt><dd>{escape(value)}</dd>" for key, value in rows
    )
    heading = escape(translate(lang, "facts"))
    return f'<section class="facts"><h2>{heading}</h2><dl>{items}</dl></section>'


def _contact_block(lang: str, contact: BrandContact | None) -> str:
    if contact is None:
        return ""
    links = []
    if contact.email:
        links.append(f'<a href="mailto:{escape(quote(contact.email, safe="@.+-_"))}">'
                     f"{escape(contact.email)}</a>")  # fmt: skip
    if contact.phone:
        tel = "".join(c for c in contact.phone if c.isdigit() or c == "+")
        links.append(f'<a href="tel:{escape(tel)}">{escape(contact.phone)}</a>')
    if contact.url and contact.url.startswith(("https://", "http://")):
        links.append(f'<a href="{escape(contact.url)}" rel="noopener">{escape(contact.url)}</a>')
    if not links:
        return ""
    items = "".join(f"<li>{link}</li>" for link in links)
    return (
        f"<h3>{escape(translate(lang, 'contact'))}: {escape(contact.name)}</h3>"
        f'<ul class="contact">{items}</ul>'
    )


def _report_form(lang: str, answer: VerifyOut) -> str:
    t = _escaped(lang)
    scan_id = escape(answer.scan_id or "")
    return (
        f'<details class="report"{" open" if answer.verdict == "counterfeit" else ""}>'
        f"<summary>{t('report')}</summary>"
        '<form method="post" action="/report">'
        f'<input type="hidden" name="lang" value="{escape(lang)}">'
        f'<input type="hidden" name="scan_id" value="{scan_id}">'
        f'<input type="hidden" name="gtin" value="{escape(answer.product.gtin)}">'
        f'<input type="hidden" name="serial" value="{escape(answer.product.serial)}">'
        f'<label for="report-where">{t("report.where")}</label>'
        '<input id="report-where" name="where" maxlength="200" autocomplete="off">'
        f'<label for="report-what">{t("report.what")}</label>'
        '<textarea id="report-what" name="what" maxlength="1000" rows="3"></textarea>'
        f'<p class="note">{t("report.privacy")}</p>'
        f'<button type="submit">{t("report.send")}</button></form></details>'
    )


def _location_block(lang: str, scan_id: str | None) -> str:
    if scan_id is None:
        return ""
    t = _escaped(lang)
    # Hidden until the script finds navigator.geolocation: no dead button without JS.
    return (
        f'<div class="location" id="location" data-scan-id="{escape(scan_id)}" '
        f'data-thanks="{t("location.thanks")}" data-failed="{t("location.failed")}" hidden>'
        f'<button type="button" id="share-location">{t("location.share")}</button>'
        f'<p class="note">{t("location.note")}</p><p id="location-status" role="status"></p>'
        "</div>"
    )


def verdict_page(lang: str, answer: VerifyOut, contact: BrandContact | None) -> str:
    """The whole page a consumer sees after scanning a label."""
    t = _escaped(lang)
    name = answer.product.label()
    body = (
        verdict_block(lang, answer)
        + (f'<p class="product" id="product-name">{escape(name)}</p>' if name else "")
        + facts_block(lang, answer)
        + f'<section class="next"><h2>{t("next")}</h2><p>{t("next." + banner_of(answer))}</p>'
        + _location_block(lang, answer.scan_id)
        + _contact_block(lang, contact)
        + _report_form(lang, answer)
        + "</section>"
    )
    return _layout(lang, translate(lang, "page_title"), body, script="page.js")


def message_page(lang: str, title_key: str, text_key: str, *, back: str | None = None) -> str:
    back_link = (
        f'<p><a href="{escape(back)}">{escape(translate(lang, "back"))}</a></p>' if back else ""
    )
    body = (
        f'<section class="verdict verdict-unverifiable" role="status">'
        '<span class="icon" aria-hidden="true">i</span>'
        f"<h1>{escape(translate(lang, title_key))}</h1>"
        f"<p>{escape(translate(lang, text_key))}</p></section>{back_link}"
    )
    return _layout(lang, translate(lang, title_key), body)


def scanner_page(lang: str, answer: VerifyOut | None = None, error_key: str | None = None) -> str:
    """The scanner: camera with BarcodeDetector when present, else a photo upload form.

    The form posts to /scan itself, so it also works with JavaScript off; with
    JavaScript it uploads to /v1/decode and shows the verdict in place.
    """
    t = _escaped(lang)
    result = ""
    if answer is not None:
        result = verdict_block(lang, answer) + facts_block(lang, answer)
    elif error_key is not None:
        result = f'<p class="error" role="alert">{t(error_key)}</p>'
    body = (
        f'<h1 class="title">{t("scan.title")}</h1>'
        f'<div id="camera" hidden><p>{t("scan.intro")}</p>'
        f'<button type="button" id="start-camera">{t("scan.start")}</button>'
        '<video id="preview" playsinline muted hidden></video></div>'
        f'<form id="photo-form" method="post" action="/scan" enctype="multipart/form-data" '
        f'data-lang="{escape(lang)}" data-working="{t("scan.working")}" '
        f'data-none="{t("scan.none")}">'
        f'<label for="photo">{t("scan.photo")}</label>'
        '<input id="photo" name="photo" type="file" accept="image/*" capture="environment">'
        f'<input type="hidden" name="lang" value="{escape(lang)}">'
        f'<button type="submit">{t("scan.send")}</button></form>'
        f'<div id="result" aria-live="polite">{result}</div>'
        f'<script type="application/json" id="messages">{_messages_json(lang)}</script>'
    )
    return _layout(lang, translate(lang, "scan.title"), body, script="scan.js")


def _messages_json(lang: str) -> str:
    """The words scan.js needs to show a verdict, as inert JSON (not executed, CSP-safe)."""
    keys = ("authentic", "suspect", "counterfeit", "unverifiable")
    messages = {f"verdict.{k}": translate(lang, f"verdict.{k}") for k in keys}
    for code in (
        "GENUINE",
        "CHECK_ADVISED",
        "NOT_GENUINE",
        "CANNOT_CONFIRM",
        "LOT_RECALLED",
        "CODE_EXPIRED",
    ):
        messages[f"reason.{code}"] = translate(lang, f"reason.{code}")
    for key in ("fact.brand", "fact.gtin", "fact.serial", "fact.lot", "fact.expiry", "scan.none"):
        messages[key] = translate(lang, key)
    # "<" escaped so that no value can close the script element.
    return json.dumps(messages, ensure_ascii=False).replace("<", "\\u003c")
