"""Tenant isolation: brand acme's token never reads or changes brand other's data.

Every route of the app is either checked here (``CHECKS``) or named in ``NOT_BRAND_DATA``
with the reason it holds no brand's data; a new route in neither fails
``test_every_route_is_covered``, so it cannot ship without a tenant test.

Other's data carries canaries (a device id, a batch id, an unregistered serial) that acme
never sends: if one shows up in any answer to acme, other's data leaked.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from authn.digital_link import compress_digital_link, parse_digital_link
from epcis.documents import commissioning_event, epcis_document
from tests.production.conftest import ACME_GTIN, OTHER_GTIN, Env, EnvFactory, registration

OTHER_DEVICE = "canary-device-of-other"
OTHER_BATCH = "CANARY-BATCH-OTHER"
OTHER_UNREGISTERED = "CANARYUNREG9"
OTHER_SERIAL = "OTHER1"
ACME_SERIAL = "ACME1"
OTHER_SGLN = "urn:epc:id:sgln:9512345.00001.0"
ACME_SGLN = "urn:epc:id:sgln:9506000.00001.0"
CANARIES = (OTHER_DEVICE, OTHER_BATCH, OTHER_UNREGISTERED)

NOT_BRAND_DATA: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "the API description",
    ("GET", "/docs"): "the API documentation page",
    ("GET", "/docs/oauth2-redirect"): "part of the documentation page",
    ("GET", "/docs/assets"): "the Swagger UI files of the documentation page, static",
    ("GET", "/redoc"): "the API documentation page",
    ("GET", "/healthz"): "liveness, no data",
    ("GET", "/readyz"): "readiness, the trust list version only",
    ("GET", "/v1/trust-list"): "the public signed trust list",
    ("PUT", "/v1/trust-list"): "admins only (a brand gets 403: checked below)",
    ("GET", "/metrics"): "counters by route and verdict; scraper only",
    ("GET", "/scan"): "the scanner page; with shown=, the browser's own anonymous scan only",
    ("GET", "/.well-known/gs1resolver"): "the resolver description document, static",
    (
        "POST",
        "/v1/scans/{scan_id}/location",
    ): "its re-judged verdict; own scan only",
    ("POST", "/report"): "writes an alert for the brand; answers a redirect to its receipt",
    ("GET", "/report"): "the receipt: the browser's own reported scan only (brand contact)",
    ("GET", "/static"): "static files",
    ("GET", "/static/console"): "the console's stylesheet",
    ("GET", "/v1/log/checkpoint"): "the log's signed tree head: a size and a hash",
    ("GET", "/v1/log/key"): "the log's public key",
    ("GET", "/v1/log/proof/inclusion"): "hashes only; useless without the entry",
    ("GET", "/v1/log/proof/consistency"): "hashes only",
    ("GET", "/v1/log/entries"): "registry admins only (a brand gets 403: checked below)",
    ("GET", "/officer"): "redirect to the officer app's shell",
    ("GET", "/officer/"): "the officer app's shell, static; its data needs an officer's token",
    ("GET", "/officer/help"): "the officer app's help page, static",
    ("GET", "/officer/sw.js"): "the officer app's service worker, static",
    ("GET", "/officer/manifest.webmanifest"): "the officer app's manifest, static",
    ("GET", "/officer/static/{name:path}"): "the officer app's static files",
    ("GET", "/epcis"): "the list of EPCIS resources, no data",
    ("GET", "/epcis/eventTypes/{eventType}"): "the sub-resources of an event type, no data",
    ("GET", "/epcis/epcs/{epc:path}"): "the sub-resources of an EPC, no data",
    ("GET", "/epcis/queries"): "no named queries are kept (always [])",
    ("POST", "/epcis/queries"): "named queries are not supported (501)",
    ("GET", "/epcis/queries/{queryName}"): "no named queries are kept (404)",
    ("GET", "/epcis/queries/{queryName}/events"): "no named queries are kept (404)",
}
# The console's pages use a login cookie, not bearer tokens: checked only to give nothing to
# a token without a session (per-brand sessions are the console's own tests).
CONSOLE_PREFIX = "/console"


def enumerate_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route, including those of included routers."""
    found: set[tuple[str, str]] = set()

    def add(route: Any) -> None:
        methods = getattr(route, "methods", None) or {"GET"}
        for method in methods - {"HEAD", "OPTIONS"}:
            found.add((method, route.path))

    for route in app.routes:
        candidates = getattr(route, "effective_candidates", None)
        if candidates is not None:  # an included router (FastAPI >= 0.16x)
            for candidate in candidates():
                add(candidate)
        else:
            add(route)
    return found


