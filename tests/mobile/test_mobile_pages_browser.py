"""Every consumer page and every banner state in real Chromium, at phone and desktop width:
no horizontal overflow, no serious or critical axe-core violation, distinct states, each
language in its own words. Screenshots go to test-artifacts/screenshots/ for a reviewer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import select

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from keys.sample import gtin_with_prefix
from mobile_api.banners import BANNERS
from mobile_api.i18n import LANGUAGES, catalogue
from tests.mobile.conftest import ACME_GTIN, LiveServer, label_png, photograph
from tests.mobile.test_mobile_browser import label_url
from verifier.db.models import Scan

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

WIDTHS = {"phone": (390, 844), "desktop": (1280, 800)}
UNENROLLED_GTIN = "0" + gtin_with_prefix("4000001", "7")
# Stands in for a camera with BarcodeDetector: the "camera" reads ``window.__code``.
FAKE_CAMERA = """
window.BarcodeDetector = class {
  detect() { return Promise.resolve([{ rawValue: window.__code }]); }
};
navigator.mediaDevices.getUserMedia = () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  canvas.getContext("2d").fillRect(0, 0, 64, 48);
  return Promise.resolve(canvas.captureStream());
};
"""
AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map(v => ({ id: v.id, impact: v.impact,
    nodes: v.nodes.map(n => n.target.join(" ")) }));
}"""


@pytest.fixture
def shots(artifacts_dir: Path) -> Path:
    path = artifacts_dir / "screenshots"
    path.mkdir(exist_ok=True)
    return path


def new_page(browser: Any, **context: Any) -> Any:
    # CSP bypassed only so that axe-core can be injected as an inline script.
    return browser.new_context(bypass_csp=True, **context).new_page()


