"""Server-rendered HTML: the verdict page, the report receipt, the scanner, the error page.

Plain string templates with :func:`html.escape` on every value that came from outside
(code fields, brand names, contact data) and on every translation. The pages work with
JavaScript off; the scripts under /static only add geolocation, the camera and showing a
photo's result in place. Every page ends with what to do next and, when the brand has
published one, its contact.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from mobile_api.banners import BANNERS, REASONS, Banner, banner_of
from mobile_api.i18n import LANGUAGES, N_, Catalogue, catalogue
from verifier.product_images import PUBLIC_PREFIX as PRODUCT_IMAGE_PREFIX
from verifier.schemas import VerifyOut

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


NEXT = N_("What to do next")
# The query parameter of the language links that names the scan a page showed, so that the
# page in another language draws that scan's answer again instead of recording a new one.
SHOWN = "shown"


@dataclass(frozen=True)
class BrandContact:
    name: str
    email: str | None = None
    phone: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Page:
    """What every consumer page is drawn with: its language and its own address (path and
    query without ``lang`` and ``shown``), from which the language switcher links to the
    same page; ``shown`` is the scan whose answer the page shows, if any."""

    lang: str
    here: str
    shown: str | None = None

    @property
    def t(self) -> Catalogue:
        return catalogue(self.lang)

    def e(self, message: str, **values: str) -> str:
        """``message`` translated and HTML-escaped (placeholders filled in first)."""
        return escape(self.t(message, **values))

    def link(self, lang: str) -> str:
        shown = f"{SHOWN}={quote(self.shown, safe='')}&" if self.shown else ""
        return self.here + ("&" if "?" in self.here else "?") + shown + "lang=" + lang


def _icon(path: str) -> str:
    return (
        '<svg class="icon" viewBox="0 0 24 24" width="40" height="40" aria-hidden="true" '
        'focusable="false" fill="none" stroke="currentColor" stroke-width="2.2" '
        f'stroke-linecap="round" stroke-linejoin="round"><path d="{path}"/></svg>'
    )


def _switcher(page: Page) -> str:
    items = []
    for lang in LANGUAGES:
        other = catalogue(lang)
        current = ' aria-current="true"' if lang == page.lang else ""
        items.append(
            f'<li><a href="{escape(page.link(lang))}" lang="{lang}" hreflang="{lang}" '
            f'dir="{other.direction}"{current}>{escape(other.name)}</a></li>'
        )
    label = page.e(N_("Language"))
    return f'<nav class="languages" aria-label="{label}"><ul>{"".join(items)}</ul></nav>'


def _layout(page: Page, title: str, body: str, *, script: str | None = None) -> str:
    script_tag = f'<script src="/static/{script}" defer></script>' if script else ""
    t = page.t
    footer = page.e(N_("sealtrace product check. No tracking, no account."))
    return (
        "<!doctype html>\n"
        f'<html lang="{escape(page.lang)}" dir="{t.direction}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title>"
        '<link rel="stylesheet" href="/static/mobile.css">'
        f"{script_tag}</head><body><main>{body}</main>"
        f"<footer>{_switcher(page)}"
        f"<p>{footer}</p>"
        "</footer></body></html>\n"
    )


def verdict_block(page: Page, answer: VerifyOut, *, level: int = 1) -> str:
    """The coloured banner: icon, heading and the plain reasons, for one state."""
    banner = banner_of(answer)
    reasons = "".join(
        f"<p>{page.e(REASONS[r.code]) if r.code in REASONS else escape(r.message)}</p>"
        for r in answer.reasons
    )
    return (
        f'<section class="verdict verdict-{banner.state}" id="verdict" role="status" '
        f'data-verdict="{answer.verdict}" data-status="{escape(answer.status)}" '
        f'data-banner="{banner.state}"><div class="verdict-head">{_icon(banner.icon)}'
        f"<h{level}>{page.e(banner.heading)}</h{level}></div>{reasons}</section>"
    )


def facts_block(page: Page, answer: VerifyOut, *, level: int = 2) -> str:
    product = answer.product
    rows = [
        (N_("Brand"), product.brand or page.t(N_("unknown"))),
        (N_("GTIN"), product.gtin),
        (N_("Serial number"), product.serial),
        (N_("Lot"), product.lot or "–"),
        (N_("Expiry date"), page.t.date(product.expiry) if product.expiry else "–"),
    ]
    items = "".join(f"<dt>{page.e(key)}</dt><dd>{escape(value)}</dd>" for key, value in rows)
    heading = page.e(N_("Product"))
    return f'<section class="facts"><h{level}>{heading}</h{level}><dl>{items}</dl></section>'


def contact_block(page: Page, contact: BrandContact | None, *, level: int = 3) -> str:
    """The brand's published contact, or where to turn when it has none."""
    links = []
    if contact is not None and contact.email:
        links.append(f'<a href="mailto:{escape(quote(contact.email, safe="@.+-_"))}">'
                     f"{escape(contact.email)}</a>")  # fmt: skip
    if contact is not None and contact.phone:
        tel = "".join(c for c in contact.phone if c.isdigit() or c == "+")
        links.append(f'<a href="tel:{escape(tel)}" dir="ltr">{escape(contact.phone)}</a>')
    if contact is not None and contact.url and contact.url.startswith(("https://", "http://")):
        links.append(
            f'<a href="{escape(contact.url)}" rel="noopener" dir="ltr">{escape(contact.url)}</a>'
        )
    if contact is None or not links:
        text = N_("The brand has not published a contact. Ask a pharmacist or the seller.")
        return f'<p class="contact-none">{page.e(text)}</p>'
    items = "".join(f"<li>{link}</li>" for link in links)
    heading = page.e(N_("Contact %(brand)s"), brand=contact.name)
    return f'<div class="contact"><h{level}>{heading}</h{level}><ul>{items}</ul></div>'