@dataclass
class Tenants:
    env: Env
    acme_scan_id: str
    other_scan_id: str

    def acme(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **self.env.auth("acme")}
        response: httpx.Response = self.env.client.request(method, path, headers=headers, **kwargs)
        for canary in CANARIES:
            assert canary not in response.text, (method, path, canary)
        return response

    def as_other(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.env.client.request(
            method, path, headers=self.env.auth("other"), **kwargs
        )
        return response


@pytest.fixture
def tenants(sqlite_url: str, make_env: EnvFactory) -> Tenants:
    env = make_env(sqlite_url)
    other_body = {**registration(env.world, [OTHER_SERIAL], brand="other"), "batch_id": OTHER_BATCH}
    assert (
        env.client.post("/v1/registrations", json=other_body, headers=env.auth("other")).json()[
            "registered"
        ]
        == 1
    )
    assert env.register([ACME_SERIAL]).status_code == 200
    scans = {}
    for brand, serial in (("other", OTHER_SERIAL), ("acme", ACME_SERIAL)):
        scan_id = str(uuid.uuid4())
        body = {"code": env.sign(serial, brand), "scan_id": scan_id, "device_id": OTHER_DEVICE}
        if brand == "acme":
            body["device_id"] = "device-of-acme"
        response = env.client.post("/v1/verify", json=body, headers=env.auth("officer"))
        assert response.status_code == 200, response.text
        scans[brand] = scan_id
    # Unregistered but genuinely signed codes raise CODE_NOT_REGISTERED alerts for each brand.
    for brand, serial in (("other", OTHER_UNREGISTERED), ("acme", "ACMEUNREG1")):
        env.client.post("/v1/verify", json={"code": env.sign(serial, brand)})
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for brand, gtin, place in (("other", OTHER_GTIN, OTHER_SGLN), ("acme", ACME_GTIN, ACME_SGLN)):
        document = epcis_document(
            [commissioning_event(gtin, [f"EV-{brand}"], at=at, biz_location=place)],
            created=at,
            locations={place: "DE"},
        )
        captured = env.client.post("/v1/epcis/capture", json=document, headers=env.auth(brand))
        assert captured.status_code == 201, captured.text
    return Tenants(env, scans["acme"], scans["other"])


def check_codes(t: Tenants) -> None:
    path = f"/v1/codes/{OTHER_GTIN}/{OTHER_SERIAL}"
    assert t.acme("GET", path).status_code == 404
    own = t.as_other("GET", path)
    assert own.status_code == 200
    assert OTHER_BATCH in own.text


def check_status(t: Tenants) -> None:
    path = f"/v1/codes/{OTHER_GTIN}/{OTHER_SERIAL}/status"
    assert t.acme("POST", path, json={"status": "stolen"}).status_code in (403, 404)
    assert t.as_other("GET", f"/v1/codes/{OTHER_GTIN}/{OTHER_SERIAL}").json()["status"] == "active"


def check_flag_resolve(t: Tenants) -> None:
    # Another brand's code answers 404 whether or not it is flagged: nothing is told.
    path = f"/v1/codes/{OTHER_GTIN}/{OTHER_SERIAL}/flag/resolve"
    assert t.acme("POST", path, json={"comment": "not mine"}).status_code == 404
    assert t.as_other("POST", path, json={"comment": "mine"}).status_code == 409  # not flagged


def check_status_undo(t: Tenants) -> None:
    assert (
        t.as_other(
            "POST", f"/v1/codes/{OTHER_GTIN}/{OTHER_SERIAL}/status", json={"status": "sold"}
        ).status_code
        == 200
    )
    path = f"/v1/codes/{OTHER_GTIN}/{OTHER_SERIAL}/status/undo"
    assert t.acme("POST", path).status_code in (403, 404)
    assert t.as_other("GET", f"/v1/codes/{OTHER_GTIN}/{OTHER_SERIAL}").json()["status"] == "sold"


def check_lot_status(t: Tenants) -> None:
    path = f"/v1/lots/{OTHER_GTIN}/L1/status"
    assert t.acme("POST", path, json={"status": "recalled"}).status_code in (403, 404)


def check_lot_undo(t: Tenants) -> None:
    # A lot that was never registered cannot be recalled: register one of other's first.
    lot_body = {**registration(t.env.world, ["OTHERLOT1"], brand="other"), "lot": "L1"}
    t.as_other("POST", "/v1/registrations", json=lot_body)
    assert (
        t.as_other(
            "POST", f"/v1/lots/{OTHER_GTIN}/L1/status", json={"status": "recalled"}
        ).status_code
        == 200
    )
    assert t.acme("POST", f"/v1/lots/{OTHER_GTIN}/L1/status/undo").status_code in (403, 404)


def check_markets(t: Tenants) -> None:
    assert t.acme("PUT", f"/v1/markets/{OTHER_GTIN}", json={"markets": ["DE"]}).status_code in (
        403,
        404,
    )


def check_products(t: Tenants) -> None:
    # The other brand describes its own product; acme can neither read, change nor list it.
    path = f"/v1/products/{OTHER_GTIN}"
    mine = t.as_other("PUT", path, json={"productName": "Other's tablets"})
    assert mine.status_code == 200, mine.text
    assert t.acme("GET", path).status_code == 404
    assert t.acme("PUT", path, json={"productName": "Stolen name"}).status_code == 404
    assert t.acme("DELETE", path).status_code == 404
    body = [{"gtin": OTHER_GTIN, "productName": "Stolen name"}]
    imported = t.acme("POST", "/v1/products:import", json=body)
    assert imported.status_code in (200, 207), imported.text
    assert OTHER_GTIN not in [p.get("gtin") for p in t.acme("GET", "/v1/products").json()]
    assert t.as_other("GET", path).json()["productName"] == "Other's tablets"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (9, 9, 9)).save(out, format="PNG")
    return out.getvalue()


