"""A real browser (Debian's headless chromium via Playwright) against a real uvicorn server."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from sqlmodel import select

from tests.mobile.conftest import ACME_GTIN, Env, LiveServer, label_png, photograph, signed_uri
from verifier.db.models import Scan

pytestmark = pytest.mark.browser

COLOURS = {
    "authentic": "rgb(27, 127, 59)",
    "suspect": "rgb(255, 179, 0)",
    "counterfeit": "rgb(179, 38, 30)",
    "unverifiable": "rgb(95, 99, 104)",
}

sync_api = pytest.importorskip("playwright.sync_api")


def label_url(server: LiveServer, serial: str, key: Ed25519PrivateKey | None = None) -> str:
    return signed_uri(key or server.env.world.acme_line, serial, base=server.base_url)


def open_page(browser: object, **context: object) -> tuple[object, list[str]]:
    page = browser.new_context(**context).new_page()  # type: ignore[attr-defined]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    return page, requests


def assert_local(requests: list[str], server: LiveServer) -> None:
    assert requests
    for url in requests:
        assert urlsplit(url).hostname == "127.0.0.1", f"the page requested {url}"


def verdict_of(page: object) -> tuple[str, str, str]:
    box = page.locator("#verdict")  # type: ignore[attr-defined]
    colour = box.evaluate("element => getComputedStyle(element).backgroundColor")
    return box.get_attribute("data-verdict"), box.locator("h1, h2").inner_text(), colour


@pytest.mark.parametrize(
    ("case", "words"),
    [("authentic", "Authentic product"), ("suspect", "Check advised"),
     ("counterfeit", "Not genuine")],
)  # fmt: skip
def test_label_url_shows_the_verdict_in_words_and_colour(
    browser: object, live_server: LiveServer, artifacts_dir: Path, case: str, words: str
) -> None:
    env: Env = live_server.env
    key = Ed25519PrivateKey.generate() if case == "counterfeit" else None
    if case == "authentic":
        env.register([f"B-{case}"])  # a genuine code never registered is "check advised"
    page, requests = open_page(browser, viewport={"width": 390, "height": 844})
    page.goto(label_url(live_server, f"B-{case}", key))  # type: ignore[attr-defined]
    verdict, headline, colour = verdict_of(page)
    assert (verdict, headline, colour) == (case, words, COLOURS[case])
    page.screenshot(path=str(artifacts_dir / f"mobile-page-{case}.png"), full_page=True)  # type: ignore[attr-defined]
    assert_local(requests, live_server)


def test_french_page_shares_location_with_consent(
    browser: object, live_server: LiveServer, artifacts_dir: Path
) -> None:
    env = live_server.env
    env.register(["GEO1"])
    page, requests = open_page(
        browser, locale="fr-FR", geolocation={"latitude": 48.8584, "longitude": 2.2945},
        permissions=["geolocation"],
    )  # fmt: skip
    page.goto(label_url(live_server, "GEO1"))  # type: ignore[attr-defined]
    assert verdict_of(page)[1] == "Produit authentique"
    page.click("#share-location")  # type: ignore[attr-defined]
    # A locator wait, not wait_for_function: the page's CSP forbids evaluating strings.
    status = page.locator("#location-status")  # type: ignore[attr-defined]
    sync_api.expect(status).to_have_text("Merci : position ajoutée.")
    page.screenshot(path=str(artifacts_dir / "mobile-page-fr-location.png"), full_page=True)  # type: ignore[attr-defined]
    with env.session() as session:
        scan = session.exec(select(Scan).where(Scan.serial == "GEO1")).one()
    assert (scan.lat, scan.lon) == (48.9, 2.3)
    assert_local(requests, live_server)


def test_the_page_names_the_product_in_hand_and_a_forgery_gets_only_the_gtin(
    browser: object, live_server: LiveServer, artifacts_dir: Path
) -> None:
    env = live_server.env
    env.register(["NAME1"])
    name = "Acmedol <b>500</b> & co"  # markup in the brand's data is shown as text
    product = {"productName": name, "availableStrength": "500 mg", "netContent": "20 tablets"}
    put = env.client.put(f"/v1/products/{ACME_GTIN}", json=product, headers=env.auth("acme"))
    assert put.status_code == 200, put.text
    page, requests = open_page(browser, viewport={"width": 390, "height": 844})
    page.goto(label_url(live_server, "NAME1"))  # type: ignore[attr-defined]
    assert verdict_of(page)[0] == "authentic"
    shown = page.locator("#product-name")  # type: ignore[attr-defined]
    assert shown.inner_text() == f"{name} · 500 mg · 20 tablets"
    assert page.locator("#product-name b").count() == 0  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "mobile-page-product.png"), full_page=True)  # type: ignore[attr-defined]
    # A code the trust list does not vouch for names no product: the GTIN, as before.
    page.goto(label_url(live_server, "NAME2", Ed25519PrivateKey.generate()))  # type: ignore[attr-defined]
    assert verdict_of(page)[0] == "counterfeit"
    assert page.locator("#product-name").count() == 0  # type: ignore[attr-defined]
    assert ACME_GTIN in page.locator(".facts").inner_text()  # type: ignore[attr-defined]
    assert_local(requests, live_server)


def test_page_works_without_javascript(browser: object, live_server: LiveServer) -> None:
    live_server.env.register(["NOJS1"])
    page, _ = open_page(browser, java_script_enabled=False, locale="es-ES")
    page.goto(label_url(live_server, "NOJS1"))  # type: ignore[attr-defined]
    assert verdict_of(page)[:2] == ("authentic", "Producto auténtico")
    assert not page.is_visible("#share-location")  # type: ignore[attr-defined]


def test_scanner_page_uploads_a_label_photo(
    browser: object, live_server: LiveServer, artifacts_dir: Path
) -> None:
    live_server.env.register(["SCAN1"])
    photo = photograph(label_png(label_url(live_server, "SCAN1")), angle=20, scale=0.5, quality=40)
    page, requests = open_page(browser, viewport={"width": 390, "height": 844})
    page.goto(live_server.base_url + "/scan")  # type: ignore[attr-defined]
    page.set_input_files(  # type: ignore[attr-defined]
        "#photo", files=[{"name": "label.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    page.click("#photo-form button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#result #verdict")  # type: ignore[attr-defined]
    verdict, headline, colour = verdict_of(page)
    assert (verdict, headline, colour) == ("authentic", "Authentic product", COLOURS["authentic"])
    # Shown in place by scan.js: no navigation away from the scanner.
    assert page.url == live_server.base_url + "/scan"  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts_dir / "mobile-scan-upload.png"), full_page=True)  # type: ignore[attr-defined]
    assert_local(requests, live_server)


def test_the_page_shows_the_uploaded_pack_image_and_a_forgery_does_not(
    browser: object, live_server: LiveServer, artifacts_dir: Path
) -> None:
    env = live_server.env
    env.register(["PIC1"])
    product = {"productName": "Acmedol", "image": "https://images.example/acmedol.png"}
    assert env.client.put(
        f"/v1/products/{ACME_GTIN}", json=product, headers=env.auth("acme")
    ).status_code == 200  # fmt: skip
    page, requests = open_page(browser, viewport={"width": 390, "height": 844})
    page.goto(label_url(live_server, "PIC1"))  # type: ignore[attr-defined]
    # An image elsewhere is not loaded (the page's policy allows its own images only).
    assert page.locator("#product-image").count() == 0  # type: ignore[attr-defined]
    picture = io.BytesIO()
    Image.new("RGB", (120, 90), (30, 90, 200)).save(picture, format="PNG")
    uploaded = env.client.put(
        f"/v1/products/{ACME_GTIN}/image", content=picture.getvalue(), headers=env.auth("acme")
    )
    assert uploaded.status_code == 200, uploaded.text
    page.goto(label_url(live_server, "PIC1"))  # type: ignore[attr-defined]
    image = page.locator("#product-image")  # type: ignore[attr-defined]
    assert image.get_attribute("src") == uploaded.json()["url"]
    assert image.get_attribute("alt") == "Acmedol"
    # Loaded under the page's Content-Security-Policy: the browser decoded its pixels.
    image.evaluate("element => element.decode()")
    assert image.evaluate("element => element.naturalWidth") == 120
    page.screenshot(path=str(artifacts_dir / "mobile-page-product-image.png"), full_page=True)  # type: ignore[attr-defined]
    page.goto(label_url(live_server, "PIC2", Ed25519PrivateKey.generate()))  # type: ignore[attr-defined]
    assert verdict_of(page)[0] == "counterfeit"
    assert page.locator("#product-image").count() == 0  # type: ignore[attr-defined]
    assert_local(requests, live_server)