def _another(page: Page) -> str:
    """The way on from any page: check another product."""
    href = escape(f"/scan?lang={page.lang}")
    text = page.e(N_("Check another product"))
    return f'<p class="another"><a href="{href}">{text}</a></p>'


def next_block(page: Page, banner: Banner, contact: BrandContact | None, extra: str = "") -> str:
    """What to do next: the banner's step, the brand's contact, then the way on."""
    return (
        f'<section class="next"><h2>{page.e(NEXT)}</h2>'
        f"<p>{page.e(banner.next_step)}</p>{contact_block(page, contact)}{extra}"
        f"{_another(page)}</section>"
    )


def _report_form(page: Page, answer: VerifyOut) -> str:
    e = page.e
    scan_id = escape(answer.scan_id or "")
    summary, where, what, privacy, send = (
        e(N_("Report a suspected fake")),
        e(N_("Where did you buy it? (shop, website; optional)")),
        e(N_("What looks wrong? (optional)")),
        e(N_("Do not enter your name or contact details: we do not need them.")),
        e(N_("Send report")),
    )
    return (
        f'<details class="report"{" open" if answer.verdict == "counterfeit" else ""}>'
        f"<summary>{summary}</summary>"
        '<form method="post" action="/report">'
        f'<input type="hidden" name="lang" value="{escape(page.lang)}">'
        f'<input type="hidden" name="scan_id" value="{scan_id}">'
        f'<input type="hidden" name="gtin" value="{escape(answer.product.gtin)}">'
        f'<input type="hidden" name="serial" value="{escape(answer.product.serial)}">'
        f'<label for="report-where">{where}</label>'
        '<input id="report-where" name="where" maxlength="200" autocomplete="off">'
        f'<label for="report-what">{what}</label>'
        '<textarea id="report-what" name="what" maxlength="1000" rows="3"></textarea>'
        f'<p class="note">{privacy}</p><button type="submit">{send}</button></form></details>'
    )


def _location_block(page: Page, scan_id: str | None) -> str:
    if scan_id is None:
        return ""
    e = page.e
    thanks, failed, share, note = (
        e(N_("Thank you: location added.")),
        e(N_("Location not shared.")),
        e(N_("Share my location to help detect fakes")),
        e(N_("Optional. Only an approximate area (about 10 km) is kept.")),
    )
    # Hidden until the script finds navigator.geolocation: no dead button without JS.
    return (
        f'<div class="location" id="location" data-scan-id="{escape(scan_id)}" '
        f'data-thanks="{thanks}" data-failed="{failed}" hidden>'
        f'<button type="button" id="share-location">{share}</button>'
        f'<p class="note">{note}</p><p id="location-status" role="status"></p></div>'
    )


def suspect_banner(page: Page) -> dict[str, str]:
    """The "Check advised" banner in the page's language, as plain text for page.js, which
    shows it when a shared location made the scan suspect (the page is not fetched again:
    that would record another scan)."""
    banner = BANNERS["suspect"]
    return {
        "state": banner.state,
        "heading": page.t(banner.heading),
        "reason": page.t(REASONS["CHECK_ADVISED"]),
        "next": page.t(banner.next_step),
        "icon": banner.icon,
    }


def _product_image(answer: VerifyOut, name: str | None) -> str:
    """The pack's picture, when its brand uploaded one (served here; the page's policy loads
    no image from elsewhere, so an external image URL is not shown)."""
    url = answer.product.image
    if not name or url is None or not url.startswith(PRODUCT_IMAGE_PREFIX):
        return ""
    return (
        f'<img class="product-image" id="product-image" src="{escape(url)}" '
        f'alt="{escape(name)}" width="240" loading="lazy">'
    )


def verdict_page(page: Page, answer: VerifyOut, contact: BrandContact | None) -> str:
    """The whole page a consumer sees after scanning a label."""
    name = answer.product.label()
    body = (
        verdict_block(page, answer)
        + (f'<p class="product" id="product-name">{escape(name)}</p>' if name else "")
        + _product_image(answer, name)
        + facts_block(page, answer)
        + next_block(
            page,
            banner_of(answer),
            contact,
            _location_block(page, answer.scan_id) + _report_form(page, answer),
        )
    )
    return _layout(page, page.t(N_("Product check")), body, script="page.js")


