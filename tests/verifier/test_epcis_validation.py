"""Reading EPCIS documents: GS1 examples pass, broken events fail one by one, exports are valid."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from authn.errors import GS1SyntaxError, InvalidInput
from authn.gs1 import check_digit
from epcis.documents import (
    aggregation_event,
    commissioning_event,
    epcis_document,
    inspection_event,
    object_event,
    query_document,
    status_event,
)
from epcis.identifiers import identify, identify_code
from epcis.validation import read_document
from epcis.vocabulary import STATUS_EVENTS

AT = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
GTIN = "09506000134352"
EXAMPLE_PREFIXES = ("0614141", "4012345", "9520001", "4000001")


def examples(shared: Path) -> list[Path]:
    found = sorted(p for p in (shared / "epcis").glob("*.jsonld") if "context" not in p.name)
    assert len(found) == 9
    return found


@pytest.fixture(scope="module")
def schema(shared_dir: Path) -> Draft7Validator:
    document = json.loads((shared_dir / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    return Draft7Validator(document, format_checker=Draft7Validator.FORMAT_CHECKER)


def assert_valid(validator: Draft7Validator, document: dict[str, Any]) -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []


def test_every_gs1_example_reads_without_error(shared_dir: Path) -> None:
    for path in examples(shared_dir):
        read = read_document(json.loads(path.read_text()), prefixes=EXAMPLE_PREFIXES)
        assert read.errors == [], path.name
        assert read.events, path.name


def test_a_brand_may_not_write_about_another_brands_gtins(shared_dir: Path) -> None:
    path = shared_dir / "epcis" / "PersistentDisposition-example.jsonld"
    read = read_document(json.loads(path.read_text()), prefixes=("4012345",))
    assert [e.index for e in read.errors] == [0, 1]
    assert "09520001123467" in read.errors[0].message
    assert "company prefixes" in read.errors[0].message


def good_document() -> dict[str, Any]:
    return epcis_document(
        [
            commissioning_event(GTIN, ["A1"], at=AT),
            object_event([f"https://id.gs1.org/01/{GTIN}/21/A1"], at=AT, biz_step="shipping"),
            commissioning_event(GTIN, ["A2"], at=AT),
        ],
        created=AT,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("eventTime", "yesterday", "not an ISO 8601 date-time"),
        ("eventTime", "2026-03-01T09:00:00", "no time zone offset"),
        ("eventTimeZoneOffset", "CET", "eventTimeZoneOffset"),
        ("action", "UPDATE", "action must be one of"),
        ("bizStep", "teleporting", "neither a CBV 2.0 term nor a URI"),
        ("epcList", ["not a uri"], "epcList[0] must be a URI"),
        ("epcList", ["urn:epc:id:sgtin:950600.013435"], "expected 3 dot-separated fields"),
        ("epcList", [], "non-empty epcList or quantityList"),
        ("type", "TeleportEvent", "type must be one of"),
        ("readPoint", "urn:epc:id:sgln:9506000.00001.0", 'must be an object with an "id"'),
    ],
)
def test_a_broken_event_is_named_by_index_and_field(field: str, value: Any, message: str) -> None:
    document = good_document()
    document["epcisBody"]["eventList"][1][field] = value
    read = read_document(document)
    assert [e.index for e in read.errors] == [1]
    assert message in read.errors[0].message
    assert len(read.events) == 2


def test_the_same_event_twice_in_one_document_is_an_error() -> None:
    document = good_document()
    events = document["epcisBody"]["eventList"]
    events.append(copy.deepcopy(events[0]))
    read = read_document(document)
    assert [(e.index, e.message) for e in read.errors] == [
        (3, "the same event as event 0 of this document")
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("@context"), "@context"),
        (lambda d: d.update(type="EPCISThing"), "type must be EPCISDocument"),
        (lambda d: d["epcisBody"].pop("eventList"), "epcisBody.eventList"),
    ],
)
def test_a_broken_document_is_refused_as_a_whole(mutate: Any, message: str) -> None:
    document = good_document()
    mutate(document)
    with pytest.raises(InvalidInput, match=message.replace(".", r"\.")):
        read_document(document)


def test_country_master_data_is_read_and_checked() -> None:
    document = epcis_document(
        [commissioning_event(GTIN, ["A1"], at=AT)],
        created=AT,
        locations={"urn:epc:id:sgln:9506000.00001.0": "DE"},
    )
    assert read_document(document).locations == {
        "https://id.gs1.org/414/950600000001" + check_digit("950600000001"): "DE"
    }
    element = document["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]
    element["vocabularyElementList"][0]["attributes"][0]["attribute"] = "Germany"
    with pytest.raises(InvalidInput, match="alpha-2"):
        read_document(document)


def test_identifiers_of_one_unit_share_one_key() -> None:
    forms = [
        "urn:epc:id:sgtin:9506000.013435.A%2F1",
        f"https://brand.example/path/01/{GTIN}/10/LOT/21/A%2F1?17=270100",
        "https://id.gs1.org/01/9506000134352/21/A%2F1",
    ]
    keys = {identify(form).key for form in forms}
    assert keys == {f"https://id.gs1.org/01/{GTIN}/21/A%2F1"}
    assert identify_code(f"(01){GTIN}(21)A/1").key == keys.pop()
    assert identify(
        "urn:epc:id:sscc:9506000.0000000001"
    ).key == "https://id.gs1.org/00/09506000000000001" + check_digit("09506000000000001")
    with pytest.raises(GS1SyntaxError):
        identify("https://id.gs1.org/01/09506000134353/21/A1x")  # wrong check digit


def test_documents_sealtrace_writes_validate_against_the_schema(schema: Draft7Validator) -> None:
    events = [
        commissioning_event(
            GTIN, ["A1", "A2"], at=AT, biz_location="urn:epc:id:sgln:9506000.00001.0"
        ),
        aggregation_event(
            "urn:epc:id:sscc:9506000.0000000001", [f"https://id.gs1.org/01/{GTIN}/21/A1"], at=AT
        ),
        aggregation_event(
            "urn:epc:id:sscc:9506000.0000000001",
            [f"https://id.gs1.org/01/{GTIN}/21/A1"],
            at=AT,
            action="DELETE",
        ),
        object_event(
            ["urn:epc:id:sscc:9506000.0000000001"],
            at=AT,
            biz_step="shipping",
            disposition="in_transit",
            sources=[("location", "urn:epc:id:sgln:9506000.00001.0")],
            destinations=[("location", "urn:epc:id:sgln:9512345.00002.0")],
        ),
        inspection_event(GTIN, "A1", at=AT, lat=50.0, lon=8.0),
        *[status_event(GTIN, "A2", status, at=AT) for status in STATUS_EVENTS],
    ]
    locations = {"urn:epc:id:sgln:9506000.00001.0": "DE"}
    assert_valid(schema, epcis_document(events, created=AT, locations=locations))
    assert_valid(schema, query_document(events, created=AT))
    assert read_document(epcis_document(events, created=AT)).errors == []