def check_layout(page: Any, axe_script: str, shots: Path, name: str) -> None:
    """At each width: nothing wider than the viewport, axe clean, a full-page screenshot."""
    for width_name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} at {width}px overflows by {overflow}px"
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.add_script_tag(content=axe_script)
        bad = [v for v in page.evaluate(AXE_RUN) if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{name} at {width}px: {bad}"
        page.screenshot(path=str(shots / f"{name}-{width_name}.png"), full_page=True)


def banner(page: Any) -> dict[str, str]:
    box = page.locator("#verdict")
    return {
        "state": box.get_attribute("data-banner"),
        "heading": box.locator("h1, h2").first.inner_text(),
        "colour": box.evaluate("element => getComputedStyle(element).backgroundColor"),
        "icon": box.locator("svg path").get_attribute("d"),
    }


def unsigned_url(server: LiveServer, serial: str) -> str:
    code = ProductCode(gtin=UNENROLLED_GTIN, serial=serial)
    return format_digital_link(code.ais(), server.base_url)


def test_every_state_has_its_own_colour_icon_and_heading(
    browser: Any, live_server: LiveServer, axe_script: str, shots: Path
) -> None:
    env = live_server.env
    env.register(["P-auth", "P-sample", "P-held"])
    env.register(["P-recall"], lot="LR1")
    env.register(["P-old"], lot="LX1")
    env.set_status("P-sample", "sample")
    env.set_status("P-held", "destroyed")
    env.recall_lot("LR1")
    urls = {
        "authentic": label_url(live_server, "P-auth"),
        "sample": label_url(live_server, "P-sample"),
        "suspect": label_url(live_server, "P-never"),  # genuine, never registered
        "withheld": label_url(live_server, "P-held"),
        "counterfeit": label_url(live_server, "P-fake", Ed25519PrivateKey.generate()),
        "recalled": env.sign("P-recall", lot="LR1", base=live_server.base_url),
        "expired": env.sign("P-old", lot="LX1", expiry="250131", base=live_server.base_url),
    }
    seen: dict[str, dict[str, str]] = {}
    for state, url in urls.items():
        page = new_page(browser)
        page.goto(url)
        seen[state] = banner(page)
        assert seen[state]["state"] == state
        assert seen[state]["heading"] == BANNERS[state].heading
        # Every page ends with the next step, the brand's contact and the way on.
        next_steps = page.locator("section.next")
        assert BANNERS[state].next_step in next_steps.inner_text()
        assert next_steps.locator('a[href="mailto:security@acme.example"]').count() == 1
        assert next_steps.locator('a[href^="/scan"]').count() == 1
        check_layout(page, axe_script, shots, f"page-{state}")
        page.context.close()
    # The camera reads an unsigned code of a GTIN no brand enrolled: "cannot confirm".
    page = new_page(browser)
    page.add_init_script(FAKE_CAMERA)
    page.goto(live_server.base_url + "/scan")
    page.evaluate("code => { window.__code = code; }", unsigned_url(live_server, "P-unk"))
    page.click("#start-camera")
    page.wait_for_selector("#result #verdict")
    seen["unverifiable"] = banner(page)
    assert seen["unverifiable"]["state"] == "unverifiable"
    assert "Ask a pharmacist or the seller" in page.locator("#result").inner_text()  # no brand
    check_layout(page, axe_script, shots, "scan-camera-unverifiable")
    page.context.close()
    # A label's page when the trust list has gone stale: "cannot confirm" there too.
    env.clock.advance(days=95)
    page = new_page(browser)
    page.goto(label_url(live_server, "P-auth"))
    assert banner(page) == seen["unverifiable"]
    assert BANNERS["unverifiable"].next_step in page.locator("section.next").inner_text()
    check_layout(page, axe_script, shots, "page-unverifiable")
    for key in ("heading", "colour", "icon"):
        values = [s[key] for s in seen.values()]
        assert len(set(values)) == len(values), f"two states share a {key}: {seen}"
    assert seen["recalled"]["heading"] != seen["suspect"]["heading"]


def test_scan_page_without_a_camera_offers_a_clear_photo_upload(
    browser: Any, live_server: LiveServer, axe_script: str, shots: Path
) -> None:
    live_server.env.register(["P-photo"])
    page = new_page(browser)
    page.goto(live_server.base_url + "/scan")
    # Headless Chromium on Linux has no BarcodeDetector: the camera section stays hidden,
    # and what is shown reads whole (no "Or ..." with nothing before it).
    assert page.evaluate("() => 'BarcodeDetector' in window") is False
    assert not page.is_visible("#camera")
    assert page.locator("h2:visible").all_inner_texts() == ["Check a photo of the code"]
    assert not page.locator("main").inner_text().lstrip().startswith("Or")
    assert page.is_visible("label[for=photo]")
    check_layout(page, axe_script, shots, "scan-no-camera")
    photo = photograph(label_png(label_url(live_server, "P-photo")), quality=40)
    page.set_input_files(
        "#photo", files=[{"name": "label.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.click("#photo-form button[type=submit]")
    page.wait_for_selector("#result #verdict")
    result = page.locator("#result")
    assert banner(page)["state"] == "authentic"
    assert "What to do next" in result.inner_text()
    assert result.locator('a[href="mailto:security@acme.example"]').count() == 1
    assert page.url == live_server.base_url + "/scan"
    check_layout(page, axe_script, shots, "scan-photo-result")


def test_scan_page_with_a_camera(
    browser: Any, live_server: LiveServer, axe_script: str, shots: Path
) -> None:
    live_server.env.register(["P-cam"])
    page = new_page(browser)
    page.add_init_script(FAKE_CAMERA)
    page.goto(live_server.base_url + "/scan?lang=de")
    assert page.is_visible("#camera")
    headings = page.locator("h2:visible").all_inner_texts()
    assert headings == ["Kamera verwenden", "Foto des Codes prüfen"]
    check_layout(page, axe_script, shots, "scan-camera")
    page.evaluate("code => { window.__code = code; }", label_url(live_server, "P-cam"))
    page.click("#start-camera")
    page.wait_for_selector("#result #verdict")
    assert banner(page)["heading"] == "Echtes Produkt"
    assert "Kontakt: Acme Pharma" in page.locator("#result").inner_text()


def test_report_receipt_and_error_page_lead_somewhere(
    browser: Any, live_server: LiveServer, axe_script: str, shots: Path
) -> None:
    page = new_page(browser)
    page.goto(label_url(live_server, "P-rep", Ed25519PrivateKey.generate()))
    page.fill("#report-where", "a market stall")
    page.click("details.report button[type=submit]")
    page.wait_for_url("**/report?*")
    assert page.locator("h1").inner_text() == "Report sent"
    next_steps = page.locator("section.next")
    assert "Keep the product" in next_steps.inner_text()
    assert next_steps.locator('a[href="mailto:security@acme.example"]').count() == 1
    assert next_steps.locator('a[href^="/scan"]').count() == 1
    check_layout(page, axe_script, shots, "report-sent")
    page.goto(live_server.base_url + "/01/not-a-gtin/21/X")
    assert page.locator("h1").inner_text() == "This is not a code we can check"
    assert page.locator('section.next a[href^="/scan"]').count() == 1
    # No brand to name: the generic next step, and no contact of anyone.
    assert "ask a pharmacist or the seller" in page.locator("section.next").inner_text()
    assert page.locator('section.next a[href^="mailto:"]').count() == 0
    check_layout(page, axe_script, shots, "error")
    # A damaged label whose GTIN is still readable and a brand's: that brand's contact.
    response = page.goto(live_server.base_url + f"/01/{ACME_GTIN}/21/X?17=991399")
    assert response is not None
    assert response.status == 400
    next_steps = page.locator("section.next")
    assert next_steps.locator('a[href="mailto:security@acme.example"]').count() == 1
    assert "Contact Acme Pharma" in next_steps.inner_text()
    check_layout(page, axe_script, shots, "error-brand")
    # A valid code of a GTIN no brand enrolled: not served, and no contact either.
    response = page.goto(unsigned_url(live_server, "P-none"))
    assert response is not None
    assert response.status == 404
    assert page.locator('section.next a[href^="mailto:"]').count() == 0


def test_each_language_renders_its_own_words(
    browser: Any, live_server: LiveServer, axe_script: str, shots: Path
) -> None:
    # One unit per language: many browsers scanning one unit would make it suspect.
    live_server.env.register([f"P-{lang}" for lang in (*LANGUAGES, "switch")])
    headings = {}
    for lang in LANGUAGES:
        words = catalogue(lang)
        page = new_page(browser, locale=lang)  # Accept-Language from the browser's locale
        page.goto(label_url(live_server, f"P-{lang}"))
        html = page.locator("html")
        assert html.get_attribute("lang") == lang
        assert html.get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
        headings[lang] = page.locator("#verdict h1").inner_text()
        assert headings[lang] == words("Authentic product")
        assert page.locator("section.next h2").inner_text() == words("What to do next")
        assert page.locator("footer p").inner_text() == words(
            "sealtrace product check. No tracking, no account."
        )
        assert page.locator("nav.languages a[aria-current]").inner_text() == words.name
        check_layout(page, axe_script, shots, f"lang-{lang}")
        page.context.close()
    assert len(set(headings.values())) == len(LANGUAGES)
    # The switcher leads to the same page in another language.
    page = new_page(browser, locale="en-GB")
    page.goto(label_url(live_server, "P-switch"))
    page.click("nav.languages a[lang=ar]")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("#verdict h1").inner_text() == catalogue("ar")("Authentic product")
    # Mirrored: the banner's icon sits at the right, its heading to the left of it.
    icon = page.locator("#verdict svg").bounding_box()
    heading = page.locator("#verdict h1").bounding_box()
    assert icon["x"] > heading["x"]


def scans_of(live_server: LiveServer, serial: str) -> int:
    with live_server.env.session() as session:
        return len(session.exec(select(Scan).where(Scan.serial == serial)).all())


def switch_language(page: Any, lang: str) -> None:
    with page.expect_navigation():
        page.click(f"nav.languages a[lang={lang}]")
    assert page.locator("html").get_attribute("lang") == lang


def test_switching_language_shows_the_same_answer_without_a_new_scan(
    browser: Any, live_server: LiveServer, axe_script: str, shots: Path
) -> None:
    live_server.env.register(["P-switch-label", "P-switch-photo"])
    # A label's page: the same answer in German, then French; still the one scan.
    page = new_page(browser, locale="en-GB")
    page.goto(label_url(live_server, "P-switch-label"))
    first = page.locator("#verdict").get_attribute("data-verdict")
    scan_id = page.locator("input[name=scan_id]").get_attribute("value")
    assert scans_of(live_server, "P-switch-label") == 1
    for lang in ("de", "fr"):
        switch_language(page, lang)
        assert page.locator("#verdict h1").inner_text() == catalogue(lang)("Authentic product")
        assert page.locator("#verdict").get_attribute("data-verdict") == first
        # The same scan's page: its report form and location still name that scan.
        assert page.locator("input[name=scan_id]").get_attribute("value") == scan_id
    assert scans_of(live_server, "P-switch-label") == 1
    check_layout(page, axe_script, shots, "switch-label-fr")
    # The link names a scan only for the browser that made it: anyone else following it
    # gets a page view of their own, recorded like any other.
    other = new_page(browser)
    other.goto(page.url)
    assert other.locator("input[name=scan_id]").get_attribute("value") != scan_id
    assert scans_of(live_server, "P-switch-label") == 2
    other.context.close()

    # A photo's result on /scan: switching shows the same result, not a blank scanner.
    page = new_page(browser, locale="en-GB")
    page.goto(live_server.base_url + "/scan")
    photo = photograph(label_png(label_url(live_server, "P-switch-photo")), quality=40)
    page.set_input_files(
        "#photo", files=[{"name": "label.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.click("#photo-form button[type=submit]")
    page.wait_for_selector("#result #verdict")
    assert scans_of(live_server, "P-switch-photo") == 1
    switch_language(page, "es")
    spanish = catalogue("es")
    assert page.locator("#result #verdict h2").inner_text() == spanish("Authentic product")
    assert page.locator("#result #verdict").get_attribute("data-verdict") == "authentic"
    assert page.locator("h1.title").inner_text() == spanish("Scan a product code")
    switch_language(page, "ar")
    assert page.locator("#result #verdict").get_attribute("data-verdict") == "authentic"
    assert scans_of(live_server, "P-switch-photo") == 1
    check_layout(page, axe_script, shots, "switch-scan-ar")
    # Another browser with the same address gets a blank scanner: nothing of the result.
    other = new_page(browser)
    other.goto(page.url)
    assert other.locator("#result").inner_text().strip() == ""
    other.context.close()
    # The reference is short-lived: after the page-view window a switch is a blank scanner.
    live_server.env.clock.advance(minutes=31)
    switch_language(page, "de")
    assert page.locator("#result").inner_text().strip() == ""
    assert scans_of(live_server, "P-switch-photo") == 1
