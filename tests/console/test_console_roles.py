"""Who may open which console page: every page x every role, over HTTP (TestClient)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.console.conftest import Console
from tests.console.console_world import ACME_GTIN, BRAVO_GTIN, csrf_of, sign_in

CALLERS = ("anonymous", "officer", "admin", "acme-owner", "bravo-owner", "pharmacy")
# page -> expected status for each caller, in CALLERS order (anonymous is sent to sign in: 303)
MATRIX: dict[str, str] = {
    "/console/": "303 303 303 303 303 403",
    "/console/alerts": "303 200 200 200 200 403",
    "/console/alerts/{alert}": "303 200 200 200 404 403",
    f"/console/codes/{ACME_GTIN}/COPY1": "303 200 200 200 404 403",
    f"/console/codes/{BRAVO_GTIN}/BRAVO1": "303 200 200 404 200 403",
    f"/console/codes/{ACME_GTIN}/NEVER-SEEN": "303 404 404 404 404 403",
    f"/console/codes/{ACME_GTIN}/COPY1/report": "303 200 200 200 404 403",
    "/console/brand": "303 200 200 200 200 403",
    "/console/brand?brand=acme": "303 200 200 200 403 403",
    "/console/brand?brand=nobody": "303 404 404 403 403 403",
}
ROLE_MATRIX = {
    path: dict(zip(CALLERS, map(int, statuses.split()), strict=True))
    for path, statuses in MATRIX.items()
}


def browser_of(console: Console, who: str) -> TestClient:
    client = console.client_for()
    if who != "anonymous":
        response = sign_in(client, who)
        assert response.status_code == 303, response.text
    return client


def test_every_page_answers_every_role_as_the_matrix_says(console: Console) -> None:
    browsers = {who: browser_of(console, who) for who in CALLERS}
    got: dict[str, dict[str, int]] = {}
    for path in ROLE_MATRIX:
        target = path.format(alert=console.seeded.alert_id)
        for who, client in browsers.items():
            response = client.get(target, follow_redirects=False)
            got.setdefault(path, {})[who] = response.status_code
            if response.status_code == 303 and who == "anonymous":
                assert response.headers["location"].startswith("/console/login?next=")
            if response.status_code in (200, 403, 404):
                assert response.headers["content-type"].startswith("text/html")
                assert "default-src 'self'" in response.headers["content-security-policy"]
    assert got == ROLE_MATRIX


def test_inspection_refuses_brand_sessions(console: Console) -> None:
    scan_id = console.seeded.scan_ids["COPY1@CN"]
    path = f"/console/codes/{ACME_GTIN}/COPY1/inspections"
    for who, expected in (("acme-owner", 403), ("bravo-owner", 403), ("officer", 303)):
        client = browser_of(console, who)
        page = client.get(f"/console/codes/{ACME_GTIN}/COPY1")
        form = {"csrf": csrf_of(page.text), "scan_id": scan_id, "outcome": "detained"}
        response = client.post(path, data=form, follow_redirects=False)
        assert response.status_code == expected, (who, response.text)


def test_brand_owner_lists_only_its_own_alerts(console: Console) -> None:
    acme = browser_of(console, "acme-owner").get("/console/alerts").text
    bravo = browser_of(console, "bravo-owner").get("/console/alerts").text
    assert "COPY1" in acme
    assert "COPY1" not in bravo
    assert 'id="no-alerts"' in bravo
    # A brand filter cannot widen a brand owner's view.
    assert "COPY1" not in browser_of(console, "bravo-owner").get("/console/alerts?brand=acme").text


def test_brand_owners_overview_is_its_own(console: Console) -> None:
    page = browser_of(console, "bravo-owner").get("/console/brand").text
    assert "Bravo Foods" in page
    assert "COPY1" not in page
    assert "revoked" not in page  # acme's key revocation is not bravo's event
    picker = browser_of(console, "officer").get("/console/brand").text
    assert 'href="/console/brand?brand=acme"' in picker
    assert 'href="/console/brand?brand=bravo"' in picker


def test_the_code_page_names_the_brands_product_or_says_gtin_only(console: Console) -> None:
    token = console.seeded.tokens["acme-owner"]
    product = {"productName": "Acmedol <tablets>", "availableStrength": "500 mg"}
    put = console.client.put(
        f"/v1/products/{ACME_GTIN}", json=product, headers={"Authorization": f"Bearer {token}"}
    )
    assert put.status_code == 200, put.text
    officer = browser_of(console, "officer")
    page = officer.get(f"/console/codes/{ACME_GTIN}/COPY1").text
    assert "<dt>Product</dt><dd>Acmedol &lt;tablets&gt; · 500 mg</dd>" in page
    bravo = officer.get(f"/console/codes/{BRAVO_GTIN}/BRAVO1").text
    assert "<dt>Product</dt><dd>no product data: GTIN only</dd>" in bravo
