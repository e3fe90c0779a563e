"""The Digital Link path as the GS1 resolver role: page, JSON, linkset, cookie, follow-ups."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.conftest import Receiver
from tests.mobile.conftest import ACME_GTIN, Env
from verifier import outbox
from verifier.accounts import Caller, Role
from verifier.db.models import Alert, Scan, WebhookOutbox
from verifier.webhooks import Destinations, verify_webhook

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def path_of(uri: str) -> str:
    parts = urlsplit(uri)
    return parts.path + ("?" + parts.query if parts.query else "")


def scans(env: Env) -> list[Scan]:
    with env.session() as session:
        return list(session.exec(select(Scan).order_by(Scan.id)).all())  # type: ignore[arg-type]


def test_browser_gets_an_authentic_page_with_safe_headers(env: Env) -> None:
    env.register(["AUTH1"])
    response = env.client.get(path_of(env.sign("AUTH1")), headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'class="verdict verdict-authentic"' in page
    assert "Authentic product" in page
    assert 'data-banner="authentic"' in page
    assert '<svg class="icon"' in page  # an icon shape per state, beside the words
    assert ACME_GTIN in page
    assert "Acme Pharma" in page
    assert "security@acme.example" in page  # contact of the right holder
    assert 'action="/report"' in page
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert response.headers["cache-control"] == "no-store"
    # Every resource the page loads is our own.
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith(("/", "mailto:", "https://acme.example/")), url
    cookie = response.headers["set-cookie"]
    assert "st_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert len(scans(env)) == 1
    assert scans(env)[0].role == "anonymous"


def test_reload_from_the_same_browser_is_one_device(env: Env) -> None:
    env.register(["RELOAD1"])
    path = path_of(env.sign("RELOAD1"))
    env.client.get(path, headers=HTML)
    env.client.get(path, headers=HTML)  # the TestClient keeps the cookie, as a browser does
    env.client.cookies.clear()
    env.client.get(path, headers=HTML)  # another browser
    devices = [s.device_id for s in scans(env)]
    assert len(devices) == 3
    assert devices[0] == devices[1] != devices[2]
    assert all(d is not None and d.startswith("net:") for d in devices)
    # One network: however many browsers, device rules count it once.
    assert len({d.split("/")[0] for d in devices if d}) == 1


def test_prefetch_is_not_a_scan(env: Env) -> None:
    env.register(["PREFETCH1"])
    response = env.client.get(
        path_of(env.sign("PREFETCH1")), headers={**HTML, "Sec-Purpose": "prefetch"}
    )
    assert response.status_code == 503
    assert scans(env) == []


def test_api_client_gets_the_verify_json(env: Env) -> None:
    env.register(["JSON1"])
    uri = env.sign("JSON1")
    page_answer = env.client.get(path_of(uri), headers={"Accept": "application/json"}).json()
    verify_answer = env.client.post("/v1/verify", json={"code": uri}).json()
    for answer in (page_answer, verify_answer):
        answer.pop("scan_id")
        answer.pop("scanned_at")
    assert page_answer == verify_answer
    assert page_answer["verdict"] == "authentic"
    assert "history" not in page_answer


def test_counterfeit_and_suspect_pages(env: Env) -> None:
    env.register(["DESTROYED1"])
    env.set_status("DESTROYED1", "destroyed")
    withheld = env.client.get(path_of(env.sign("DESTROYED1")), headers=HTML).text
    # The brand's status is not told ("withheld"), but the page does not call it a pattern.
    assert 'data-verdict="suspect" data-status="withheld"' in withheld
    assert "verdict-withheld" in withheld
    assert "On hold: ask the brand before use" in withheld
    assert "destroyed" not in withheld
    suspect = env.client.get(path_of(env.sign("NEVER1")), headers=HTML).text  # not registered
    assert "verdict-suspect" in suspect
    assert "Check advised" in suspect
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    fake = env.client.get(
        path_of(env.sign("FAKE1", key=Ed25519PrivateKey.generate())), headers=HTML
    )
    assert "verdict-counterfeit" in fake.text
    assert "Not genuine" in fake.text
    assert '<details class="report" open>' in fake.text  # the report form opens by itself


def test_recalled_genuine_unit_is_never_shown_green(env: Env) -> None:
    env.register(["R1"], lot="L9")
    env.recall_lot("L9")
    page = env.client.get(path_of(env.sign("R1", lot="L9")), headers=HTML).text
    assert 'data-verdict="authentic"' in page  # genuine...
    assert 'data-status="recalled"' in page
    assert "verdict-recalled" in page  # ...but the banner leads with the recall, in amber
    assert "verdict-authentic" not in page
    assert "Recalled: do not use" in page
    assert "Check advised" not in page
    assert "Do not use the product." in page
    assert "security@acme.example" in page  # the brand to ask, in the next steps


def test_linkset(env: Env) -> None:
    uri = env.sign("LINKS1", lot="L1", expiry="271231")
    response = env.client.get(path_of(uri) + "&linkType=all")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/linkset+json"
    linkset = response.json()["linkset"][0]
    assert "8030=" not in linkset["anchor"]
    assert "17=271231" in linkset["anchor"]
    assert linkset["anchor"].startswith("https://id.example.com/01/")
    services = linkset["https://gs1.org/voc/verificationService"]
    assert any(link["href"].endswith("/v1/verify") for link in services)
    assert linkset["https://gs1.org/voc/pip"][0]["type"] == "text/html"
    assert scans(env) == []  # link discovery is not a scan


def test_languages(env: Env) -> None:
    env.register(["LANG1"])
    path = path_of(env.sign("LANG1"))
    french = env.client.get(path, headers={**HTML, "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert "Produit authentique" in french.text
    assert '<html lang="fr" dir="ltr">' in french.text
    spanish = env.client.get(path, headers={**HTML, "Accept-Language": "es"})
    assert "Producto auténtico" in spanish.text
    german = env.client.get(path, headers={**HTML, "Accept-Language": "de-DE,ja;q=0.5"})
    assert "Echtes Produkt" in german.text
    assert '<html lang="de" dir="ltr">' in german.text
    assert german.headers["content-language"] == "de"
    arabic = env.client.get(path, headers={**HTML, "Accept-Language": "ar-EG"})
    assert '<html lang="ar" dir="rtl">' in arabic.text
    assert "منتج أصلي" in arabic.text
    unknown = env.client.get(path, headers={**HTML, "Accept-Language": "ja,ko;q=0.5"})
    assert "Authentic product" in unknown.text
    assert '<html lang="en" dir="ltr">' in unknown.text
    override = env.client.get(path + "&lang=es", headers={**HTML, "Accept-Language": "fr"})
    assert "Producto auténtico" in override.text


def test_user_controlled_values_are_escaped(env: Env) -> None:
    uri = env.sign("ESC1", lot="<b>&\"'x")
    page = env.client.get(path_of(uri), headers=HTML).text
    assert "<b>&" not in page
    assert "&lt;b&gt;&amp;&quot;&#x27;x" in page


def test_location_refines_the_scan_coarsely_and_only_for_its_browser(env: Env) -> None:
    env.register(["LOC1"])
    page = env.client.get(path_of(env.sign("LOC1")), headers=HTML).text
    scan_id = re.search(r'data-scan-id="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    body = {"lat": 48.85837, "lon": 2.29448, "accuracy_m": 12}
    other_browser = TestClient(
        env.app, base_url="https://id.example.com", cookies={"st_session": "x" * 32}
    )
    stranger = other_browser.post(f"/v1/scans/{scan_id}/location", json=body)
    assert stranger.status_code == 404
    added = env.client.post(f"/v1/scans/{scan_id}/location", json=body)
    assert added.status_code == 200
    assert added.json()["verdict"] == "authentic"
    assert added.json()["changed"] is False
    env.client.post(f"/v1/scans/{scan_id}/location", json={"lat": 1.0, "lon": 1.0})
    (scan,) = scans(env)
    assert (scan.lat, scan.lon) == (48.9, 2.3)  # coarse, and not overwritten
    assert scan.accuracy_m is not None
    assert scan.accuracy_m >= 10_000
    env.clock.advance(hours=2)
    late = env.client.post(f"/v1/scans/{scan_id}/location", json=body)
    assert late.status_code == 404


def test_report_form_stores_one_alert_for_the_brand(env: Env) -> None:
    env.register(["REPORT1"])
    page = env.client.get(path_of(env.sign("REPORT1")), headers=HTML).text
    scan_id = re.search(r'name="scan_id" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"scan_id": scan_id, "where": "market stall", "what": "<odd> print", "lang": "fr"}
    for _ in range(2):
        sent = env.client.post("/report", data=form, headers=HTML, follow_redirects=False)
        assert sent.status_code == 303  # to the receipt: a reload does not post again
        assert sent.headers["location"] == f"/report?scan_id={scan_id}&lang=fr"
        response = env.client.get(sent.headers["location"], headers=HTML)
        assert response.status_code == 200
        receipt = response.text
        assert "Merci. Votre signalement a été transmis à Acme Pharma." in receipt
        assert "Que faire maintenant ?" in receipt  # not a dead end: next steps...
        assert "security@acme.example" in receipt  # ...the brand's contact...
        assert 'href="/scan?lang=fr"' in receipt  # ...and the way on
    stranger = TestClient(
        env.app, base_url="https://id.example.com", cookies={"st_session": "x" * 32}
    )
    assert stranger.get(f"/report?scan_id={scan_id}", headers=HTML).status_code == 404
    with env.session() as session:
        alerts = session.exec(select(Alert).where(Alert.kind == "CONSUMER_REPORT")).all()
    assert len(alerts) == 1
    assert alerts[0].brand_id == "acme"
    assert alerts[0].serial == "REPORT1"
    assert json.loads(alerts[0].detail)["where"] == "market stall"


def test_a_consumer_report_reaches_the_brands_webhook_signed(env: Env, receiver: Receiver) -> None:
    env.app.state.outbox_worker.stop()  # this test is the only worker
    secret = "whsec_report_secret_0123456789"
    with env.session() as session:
        outbox.set_webhook(
            session, Caller(Role.ADMIN, name="admin"), "acme", receiver.url, secret,
            now=env.clock(), require_https=False, trust=env.services.trust.current(),
            destinations=Destinations.allowing(["127.0.0.1/32"]),
        )  # fmt: skip
    env.register(["REPORT2"])
    page = env.client.get(path_of(env.sign("REPORT2")), headers=HTML).text
    scan_id = re.search(r'name="scan_id" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"scan_id": scan_id, "where": "market stall", "what": "blurred print"}
    for _ in range(2):  # a repeat is one report and one event
        assert env.client.post("/report", data=form, headers=HTML).status_code == 200
    with env.session() as session:
        [row] = session.exec(select(WebhookOutbox)).all()
    assert (row.event_type, row.brand_id) == ("report.received", "acme")
    with httpx.Client(timeout=5) as client:
        stats = outbox.run_once(env.services.engine, client, clock=env.clock)
    assert stats.delivered == 1
    [(headers, body)] = receiver.requests
    assert verify_webhook(secret, headers, body, now=env.clock()) == row.event_id
    event = json.loads(body)
    assert event["type"] == "report.received"
    assert (event["data"]["gtin"], event["data"]["serial"]) == (ACME_GTIN, "REPORT2")
    assert (event["data"]["scan_id"], event["data"]["where"]) == (scan_id, "market stall")
    assert event["data"]["alert_id"] == row.alert_id


def test_resolver_route_does_not_shadow_other_routes(env: Env) -> None:
    assert env.client.get("/v1/verify").status_code == 405
    assert env.client.get("/no/such/page").status_code == 404
    # GS1-Conformant Resolver: a syntactically invalid Digital Link is a 400...
    assert env.client.get("/01/not-a-gtin/21/X").status_code == 400
    assert env.client.get("/01/not-a-gtin/21/X", headers=HTML).status_code == 400
    assert env.client.get("/static/mobile.css").status_code == 200
    assert env.client.get("/openapi.json").status_code == 200
    # ...and a valid one this resolver does not serve (no serial: not a unit) a 404.
    assert env.client.get(f"/01/{ACME_GTIN}").status_code == 404


SCAN_ID_FIELD = re.compile(r'name="scan_id" value="([^"]+)"')


def test_a_language_switch_draws_only_this_browsers_own_recent_scan(any_env: Env) -> None:
    """``shown`` redraws a stored answer for the browser that made it, for that label,
    within the window; anything else is what a visit without it would be."""
    env = any_env
    env.register(["SWITCH1", "SWITCH2"])
    one, two = path_of(env.sign("SWITCH1")), path_of(env.sign("SWITCH2"))
    first = env.client.get(one, headers=HTML)
    match = SCAN_ID_FIELD.search(first.text)
    assert match
    shown = match[1]
    assert f"shown={shown}&amp;lang=de" in first.text  # the switcher names the scan
    german = env.client.get(f"{one}&shown={shown}&lang=de", headers=HTML)
    assert german.status_code == 200
    assert "Echtes Produkt" in german.text
    assert f'name="scan_id" value="{shown}"' in german.text  # the same scan's page
    assert len(scans(env)) == 1
    # The same browser's reference on another label: that label is verified as usual.
    other_label = env.client.get(f"{two}&shown={shown}&lang=de", headers=HTML)
    assert f'value="{shown}"' not in other_label.text
    assert len(scans(env)) == 2
    # An API client asks for a verification, not a page: recorded.
    assert env.client.get(f"{one}&shown={shown}", headers={"Accept": "application/json"}).json()
    assert len(scans(env)) == 3
    # Another browser (no cookie, or its own) reads nothing of it.
    stranger = TestClient(env.app, base_url=str(env.client.base_url))
    theirs = stranger.get(f"{one}&shown={shown}&lang=de", headers=HTML)
    assert f'value="{shown}"' not in theirs.text
    assert len(scans(env)) == 4
    scanner = stranger.get(f"/scan?shown={shown}&lang=de", headers=HTML)
    assert scanner.status_code == 200
    assert 'id="verdict"' not in scanner.text
    # Its own browser gets the answer on /scan too, and junk references are ignored.
    mine = env.client.get(f"/scan?shown={shown}&lang=fr", headers=HTML)
    assert 'data-verdict="authentic"' in mine.text
    assert "Produit authentique" in mine.text
    for junk in ("x" * 5000, "", "'; drop table scan; --"):
        blank = env.client.get(f"/scan?shown={junk}", headers=HTML)
        assert blank.status_code == 200
        assert 'id="verdict"' not in blank.text
    assert env.client.get("/scan?shown=%00", headers=HTML).status_code == 422  # as any NUL
    # After the page-view window the reference is spent: a switch records again.
    env.clock.advance(minutes=31)
    late = env.client.get(f"{one}&shown={shown}&lang=de", headers=HTML)
    assert f'value="{shown}"' not in late.text
    assert len(scans(env)) == 5
    assert 'id="verdict"' not in env.client.get(f"/scan?shown={shown}", headers=HTML).text
