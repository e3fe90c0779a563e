"""The console in a real browser (Debian's headless chromium via Playwright) on a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select

from tests.console.conftest import LiveConsole, upload_product
from tests.console.console_world import ACME_GTIN, BRAVO_GTIN, PASSWORD
from verifier.db.models import Inspection

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


def new_page(browser: Any, **options: Any) -> tuple[Any, list[str]]:
    page = browser.new_context(**options).new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    return page, requests


def sign_in(page: Any, live: LiveConsole, name: str) -> None:
    page.goto(live.base_url + "/console/alerts")
    assert urlsplit(page.url).path == "/console/login"  # anonymous: sent to sign in
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")


def assert_local(requests: list[str]) -> None:
    assert requests
    for url in requests:
        assert urlsplit(url).hostname == "127.0.0.1", f"the page requested {url}"


def test_officer_follows_an_alert_to_the_journey_and_records_a_seizure(
    browser: Any, live_console: LiveConsole, artifacts_dir: Path
) -> None:
    page, requests = new_page(browser, viewport={"width": 1280, "height": 900})
    sign_in(page, live_console, "officer")
    assert urlsplit(page.url).path == "/console/alerts"  # back where the officer was going
    row = page.locator(f'tr[data-alert-id="{live_console.console.seeded.alert_id}"]')
    sync_api.expect(row).to_contain_text("IMPOSSIBLE_TRAVEL")
    page.screenshot(path=str(artifacts_dir / "console-alerts.png"), full_page=True)

    row.locator("a").first.click()
    sync_api.expect(page.locator("h1")).to_contain_text("IMPOSSIBLE_TRAVEL")
    page.click("#code-link")
    assert urlsplit(page.url).path == f"/console/codes/{ACME_GTIN}/COPY1"
    sync_api.expect(page.locator("#summary")).to_contain_text("IMPOSSIBLE_TRAVEL")
    sync_api.expect(page.locator("#summary")).to_contain_text("Last seen legitimately in FR")

    # The offending leg: Paris -> Shanghai, red and dashed; its explanation in the list beside.
    seeded = live_console.console.seeded
    leg = page.locator(
        f'#journey g.leg.offending[data-from="{seeded.scan_ids["COPY1@FR"]}"]'
        f'[data-to="{seeded.scan_ids["COPY1@CN"]}"]'
    )
    sync_api.expect(leg).to_have_count(1)
    line = leg.locator("line")
    assert "offending" in (line.get_attribute("class") or "")
    assert line.evaluate("e => getComputedStyle(e).stroke") == "rgb(179, 38, 30)"
    assert line.get_attribute("stroke-dasharray")
    sync_api.expect(leg.locator("text")).to_have_count(0)  # no words on the map
    note = page.locator(f'#journey-notes li[data-scan-id="{seeded.scan_ids["COPY1@CN"]}"]')
    sync_api.expect(note).to_contain_text("IMPOSSIBLE_TRAVEL")
    # The plausible Lyon -> Paris leg is not marked.
    sync_api.expect(page.locator("#journey g.leg:not(.offending)")).to_have_count(1)
    sync_api.expect(page.locator("#journey .last-legitimate")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "console-code-journey.png"), full_page=True)

    page.check("input[name=outcome][value=seized]")
    page.fill("input[name=quantity]", "24")
    page.fill("textarea[name=notes]", "Carton of 24 with copied labels")
    page.click("#inspection-form button[type=submit]")
    sync_api.expect(page.locator("#notice")).to_contain_text("seized")
    sync_api.expect(page.locator("#inspections")).to_contain_text("seized")
    with Session(live_console.console.app.state.services.engine) as session:
        stored = session.exec(select(Inspection)).one()
    assert (stored.outcome, stored.quantity, stored.country) == ("seized", 24, "CN")

    page.click("#report-link")
    sync_api.expect(page.locator("#report h1")).to_contain_text("Seizure report")
    sync_api.expect(page.locator("#seizures")).to_contain_text("24")
    page.emulate_media(media="print")
    assert not page.locator("nav.top").is_visible()  # print CSS hides the navigation
    page.screenshot(path=str(artifacts_dir / "console-seizure-report-print.png"), full_page=True)
    pdf = page.pdf(path=str(artifacts_dir / "console-seizure-report.pdf"))
    assert pdf.startswith(b"%PDF")
    assert_local(requests)


def test_brand_owner_sees_its_overview_but_not_another_brands_code(
    browser: Any, live_console: LiveConsole, artifacts_dir: Path
) -> None:
    page, requests = new_page(browser, viewport={"width": 390, "height": 844})
    sign_in(page, live_console, "acme-owner")
    assert urlsplit(page.url).path == "/console/alerts"
    page.goto(live_console.base_url + "/console/brand")
    sync_api.expect(page.locator("h1")).to_contain_text("Acme Pharma")
    sync_api.expect(page.locator("#scans-country")).to_contain_text("FR")
    sync_api.expect(page.locator("#top-codes")).to_contain_text("COPY1")
    sync_api.expect(page.locator("#key-events")).to_contain_text("revoked")
    page.screenshot(path=str(artifacts_dir / "console-brand-overview-phone.png"), full_page=True)

    response = page.goto(live_console.base_url + f"/console/codes/{BRAVO_GTIN}/BRAVO1")
    assert response.status == 404
    sync_api.expect(page.locator("#error")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "console-brand-other-code-404.png"))
    assert_local(requests)


def test_the_code_page_shows_the_uploaded_image_under_the_consoles_own_csp(
    browser: Any, live_console: LiveConsole, artifacts_dir: Path
) -> None:
    """No bypass_csp here: the console's own Content-Security-Policy must let the image
    (same origin, /v1/product-images/...) load, and the page must report no violation."""
    url = upload_product(live_console, "Acmedol 500 mg tablets")
    page, requests = new_page(browser, viewport={"width": 1280, "height": 900})
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    sign_in(page, live_console, "officer")
    response = page.goto(live_console.base_url + f"/console/codes/{ACME_GTIN}/COPY1")
    assert "img-src 'self'" in response.headers["content-security-policy"]
    image = page.locator("#facts dd.product img#product-image")
    sync_api.expect(image).to_be_visible()
    assert image.get_attribute("src") == url
    assert image.get_attribute("alt") == "Pack of Acmedol 500 mg tablets, as its brand uploaded it"
    sync_api.expect(page.locator("#facts dd.product")).to_contain_text("Acmedol 500 mg tablets")
    page.wait_for_function("() => document.querySelector('#product-image').complete")
    assert image.evaluate("img => img.naturalWidth") == 120  # loaded, not blocked
    assert live_console.base_url + url in requests
    assert not violations, violations
    page.screenshot(path=str(artifacts_dir / "console-code-product-image.png"), full_page=True)
    # A code of a brand with no uploaded image shows no image element.
    page.goto(live_console.base_url + f"/console/codes/{BRAVO_GTIN}/BRAVO1")
    sync_api.expect(page.locator("#facts")).to_contain_text("no product data: GTIN only")
    sync_api.expect(page.locator("#product-image")).to_have_count(0)
    assert_local(requests)
