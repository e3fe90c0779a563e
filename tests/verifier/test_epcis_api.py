"""``/v1/epcis`` over HTTP: who may capture and read, per-event errors, paging, export."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from PIL import Image

from epcis.documents import (
    aggregation_event,
    commissioning_event,
    epcis_document,
    object_event,
)
from epcis.identifiers import unit_uri
from http_api.routes_epcis import router

T0 = dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC)
FACTORY = "urn:epc:id:sgln:9506000.00001.0"
WAREHOUSE = "urn:epc:id:sgln:9506000.00002.0"
CASE = "urn:epc:id:sscc:9506000.0000000001"


@pytest.fixture
def api(env: Any) -> Any:
    if not any(getattr(r, "path", "").startswith("/v1/epcis") for r in env.app.routes):
        env.app.include_router(router)
    return env


def story(gtin: str) -> dict[str, Any]:
    serials = [f"U{i:02d}" for i in range(24)]
    units = [unit_uri(gtin, s) for s in serials]
    events = [
        commissioning_event(gtin, serials, at=T0, biz_location=FACTORY),
        aggregation_event(CASE, units, at=T0 + dt.timedelta(days=1), biz_location=FACTORY),
        object_event(
            [CASE],
            at=T0 + dt.timedelta(days=2),
            biz_step="shipping",
            read_point=FACTORY,
            destinations=[("location", WAREHOUSE)],
        ),
        object_event(
            [CASE], at=T0 + dt.timedelta(days=4), biz_step="receiving", biz_location=WAREHOUSE
        ),
        aggregation_event(CASE, units, at=T0 + dt.timedelta(days=5), action="DELETE"),
    ]
    return epcis_document(events, created=T0, locations={FACTORY: "DE", WAREHOUSE: "FR"})


def test_capture_then_history_through_the_api(api: Any, shared_dir: Path) -> None:
    response = api.client.post(
        "/v1/epcis/capture", json=story(api.ACME_GTIN), headers=api.auth("acme")
    )
    assert response.status_code == 201, response.text
    assert response.json()["eventCount"] == 5

    unit = unit_uri(api.ACME_GTIN, "U07")
    history = api.client.get(
        "/v1/epcis/events", params={"code": unit, "containers": "true"}, headers=api.auth("officer")
    )
    assert history.status_code == 200
    assert history.headers["content-type"].startswith("application/ld+json")
    events = history.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["bizStep"] for e in events] == [
        "commissioning",
        "packing",
        "shipping",
        "receiving",
        "unpacking",
    ]

    exported = api.client.get("/v1/epcis/export", headers=api.auth("acme"))
    schema = json.loads((shared_dir / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    assert [e.message for e in validator.iter_errors(exported.json())] == []
    assert len(exported.json()["epcisBody"]["eventList"]) == 5

    again = api.client.post(
        "/v1/epcis/capture", json=story(api.ACME_GTIN), headers=api.auth("acme")
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert [e["index"] for e in again.json()["errors"]] == [0, 1, 2, 3, 4]


def test_who_may_capture_and_read(api: Any) -> None:
    document = story(api.ACME_GTIN)
    assert api.client.post("/v1/epcis/capture", json=document).status_code == 401
    assert (
        api.client.post("/v1/epcis/capture", json=document, headers=api.auth("officer")).status_code
        == 403
    )
    as_other = api.client.post("/v1/epcis/capture", json=document, headers=api.auth("other"))
    assert as_other.status_code == 400
    assert len(as_other.json()["errors"]) == 3  # the events naming acme's GTIN
    assert (
        api.client.post("/v1/epcis/capture", json=document, headers=api.auth("admin")).status_code
        == 400
    )
    by_admin = api.client.post(
        "/v1/epcis/capture", params={"brand": "acme"}, json=document, headers=api.auth("admin")
    )
    assert by_admin.status_code == 201

    def count(who: str | None) -> int:
        response = api.client.get("/v1/epcis/events", headers=api.auth(who))
        if response.status_code != 200:
            return -int(response.status_code)
        events: list[Any] = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return len(events)

    assert count("acme") == 5
    assert count("admin") == 5
    assert count("officer") == 5
    assert count("other") == 0
    assert count(None) == -401


def test_bad_events_are_listed_and_paging_uses_the_link_header(api: Any) -> None:
    document = story(api.ACME_GTIN)
    document["epcisBody"]["eventList"][2]["bizStep"] = "teleporting"
    bad = api.client.post("/v1/epcis/capture", json=document, headers=api.auth("acme"))
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {"index": 2, "message": "bizStep 'teleporting' is neither a CBV 2.0 term nor a URI"}
    ]
    not_json = api.client.post("/v1/epcis/capture", content=b"{", headers=api.auth("acme"))
    assert not_json.status_code == 400

    assert (
        api.client.post(
            "/v1/epcis/capture", json=story(api.ACME_GTIN), headers=api.auth("acme")
        ).status_code
        == 201
    )
    first = api.client.get("/v1/epcis/events", params={"limit": 3}, headers=api.auth("acme"))
    assert 'rel="next"' in first.headers["link"]
    second = api.client.get(
        "/v1/epcis/events",
        params={"limit": 3, "cursor": first.headers["x-next-cursor"]},
        headers=api.auth("acme"),
    )
    assert "link" not in second.headers
    naive = api.client.get(
        "/v1/epcis/events", params={"from": "2026-01-01T00:00:00"}, headers=api.auth("acme")
    )
    assert naive.status_code == 400


def test_the_export_carries_the_brands_own_product_master_data(api: Any, shared_dir: Path) -> None:
    acme = {"productName": "Acmedol 500 mg", "brandName": "Acmedol", "availableStrength": "500 mg",
            "image": "https://acme.example/acmedol.png"}  # fmt: skip
    assert api.client.put(
        f"/v1/products/{api.ACME_GTIN}", json=acme, headers=api.auth("acme")
    ).status_code == 200  # fmt: skip
    other = {"productName": "Othermol syrup"}
    assert api.client.put(
        f"/v1/products/{api.OTHER_GTIN}", json=other, headers=api.auth("other")
    ).status_code == 200  # fmt: skip
    for who, gtin in (("acme", api.ACME_GTIN), ("other", api.OTHER_GTIN)):
        document = story(gtin)
        if who == "other":  # its units only: the case's events are acme's
            del document["epcisBody"]["eventList"][1:]
        captured = api.client.post("/v1/epcis/capture", json=document, headers=api.auth(who))
        assert captured.status_code == 201, captured.text

    def classes(who: str) -> dict[str, dict[str, Any]]:
        exported = api.client.get("/v1/epcis/export", headers=api.auth(who))
        assert exported.status_code == 200
        schema = json.loads((shared_dir / "epcis" / "EPCIS-JSON-Schema.json").read_text())
        validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
        assert [e.message for e in validator.iter_errors(exported.json())] == []
        vocabularies = exported.json()["epcisHeader"]["epcisMasterData"]["vocabularyList"]
        found = {}
        for vocabulary in vocabularies:
            if vocabulary["type"] == "urn:epcglobal:epcis:vtype:EPCClass":
                for element in vocabulary["vocabularyElementList"]:
                    found[element["id"]] = {a["id"]: a["attribute"] for a in element["attributes"]}
        return found

    mine = classes("acme")
    assert mine == {
        f"https://id.gs1.org/01/{api.ACME_GTIN}": {
            "https://gs1.org/voc/productName": "Acmedol 500 mg",
            "https://gs1.org/voc/brandName": "Acmedol",
            "urn:epcglobal:cbv:mda#strengthDescription": "500 mg",
            "https://gs1.org/voc/image": "https://acme.example/acmedol.png",
        }
    }
    # An uploaded image is named by its absolute URL on this service.
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, format="PNG")
    uploaded = api.client.put(
        f"/v1/products/{api.ACME_GTIN}/image", content=png.getvalue(), headers=api.auth("acme")
    )
    assert uploaded.status_code == 200, uploaded.text
    [attributes] = classes("acme").values()
    assert attributes["https://gs1.org/voc/image"] == "http://testserver" + uploaded.json()["url"]
    theirs = classes("other")
    assert list(theirs) == [f"https://id.gs1.org/01/{api.OTHER_GTIN}"]
    assert "Acmedol" not in json.dumps(theirs)
    # Officers read every brand's events, and so every brand's products.
    assert len(classes("officer")) == 2
    # A product without events in the page is not exported: only the GTINs the events name.
    api.client.delete(f"/v1/products/{api.OTHER_GTIN}", headers=api.auth("other"))
    assert classes("other") == {}