def _message(page: Page, state: str, icon: str, title: str, text: str) -> str:
    return (
        f'<section class="verdict verdict-{state}" id="verdict" role="status" '
        f'data-banner="{state}"><div class="verdict-head">{_icon(icon)}'
        f"<h1>{page.e(title)}</h1></div><p>{text}</p></section>"
    )


def error_page(page: Page, contact: BrandContact | None = None) -> str:
    """A link that is no product code: say so, and how to go on; with the brand's contact
    when the link's GTIN is one of a brand's (the caller knows that, not this page)."""
    title = NOT_A_PRODUCT_CODE
    text = page.e(N_("The link is incomplete or damaged. Scan the code on the pack again."))
    step = page.e(N_("If it still fails, ask a pharmacist or the seller."))
    brand = contact_block(page, contact) if contact is not None else ""
    body = _message(page, "unverifiable", BANNERS["unverifiable"].icon, title, text) + (
        f'<section class="next"><h2>{page.e(NEXT)}</h2><p>{step}</p>{brand}'
        f"{_another(page)}</section>"
    )
    return _layout(page, page.t(title), body)


def report_sent_page(page: Page, contact: BrandContact | None) -> str:
    """The receipt of a report: what happens now, what to keep, whom to ask for an answer."""
    title = N_("Report sent")
    if contact is not None:
        text = page.e(N_("Thank you. Your report was sent to %(brand)s."), brand=contact.name)
    else:
        text = page.e(N_("Thank you. Your report was sent to the brand."))
    steps = "".join(
        f"<li>{page.e(step)}</li>"
        for step in (
            N_("Keep the product, its packaging and the receipt: you may be asked for them."),
            N_("Do not use the product until you know that it is genuine."),
            N_("If you have taken it and feel unwell, call a doctor or a pharmacist."),
            N_("Your report is anonymous, so nobody can reply to it. For an answer, contact "
               "the brand yourself."),
        )
    )  # fmt: skip
    body = _message(page, "sent", BANNERS["authentic"].icon, title, text) + (
        f'<section class="next"><h2>{page.e(NEXT)}</h2><ul>{steps}</ul>'
        f"{contact_block(page, contact)}{_another(page)}</section>"
    )
    return _layout(page, page.t(title), body)


def scan_result(page: Page, answer: VerifyOut, contact: BrandContact | None) -> str:
    """A photo's or the camera's result: the same banner, facts and next steps as a label's
    page, one heading level down under the scanner's own title."""
    return (
        verdict_block(page, answer, level=2)
        + facts_block(page, answer, level=3)
        + next_block(page, banner_of(answer), contact)
    )


def scanner_page(page: Page, result: str = "", error: str | None = None) -> str:
    """The scanner: a photo upload that always works, and the camera where the browser has
    BarcodeDetector (scan.js reveals it). Two sections with their own headings, so the page
    reads whole with the camera and without it.

    The form posts to /scan itself, so it works with JavaScript off; with JavaScript the
    same answer is fetched and its result shown in place.
    """
    e = page.e
    if error is not None:
        result = f'<p class="error" role="alert">{e(error)}</p>'
    action = escape(f"/scan?lang={page.lang}")
    title, failed, camera, aim, start, photo, working, label, send = (
        e(SCAN_TITLE),
        e(N_("The camera could not be started. Use a photo instead.")),
        e(N_("Use the camera")),
        e(N_("Point your camera at the QR code or DataMatrix on the pack.")),
        e(N_("Start camera")),
        e(N_("Check a photo of the code")),
        e(N_("Checking…")),
        e(N_("Photo of the code")),
        e(N_("Check photo")),
    )
    body = (
        f'<h1 class="title">{title}</h1>'
        '<section id="camera" class="camera" aria-labelledby="camera-title" '
        f'data-failed="{failed}" hidden><h2 id="camera-title">{camera}</h2><p>{aim}</p>'
        f'<button type="button" id="start-camera">{start}</button>'
        '<video id="preview" playsinline muted hidden></video>'
        '<p id="camera-status" role="status"></p></section>'
        '<section class="photo" aria-labelledby="photo-title">'
        f'<h2 id="photo-title">{photo}</h2><p class="note">{e(SCAN_PHOTO_HINT)}</p>'
        f'<form id="photo-form" method="post" action="{action}" enctype="multipart/form-data" '
        f'data-working="{working}" data-none="{e(NO_CODE)}">'
        f'<label for="photo">{label}</label>'
        '<input id="photo" name="photo" type="file" accept="image/*" capture="environment">'
        f'<button type="submit">{send}</button></form></section>'
        f'<div id="result" aria-live="polite">{result}</div>'
    )
    return _layout(page, page.t(SCAN_TITLE), body, script="scan.js")


SCAN_TITLE = N_("Scan a product code")
SCAN_PHOTO_HINT = N_(
    "Take a photo of the QR code or DataMatrix on the pack, close up and in good light, or "
    "choose one you have already taken."
)
NO_CODE = N_("No code was found in the photo. Try again closer, with more light.")
NOT_A_PRODUCT_CODE = N_("This is not a code we can check")
