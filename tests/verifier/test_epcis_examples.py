"""GS1's own EPCIS 2.0 example documents through the REST binding of a running uvicorn.

Each example is captured by a registry admin (its GTINs are GS1's, under no brand's
prefixes), each of its events is queried back by every parameter it has a value for,
the export validates against GS1's schema, and the hashes stay those of GS1's
reference implementation, before and after the CBV terms are written bare.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft7Validator

from epcis.hashing import context_namespaces, event_hash
from epcis.validation import event_list
from tests.conftest import SHARED
from tests.verifier.conftest import AppFactory, running
from tests.verifier.test_epcis_hashing import reference, reference_json
from tests.verifier.test_epcis_rest import Rest

EXAMPLES = sorted(
    p.name for p in (SHARED / "epcis").glob("*.jsonld") if "context" not in p.name
) or ["(none)"]
INSTANCE_PARAMETERS = {
    "epcList": ("MATCH_epc", "MATCH_anyEPC"),
    "childEPCs": ("MATCH_epc", "MATCH_anyEPC"),
    "inputEPCList": ("MATCH_inputEPC", "MATCH_anyEPC"),
    "outputEPCList": ("MATCH_outputEPC", "MATCH_anyEPC"),
}
CLASS_PARAMETERS = {
    "quantityList": ("MATCH_epcClass", "MATCH_anyEPCClass"),
    "childQuantityList": ("MATCH_epcClass", "MATCH_anyEPCClass"),
    "inputQuantityList": ("MATCH_inputEPCClass", "MATCH_anyEPCClass"),
    "outputQuantityList": ("MATCH_outputEPCClass", "MATCH_anyEPCClass"),
}


@pytest.fixture
def served(
    make_app: AppFactory, add_accounts: Callable[[FastAPI], dict[str, str]], world: Any
) -> Iterator[Rest]:
    app = make_app()
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield Rest(client, add_accounts(app), world)


def parameters_of(event: dict[str, Any]) -> list[dict[str, str]]:
    """One query per parameter the event has a value for; each must select the event."""
    moment = dt.datetime.fromisoformat(event["eventTime"])
    queries = [
        {"eventType": event["type"]},
        {"GE_eventTime": moment.isoformat()},
        {"LT_eventTime": (moment + dt.timedelta(milliseconds=1)).isoformat()},
        {"GE_recordTime": "2000-01-01T00:00:00Z"},
    ]
    for name in ("action", "bizStep", "disposition"):
        if name in event:
            queries.append({f"EQ_{name}": event[name]})
    for name in ("readPoint", "bizLocation"):
        if name in event:
            queries.append({f"EQ_{name}": event[name]["id"]})
    if "parentID" in event:
        queries += [{"MATCH_parentID": event["parentID"]}, {"MATCH_anyEPC": event["parentID"]}]
    for field, names in INSTANCE_PARAMETERS.items():
        queries += [{n: epc} for epc in event.get(field, []) for n in names]
    for field, names in CLASS_PARAMETERS.items():
        queries += [{n: q["epcClass"]} for q in event.get(field, []) for n in names]
    if "errorDeclaration" in event:
        queries.append({"EXISTS_errorDeclaration": ""})
        declared = event["errorDeclaration"]
        queries.append({"GE_errorDeclarationTime": declared["declarationTime"]})
        if "reason" in declared:
            queries.append({"EQ_errorReason": declared["reason"]})
    return queries


def _events(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return found


@pytest.mark.parametrize("name", EXAMPLES)
def test_gs1_example_captured_queried_exported_and_hashed(
    served: Rest, shared_dir: Path, name: str
) -> None:
    document = json.loads((shared_dir / "epcis" / name).read_text())
    events = event_list(document)
    job = served.capture(document, who="admin")
    assert job["success"], job["errors"]
    hashes = job["eventIDs"]
    assert len(hashes) == len(events)

    queried = 0
    for event, stored_hash in zip(events, hashes, strict=True):
        expected = event.get("eventID", stored_hash)
        by_id = _events(served.get("/epcis/events", "admin", params={"EQ_eventID": stored_hash}))
        assert [e["eventID"] for e in by_id] == [expected]
        one = served.get("/epcis/events/" + quote(stored_hash, safe=""), "admin")
        assert [e["eventID"] for e in _events(one)] == [expected]
        for params in parameters_of(event):
            found = _events(
                served.get("/epcis/events", "admin", params={**params, "perPage": "1000"})
            )
            assert expected in [e["eventID"] for e in found], (name, params)
            if "eventType" in params:
                assert {e["type"] for e in found} == {event["type"]}
            queried += 1
        assert _events(served.get(f"/epcis/eventTypes/{event['type']}/events", "admin"))
    assert queried >= 5 * len(events)

    schema = json.loads((shared_dir / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    for path in ("/epcis/events", "/v1/epcis/export"):
        exported = served.get(path, "admin", params={"perPage": "1000"} if "v1" not in path else {})
        assert [e.message for e in validator.iter_errors(exported.json())] == [], path
    # A brand sees none of the registry's events.
    assert _events(served.get("/epcis/events", "acme")) == []

    # The reference reads EPCISDocuments only, and keeps namespaces between documents.
    exported_events = _events(served.get("/epcis/events", "admin", params={"perPage": "1000"}))
    exported_events.sort(key=lambda e: hashes.index(_hash_of(e, document)))
    if document["type"] == "EPCISDocument":
        reference_json._namespaces.clear()
        assert reference(copy.deepcopy(document))[1] == hashes
    as_document = {
        "@context": document["@context"], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z", "epcisBody": {"eventList": exported_events},
    }  # fmt: skip
    reference_json._namespaces.clear()
    assert reference(as_document)[1] == hashes


def _hash_of(event: dict[str, Any], document: dict[str, Any]) -> str:
    return event_hash(event, context_namespaces(document["@context"]))