def check_product_images(t: Tenants) -> None:
    # The other brand uploads its pack's image; acme can neither read, replace nor remove it.
    path = f"/v1/products/{OTHER_GTIN}/image"
    mine = t.as_other("PUT", path, content=_png())
    assert mine.status_code == 200, mine.text
    assert t.acme("GET", path).status_code == 404
    assert t.acme("PUT", path, content=_png()).status_code == 404
    assert t.acme("DELETE", path).status_code == 404
    # The served image is public by design (its URL is handed out only with a genuine code's
    # answer and names the content, not the GTIN); it is the same bytes for everyone.
    served = t.acme("GET", mine.json()["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert t.as_other("GET", path).json()["url"] == mine.json()["url"]


def check_registrations(t: Tenants) -> None:
    body = registration(t.env.world, ["STEAL1"], brand="other")
    assert t.acme("POST", "/v1/registrations", json=body).status_code == 403


def check_alerts(t: Tenants) -> None:
    mine = t.acme("GET", "/v1/alerts")
    assert mine.status_code == 200
    assert mine.json(), "acme's own alert is missing (the check would prove nothing)"
    assert all(alert["gtin"] == ACME_GTIN for alert in mine.json())
    assert OTHER_UNREGISTERED in t.as_other("GET", "/v1/alerts").text


def check_epcis_events(t: Tenants) -> None:
    mine = t.acme("GET", "/v1/epcis/events")
    assert mine.status_code == 200
    assert "EV-acme" in mine.text
    assert "EV-other" not in mine.text
    assert "EV-other" in t.as_other("GET", "/v1/epcis/events").text


def check_epcis_export(t: Tenants) -> None:
    mine = t.acme("GET", "/v1/epcis/export")
    assert mine.status_code == 200
    assert "EV-acme" in mine.text
    assert "EV-other" not in mine.text


def check_epcis_capture(t: Tenants) -> None:
    at = dt.datetime.now(dt.UTC)
    document = epcis_document(
        [commissioning_event(OTHER_GTIN, ["EV-forged"], at=at, biz_location=OTHER_SGLN)],
        created=at,
        locations={OTHER_SGLN: "DE"},
    )
    assert (
        t.acme("POST", "/v1/epcis/capture", json=document, params={"brand": "other"}).status_code
        == 403
    )
    assert t.acme("POST", "/v1/epcis/capture", json=document).status_code in (400, 403, 422)
    assert "EV-forged" not in t.as_other("GET", "/v1/epcis/events").text


def check_epcis_rest_read(t: Tenants) -> None:
    for path in (
        "/epcis/events",
        "/epcis/eventTypes/ObjectEvent/events",
        f"/epcis/epcs/https://id.gs1.org/01/{OTHER_GTIN}/21/EV-other/events",
    ):
        mine = t.acme("GET", path)
        assert mine.status_code == 200, (path, mine.text)
        assert "EV-other" not in mine.text, path
    assert "EV-acme" in t.acme("GET", "/epcis/events").text
    assert "EV-other" in t.as_other("GET", "/epcis/events").text
    assert t.acme("GET", "/epcis/eventTypes").status_code == 200


def check_epcis_rest_epcs(t: Tenants) -> None:
    mine = t.acme("GET", "/epcis/epcs")
    assert mine.status_code == 200, mine.text
    assert any("EV-acme" in key for key in mine.json())
    assert not any("EV-other" in key for key in mine.json())
    assert any("EV-other" in key for key in t.as_other("GET", "/epcis/epcs").json())


def check_epcis_rest_capture(t: Tenants) -> None:
    at = dt.datetime.now(dt.UTC)
    document = epcis_document([commissioning_event(OTHER_GTIN, ["EV-forged2"], at=at)], created=at)
    assert (
        t.acme("POST", "/epcis/capture", json=document, params={"brand": "other"}).status_code
        == 403
    )
    assert t.acme("POST", "/epcis/capture", json=document).status_code == 202
    assert "EV-forged2" not in t.as_other("GET", "/epcis/events").text
    jobs = t.as_other("GET", "/epcis/capture").json()
    mine = t.acme("GET", "/epcis/capture").json()
    assert {j["captureID"] for j in jobs}.isdisjoint({j["captureID"] for j in mine})
    for job in jobs:
        assert t.acme("GET", f"/epcis/capture/{job['captureID']}").status_code == 404


def _verify(t: Tenants, path: str) -> None:
    code = t.env.sign(OTHER_SERIAL, "other")
    answer = t.acme("POST", path, json={"code": code})
    assert answer.status_code == 200
    assert "history" not in answer.json()
    assert "right_holder" not in answer.json()


def check_verify(t: Tenants) -> None:
    _verify(t, "/v1/verify")
    full = t.as_other("POST", "/v1/verify", json={"code": t.env.sign(OTHER_SERIAL, "other")})
    assert OTHER_DEVICE in full.text or "history" in full.json()  # the owner sees it all


def check_verify_only(t: Tenants) -> None:
    _verify(t, "/v1/verify-only")


def check_batch(t: Tenants) -> None:
    assert t.acme("POST", "/v1/scans:batch", json={"scans": []}).status_code == 403


def check_decode(t: Tenants) -> None:
    # A photo decode verifies like /v1/verify: a brand's token is no key to other's scans.
    response = t.acme("POST", "/v1/decode", content=b"not an image")
    assert response.status_code in (400, 415, 422)


def check_scan_form(t: Tenants) -> None:
    response = t.acme("POST", "/scan", content=b"not a form")
    assert response.status_code < 500


def check_resolver(t: Tenants) -> None:
    link = t.env.sign(OTHER_SERIAL, "other")
    path = "/" + link.split("/", 3)[3]
    response = t.acme("GET", path, headers={"Accept": "text/html"})
    assert response.status_code == 200


def check_resolver_compressed(t: Tenants) -> None:
    # The compressed label URL answers as the uncompressed one: another brand's token sees
    # the public answer, the owner the full one.
    link = parse_digital_link(t.env.sign(OTHER_SERIAL, "other"))
    path = urlsplit(compress_digital_link(link.ais, link.base)).path
    json_accept = {"Accept": "application/json"}
    answer = t.acme("GET", path, headers=json_accept)
    assert answer.status_code == 200
    assert "history" not in answer.json()
    assert "right_holder" not in answer.json()
    assert t.acme("GET", path, headers={"Accept": "text/html"}).status_code == 200
    full = t.env.client.get(path, headers={**t.env.auth("other"), **json_accept})
    assert OTHER_DEVICE in full.text or "history" in full.json()  # the owner sees it all


def _other_alert_id(t: Tenants) -> int:
    alerts = t.as_other("GET", "/v1/alerts").json()
    assert alerts
    return int(alerts[0]["id"])


def check_alert(t: Tenants) -> None:
    assert t.acme("GET", f"/v1/alerts/{_other_alert_id(t)}").status_code in (403, 404)


def check_alert_acknowledge(t: Tenants) -> None:
    alert_id = _other_alert_id(t)
    before = t.as_other("GET", f"/v1/alerts/{alert_id}").json()
    assert t.acme("POST", f"/v1/alerts/{alert_id}/acknowledge", json={}).status_code in (403, 404)
    assert t.as_other("GET", f"/v1/alerts/{alert_id}").json() == before


def check_alert_close(t: Tenants) -> None:
    alert_id = _other_alert_id(t)
    before = t.as_other("GET", f"/v1/alerts/{alert_id}").json()
    assert t.acme("POST", f"/v1/alerts/{alert_id}/close", json={}).status_code in (403, 404, 422)
    assert t.as_other("GET", f"/v1/alerts/{alert_id}").json() == before


def check_webhook(t: Tenants) -> None:
    body = {"url": "https://attacker.example/hook", "secret": "s" * 32}
    assert t.acme("PUT", "/v1/brands/other/webhook", json=body).status_code in (403, 404)


def check_webhook_read(t: Tenants) -> None:
    assert t.acme("GET", "/v1/brands/other/webhook").status_code in (403, 404)


def check_bulk_status(t: Tenants) -> None:
    items = [{"gtin": OTHER_GTIN, "serial": OTHER_SERIAL, "status": "stolen"}]
    answer = t.acme("POST", "/v1/codes/status:batch", json={"items": items})
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert result["error"]["status"] in (403, 404)
    assert t.as_other("GET", f"/v1/codes/{OTHER_GTIN}/{OTHER_SERIAL}").json()["status"] == "active"


def check_seizure_list(t: Tenants) -> None:
    seized = {"outcome": "seized", "quantity": 3}
    officer = t.env.auth("officer")
    path = f"/v1/scans/{t.other_scan_id}/inspection"
    assert t.env.client.post(path, json=seized, headers=officer).status_code == 201
    assert t.as_other("GET", "/v1/seizures").json()[0]["gtin"] == OTHER_GTIN
    assert t.acme("GET", "/v1/seizures").json() == []


def check_thresholds_read(t: Tenants) -> None:
    assert t.acme("GET", f"/v1/thresholds/{OTHER_GTIN}").status_code in (403, 404)


def check_thresholds_write(t: Tenants) -> None:
    body = {"device_limit": 1}
    assert t.acme("PUT", f"/v1/thresholds/{OTHER_GTIN}", json=body).status_code in (403, 404, 422)


def check_inspection(t: Tenants) -> None:
    path = f"/v1/scans/{t.other_scan_id}/inspection"
    assert t.acme("POST", path, json={"outcome": "seized"}).status_code in (403, 404, 422)


def check_seizure(t: Tenants) -> None:
    # No seizure of other's exists here: a weak check (no oracle for ids, nothing readable).
    assert t.acme("GET", "/v1/seizures/1").status_code in (403, 404)


def check_seizure_report(t: Tenants) -> None:
    assert t.acme("GET", "/v1/seizures/1/report").status_code in (403, 404)


def check_seizure_evidence(t: Tenants) -> None:
    assert t.acme("GET", "/v1/seizures/1/evidence").status_code in (403, 404)
    assert t.acme("GET", "/v1/log/entries", params={"start": 0, "end": 5}).status_code == 403


def check_offline_bundle(t: Tenants) -> None:
    assert t.acme("GET", "/v1/offline-bundle").status_code == 403


def check_offline_bundle_key(t: Tenants) -> None:
    assert t.acme("GET", "/v1/offline-bundle/key").status_code == 403


def check_trust_list_put(t: Tenants) -> None:
    assert t.acme("PUT", "/v1/trust-list", content=b"{}").status_code == 403


def check_officer_app_keys(t: Tenants) -> None:
    assert t.acme("GET", "/officer/api/keys").status_code == 403


def check_officer_app_sign_in(t: Tenants) -> None:
    answer = t.acme("POST", "/officer/api/sign-in", json={"name": "acme", "password": "x" * 12})
    assert answer.status_code == 401  # no token for a brand account, whatever its password
    assert "token" not in answer.json()


def check_officer_app_sign_out(t: Tenants) -> None:
    assert t.acme("POST", "/officer/api/sign-out").status_code == 403


def check_officer_app_inspections(t: Tenants) -> None:
    item = {"scan_id": t.other_scan_id, "outcome": "seized", "inspected_at": "2026-03-01T12:00:00Z"}
    answer = t.acme("POST", "/officer/api/inspections:batch", json={"inspections": [item]})
    assert answer.status_code == 403


CHECKS: dict[tuple[str, str], Callable[[Tenants], None]] = {
    ("GET", "/officer/api/keys"): check_officer_app_keys,
    ("POST", "/officer/api/sign-in"): check_officer_app_sign_in,
    ("POST", "/officer/api/sign-out"): check_officer_app_sign_out,
    ("POST", "/officer/api/inspections:batch"): check_officer_app_inspections,
    ("GET", "/v1/codes/{gtin}/{serial}"): check_codes,
    ("POST", "/v1/codes/{gtin}/{serial}/status"): check_status,
    ("POST", "/v1/codes/{gtin}/{serial}/status/undo"): check_status_undo,
    ("POST", "/v1/codes/{gtin}/{serial}/flag/resolve"): check_flag_resolve,
    ("POST", "/v1/lots/{gtin}/{lot}/status"): check_lot_status,
    ("POST", "/v1/lots/{gtin}/{lot}/status/undo"): check_lot_undo,
    ("PUT", "/v1/markets/{gtin}"): check_markets,
    ("GET", "/v1/products"): check_products,
    ("GET", "/v1/products/{gtin}"): check_products,
    ("PUT", "/v1/products/{gtin}"): check_products,
    ("DELETE", "/v1/products/{gtin}"): check_products,
    ("POST", "/v1/products:import"): check_products,
    ("GET", "/v1/products/{gtin}/image"): check_product_images,
    ("PUT", "/v1/products/{gtin}/image"): check_product_images,
    ("DELETE", "/v1/products/{gtin}/image"): check_product_images,
    ("GET", "/v1/product-images/{name}"): check_product_images,
    ("POST", "/v1/registrations"): check_registrations,
    ("GET", "/v1/alerts"): check_alerts,
    ("GET", "/v1/epcis/events"): check_epcis_events,
    ("GET", "/v1/epcis/export"): check_epcis_export,
    ("POST", "/v1/epcis/capture"): check_epcis_capture,
    ("GET", "/epcis/events"): check_epcis_rest_read,
    ("GET", "/epcis/events/{eventID:path}"): check_epcis_rest_read,
    ("GET", "/epcis/eventTypes"): check_epcis_rest_read,
    ("GET", "/epcis/eventTypes/{eventType}/events"): check_epcis_rest_read,
    ("GET", "/epcis/epcs/{epc:path}/events"): check_epcis_rest_read,
    ("GET", "/epcis/epcs"): check_epcis_rest_epcs,
    ("POST", "/epcis/capture"): check_epcis_rest_capture,
    ("GET", "/epcis/capture"): check_epcis_rest_capture,
    ("GET", "/epcis/capture/{captureID}"): check_epcis_rest_capture,
    ("POST", "/v1/verify"): check_verify,
    ("POST", "/v1/verify-only"): check_verify_only,
    ("POST", "/v1/scans:batch"): check_batch,
    ("POST", "/v1/decode"): check_decode,
    ("POST", "/scan"): check_scan_form,
    ("GET", "/{ai:gs1ai}/{rest:path}"): check_resolver,
    ("GET", "/{compressed:dlcompressed}"): check_resolver_compressed,
    ("PUT", "/v1/trust-list"): check_trust_list_put,
    ("GET", "/v1/alerts/{alert_id}"): check_alert,
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): check_alert_acknowledge,
    ("POST", "/v1/alerts/{alert_id}/close"): check_alert_close,
    ("PUT", "/v1/brands/{brand_id}/webhook"): check_webhook,
    ("GET", "/v1/brands/{brand_id}/webhook"): check_webhook_read,
    ("POST", "/v1/codes/status:batch"): check_bulk_status,
    ("GET", "/v1/seizures"): check_seizure_list,
    ("GET", "/v1/thresholds/{gtin}"): check_thresholds_read,
    ("PUT", "/v1/thresholds/{gtin}"): check_thresholds_write,
    ("POST", "/v1/scans/{scan_id}/inspection"): check_inspection,
    ("GET", "/v1/seizures/{seizure_id}"): check_seizure,
    ("GET", "/v1/seizures/{seizure_id}/report"): check_seizure_report,
    ("GET", "/v1/seizures/{seizure_id}/evidence"): check_seizure_evidence,
    ("GET", "/v1/offline-bundle"): check_offline_bundle,
    ("GET", "/v1/offline-bundle/key"): check_offline_bundle_key,
}


def test_every_route_is_covered(sqlite_url: str, make_env: EnvFactory) -> None:
    routes = enumerate_routes(make_env(sqlite_url).app)
    console = {r for r in routes if r[1].startswith(CONSOLE_PREFIX)}
    uncovered = sorted(routes - set(CHECKS) - set(NOT_BRAND_DATA) - console)
    assert not uncovered, f"routes without a tenant test or an allow-list reason: {uncovered}"
    gone = sorted(set(CHECKS) - routes)
    assert not gone, f"checks of routes that no longer exist: {gone}"


def test_console_gives_a_bare_token_nothing(sqlite_url: str, make_env: EnvFactory) -> None:
    env = make_env(sqlite_url)
    env.register([ACME_SERIAL])
    pages = [r for r in enumerate_routes(env.app) if r[1].startswith(CONSOLE_PREFIX)]
    for method, path in pages:
        if path.endswith("/login"):
            continue
        concrete = path.replace("{gtin}", OTHER_GTIN).replace("{serial}", OTHER_SERIAL)
        concrete = concrete.replace("{alert_id}", "1")
        response = env.client.request(
            method, concrete, headers=env.auth("acme"), follow_redirects=False
        )
        assert response.status_code in (303, 307, 401, 403, 404, 405), (method, path)


def test_brand_cannot_reach_another_brands_data(tenants: Tenants) -> None:
    # One setup for every route (it is the slow part); every route is tried and all
    # failures are reported together.
    failures = []
    for route, check in sorted(CHECKS.items()):
        try:
            check(tenants)
        except AssertionError as exc:
            failures.append(f"{route[0]} {route[1]}: {exc}")
    assert not failures, "\n".join(failures)
