"""The page's script shows the re-judged verdict: after an officer's scan in Paris, a phone
that shares a location in Sydney ten minutes later sees its page turn to "Check advised"
(headless chromium, geolocation granted, a real server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from mobile_api.i18n import catalogue
from tests.mobile.conftest import LiveServer, signed_uri
from verifier.db.models import Scan

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

PARIS = {"lat": 48.8566, "lon": 2.3522, "accuracy_m": 20}


@pytest.mark.parametrize(
    ("where", "heading"),
    [
        ({"latitude": -33.8688, "longitude": 151.2093}, "Check advised"),
        ({"latitude": 48.8049, "longitude": 2.1204}, "Authentic product"),
    ],
    ids=["sydney", "versailles"],
)
def test_sharing_a_location_shows_the_new_verdict(
    browser: object,
    live_server: LiveServer,
    artifacts_dir: Path,
    where: dict[str, float],
    heading: str,
) -> None:
    env = live_server.env
    serial = "JS" + str(int(where["latitude"]) + 100)
    env.register([serial])
    url = signed_uri(env.world.acme_line, serial, base=live_server.base_url)
    officer = {"code": url, "location": PARIS, "device_id": "post-7"}
    assert env.client.post("/v1/verify", json=officer, headers=env.auth("officer")).is_success
    env.clock.advance(minutes=10)
    context = browser.new_context(  # type: ignore[attr-defined]
        geolocation={**where, "accuracy": 30}, permissions=["geolocation"]
    )
    try:
        page = context.new_page()
        page.goto(url)
        assert page.locator("#verdict h1").inner_text() == "Authentic product"
        with page.expect_response(lambda r: "/location" in r.url) as shared:
            page.locator("#share-location").click()
        assert shared.value.status == 200
        expected = "suspect" if heading == "Check advised" else "authentic"
        page.wait_for_function(
            "document.getElementById('location-status').textContent.length > 0"
            f" && document.getElementById('verdict').dataset.verdict === '{expected}'"
        )
        assert page.locator("#verdict h1").inner_text() == heading
        assert page.locator("#verdict").get_attribute("data-banner") == expected
        shots = artifacts_dir / "screenshots"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / f"page-after-location-{expected}.png"), full_page=True)
    finally:
        context.close()


def test_a_switch_after_the_in_place_swap_draws_the_raised_verdict(
    browser: object, live_server: LiveServer
) -> None:
    """page.js swaps the banner without a reload; the language links still name the scan,
    whose stored answer the shared location raised, so a switch draws "Check advised"."""
    env = live_server.env
    env.register(["JS-SWITCH"])
    url = signed_uri(env.world.acme_line, "JS-SWITCH", base=live_server.base_url)
    officer = {"code": url, "location": PARIS, "device_id": "post-7"}
    assert env.client.post("/v1/verify", json=officer, headers=env.auth("officer")).is_success
    env.clock.advance(minutes=10)
    context = browser.new_context(  # type: ignore[attr-defined]
        locale="en-GB", permissions=["geolocation"],
        geolocation={"latitude": -33.8688, "longitude": 151.2093, "accuracy": 30},
    )  # fmt: skip
    try:
        page = context.new_page()
        page.goto(url)
        scan_id = page.locator("#location").get_attribute("data-scan-id")
        with page.expect_response(lambda r: "/location" in r.url):
            page.locator("#share-location").click()
        page.wait_for_function("document.getElementById('verdict').dataset.verdict === 'suspect'")
        links = page.locator("nav.languages a").evaluate_all("as => as.map(a => a.href)")
        assert all(f"shown={scan_id}" in link for link in links)
        with page.expect_navigation():
            page.click("nav.languages a[lang=de]")
        assert page.locator("#verdict h1").inner_text() == catalogue("de")("Check advised")
        assert page.locator("#verdict").get_attribute("data-verdict") == "suspect"
        assert page.locator("#location").get_attribute("data-scan-id") == scan_id
        with env.session() as session:
            assert len(session.exec(select(Scan).where(Scan.serial == "JS-SWITCH")).all()) == 2
    finally:
        context.close()
