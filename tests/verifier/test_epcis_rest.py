"""The EPCIS 2.0 REST binding (``/epcis``) against a running uvicorn: one test per query
parameter (what it selects and what it leaves out), the 400s, paging, the resources,
capture jobs, version headers and who may do what."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from jsonschema import Draft7Validator

from epcis.documents import epcis_document
from epcis.identifiers import identify, unit_uri
from http_api.app import create_app
from tests.verifier.conftest import (
    ACME_GTIN,
    ACME_GTIN_2,
    NOW,
    Clock,
    World,
    _empty_tables,
    create_accounts,
    make_settings,
    running,
)

T0 = dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC)
FACTORY = "urn:epc:id:sgln:9506000.00001.0"
WAREHOUSE = "urn:epc:id:sgln:9506000.00002.0"
CASE = "urn:epc:id:sscc:9506000.0000000001"
UNITS = [unit_uri(ACME_GTIN, f"U{i:02d}") for i in range(4)]
OUTPUT = unit_uri(ACME_GTIN_2, "U10")
LOT_IN = f"https://id.gs1.org/01/{ACME_GTIN}/10/L1"
LOT_OUT = f"https://id.gs1.org/01/{ACME_GTIN_2}/10/L2"
LOT_CHECKED = f"https://id.gs1.org/01/{ACME_GTIN}/10/L3"
QUERY_EXCEPTION = "epcisException:QueryParameterException"
# Every serial of ACME_GTIN as an EPC pattern: company prefix . indicator + item reference . *
PATTERN = f"urn:epc:idpat:sgtin:{ACME_GTIN[1:8]}.{ACME_GTIN[0]}{ACME_GTIN[8:13]}.*"


def _at(days: int) -> str:
    return (T0 + dt.timedelta(days=days)).isoformat().replace("+00:00", "Z")


def _event(label: str, kind: str, days: int, **fields: Any) -> dict[str, Any]:
    event = {"type": kind, "eventID": f"urn:uuid:00000000-0000-4000-8000-{label:0>12}"}
    event.update(eventTime=_at(days), eventTimeZoneOffset="+00:00", **fields)
    return event


def story() -> dict[str, Any]:
    """Six events, each the one (or one of few) a query parameter selects."""
    events = [
        _event("c0", "ObjectEvent", 0, action="ADD", epcList=UNITS, bizStep="commissioning",
               disposition="active", bizLocation={"id": FACTORY}),
        _event("a0", "AggregationEvent", 1, action="ADD", parentID=CASE, childEPCs=UNITS,
               bizStep="packing", bizLocation={"id": FACTORY}),
        # CBV 1.x URNs everywhere a CBV term goes: stored bare, queried in either spelling.
        _event("5", "ObjectEvent", 2, action="OBSERVE", epcList=[CASE],
               bizStep="urn:epcglobal:cbv:bizstep:shipping",
               disposition="urn:epcglobal:cbv:disp:in_transit", readPoint={"id": FACTORY},
               bizTransactionList=[{"type": "urn:epcglobal:cbv:btt:desadv",
                                    "bizTransaction": "urn:epcglobal:cbv:bt:9506000000015:1"}],
               sourceList=[{"type": "urn:epcglobal:cbv:sdt:location", "source": FACTORY}],
               destinationList=[{"type": "urn:epcglobal:cbv:sdt:location",
                                 "destination": WAREHOUSE}]),
        _event("e1", "ObjectEvent", 3, action="OBSERVE", epcList=[UNITS[1]],
               quantityList=[{"epcClass": LOT_CHECKED, "quantity": 2}], bizStep="inspecting",
               errorDeclaration={"declarationTime": _at(6),
                                 "reason": "urn:epcglobal:cbv:er:incorrect_data"}),
        _event("4", "ObjectEvent", 4, action="OBSERVE", epcList=[CASE], bizStep="receiving",
               bizLocation={"id": WAREHOUSE}),
        _event("7", "TransformationEvent", 5, inputEPCList=[UNITS[0]], outputEPCList=[OUTPUT],
               inputQuantityList=[{"epcClass": LOT_IN, "quantity": 1}],
               outputQuantityList=[{"epcClass": LOT_OUT, "quantity": 1}]),
    ]  # fmt: skip
    return epcis_document(events, created=T0)


LABELS = ["c0", "a0", "5", "e1", "4", "7"]


@dataclass
class Rest:
    client: httpx.Client
    tokens: dict[str, str]
    world: World

    def auth(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, path: str, who: str | None = "acme", **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers={**self.auth(who), **kwargs.pop("headers", {})},
                               **kwargs)  # fmt: skip

    def capture(
        self, document: Any, who: str = "acme", headers: dict[str, str] | None = None, **params: str
    ) -> dict[str, Any]:
        """POST /epcis/capture, then the job once it has finished."""
        answer = self.client.post(
            "/epcis/capture", json=document, params=params,
            headers={**self.auth(who), **(headers or {})},
        )  # fmt: skip
        assert answer.status_code == 202, answer.text
        assert answer.headers["GS1-EPCIS-Version"] == "2.0"
        location = answer.headers["location"]
        assert location.startswith("/epcis/capture/")
        deadline = time.monotonic() + 30
        while True:
            job = self.get(location, who)
            assert job.status_code == 200, job.text
            if not job.json()["running"]:
                return dict(job.json())
            assert time.monotonic() < deadline, "the capture job did not finish"
            time.sleep(0.05)


def labels(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    events = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return [e.get("eventID", "").rsplit("-", 1)[-1].lstrip("0") for e in events]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def rest(
    request: pytest.FixtureRequest,
    world: World,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Rest]:
    """One server and one captured story for the whole module (the queries only read)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("epcis-rest") / "sealtrace.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        _empty_tables(url)
    clock = Clock(NOW)
    app = create_app(make_settings(url, world), clock=clock)
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        rest = Rest(client, create_accounts(app.state.services.engine, clock()), world)
        job = rest.capture(story())
        assert job["success"], job["errors"]
        yield rest


# -- one test per query parameter ----------------------------------------------------------------

PARAMETER_CASES: list[tuple[str, dict[str, str], list[str]]] = [
    ("eventType", {"eventType": "AggregationEvent"}, ["a0"]),
    ("eventType-alternatives", {"eventType": "AggregationEvent|TransformationEvent"}, ["a0", "7"]),
    ("GE_eventTime", {"GE_eventTime": _at(4)}, ["4", "7"]),
    ("LT_eventTime", {"LT_eventTime": _at(2)}, ["c0", "a0"]),
    ("GE_eventTime-offset", {"GE_eventTime": "2026-02-05T09:00:00+01:00"}, ["4", "7"]),
    ("GE_recordTime", {"GE_recordTime": NOW.isoformat()}, LABELS),
    ("LT_recordTime", {"LT_recordTime": NOW.isoformat()}, []),
    ("EQ_action", {"EQ_action": "ADD"}, ["c0", "a0"]),
    ("EQ_action-alternatives", {"EQ_action": "ADD|OBSERVE"}, ["c0", "a0", "5", "e1", "4"]),
    ("EQ_bizStep", {"EQ_bizStep": "shipping"}, ["5"]),
    ("EQ_bizStep-urn", {"EQ_bizStep": "urn:epcglobal:cbv:bizstep:shipping"}, ["5"]),
    ("EQ_bizStep-web-uri", {"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-receiving"}, ["4"]),
    ("EQ_bizStep-alternatives", {"EQ_bizStep": "shipping|receiving"}, ["5", "4"]),
    ("EQ_disposition", {"EQ_disposition": "in_transit"}, ["5"]),
    ("EQ_readPoint", {"EQ_readPoint": FACTORY}, ["5"]),
    ("EQ_readPoint-digital-link", {"EQ_readPoint": "https://id.gs1.org/414/9506000000015"}, ["5"]),
    ("EQ_bizLocation", {"EQ_bizLocation": WAREHOUSE}, ["4"]),
    ("MATCH_epc", {"MATCH_epc": UNITS[0]}, ["c0", "a0"]),
    ("MATCH_epc-pattern", {"MATCH_epc": PATTERN}, ["c0", "a0", "e1"]),
    ("MATCH_parentID", {"MATCH_parentID": CASE}, ["a0"]),
    ("MATCH_inputEPC", {"MATCH_inputEPC": UNITS[0]}, ["7"]),
    ("MATCH_outputEPC", {"MATCH_outputEPC": OUTPUT}, ["7"]),
    ("MATCH_outputEPC-not-input", {"MATCH_outputEPC": UNITS[0]}, []),
    ("MATCH_anyEPC", {"MATCH_anyEPC": CASE}, ["a0", "5", "4"]),
    ("MATCH_anyEPC-unit", {"MATCH_anyEPC": UNITS[0]}, ["c0", "a0", "7"]),
    ("MATCH_epcClass", {"MATCH_epcClass": LOT_CHECKED}, ["e1"]),
    ("MATCH_inputEPCClass", {"MATCH_inputEPCClass": LOT_IN}, ["7"]),
    ("MATCH_inputEPCClass-not-output", {"MATCH_inputEPCClass": LOT_OUT}, []),
    ("MATCH_outputEPCClass", {"MATCH_outputEPCClass": LOT_OUT}, ["7"]),
    ("MATCH_anyEPCClass", {"MATCH_anyEPCClass": f"{LOT_IN}|{LOT_CHECKED}"}, ["e1", "7"]),
    ("EQ_eventID", {"EQ_eventID": "urn:uuid:00000000-0000-4000-8000-000000000004"}, ["4"]),
    ("EXISTS_errorDeclaration", {"EXISTS_errorDeclaration": ""}, ["e1"]),
    ("GE_errorDeclarationTime", {"GE_errorDeclarationTime": _at(6)}, ["e1"]),
    ("LT_errorDeclarationTime", {"LT_errorDeclarationTime": _at(6)}, []),
    ("EQ_errorReason", {"EQ_errorReason": "incorrect_data"}, ["e1"]),
    ("EQ_errorReason-urn", {"EQ_errorReason": "urn:epcglobal:cbv:er:incorrect_data"}, ["e1"]),
    ("orderBy-default-DESC", {"orderBy": "eventTime"}, LABELS[::-1]),
    ("orderDirection-ASC", {"orderBy": "eventTime", "orderDirection": "ASC"}, LABELS),
    ("orderBy-recordTime", {"orderBy": "recordTime", "orderDirection": "ASC"}, LABELS),
    ("eventCountLimit", {"eventCountLimit": "2"}, ["c0", "a0"]),
    ("maxEventCount-enough", {"maxEventCount": "6"}, LABELS),
    ("combined", {"eventType": "ObjectEvent", "MATCH_anyEPC": CASE, "GE_eventTime": _at(3)}, ["4"]),
]


@pytest.mark.parametrize(
    ("params", "expected"), [c[1:] for c in PARAMETER_CASES], ids=[c[0] for c in PARAMETER_CASES]
)
def test_query_parameter(rest: Rest, params: dict[str, str], expected: list[str]) -> None:
    answer = rest.get("/epcis/events", params=params)
    assert answer.headers["GS1-EPCIS-Version"] == "2.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0"
    assert labels(answer) == expected


def test_eq_event_id_finds_the_hash_and_cbv_terms_are_exported_bare(rest: Rest) -> None:
    shipped = rest.get("/epcis/events", params={"EQ_bizStep": "shipping"})
    event = shipped.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]
    assert event["bizStep"] == "shipping"
    assert event["disposition"] == "in_transit"
    assert event["bizTransactionList"][0]["type"] == "desadv"
    assert event["sourceList"][0]["type"] == "location"
    declared = rest.get("/epcis/events", params={"EXISTS_errorDeclaration": ""})
    reason = declared.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]
    assert reason["errorDeclaration"]["reason"] == "incorrect_data"
    jobs = rest.get("/epcis/capture").json()
    hashes = jobs[-1]["eventIDs"]
    assert labels(rest.get("/epcis/events", params={"EQ_eventID": hashes[2]})) == ["5"]


def test_max_event_count_too_small_is_query_too_large(rest: Rest) -> None:
    answer = rest.get("/epcis/events", params={"maxEventCount": "5"})
    assert answer.status_code == 413
    assert answer.json()["type"] == "epcisException:QueryTooLargeException"


REFUSED: list[tuple[str, dict[str, str]]] = [
    ("unknown", {"foo": "bar"}),
    ("legacy-name", {"code": UNITS[0]}),
    ("unsupported-EQ_transformationID", {"EQ_transformationID": "urn:uuid:x"}),
    ("unsupported-WD_readPoint", {"WD_readPoint": FACTORY}),
    ("unsupported-EQ_quantity", {"EQ_quantity": "2"}),
    ("unsupported-extension-field", {"EQ_example:myField": "x"}),
    ("unsupported-EQ_bizTransaction", {"EQ_bizTransaction_desadv": "x"}),
    ("time-not-iso", {"GE_eventTime": "yesterday"}),
    ("time-without-zone", {"LT_eventTime": "2026-02-01T00:00:00"}),
    ("EQ_action-unknown", {"EQ_action": "JUMP"}),
    ("eventType-unknown", {"eventType": "TeleportEvent"}),
    ("empty-alternative", {"EQ_bizStep": "shipping|"}),
    ("MATCH_epc-bad-check-digit", {"MATCH_epc": "https://id.gs1.org/01/09506000134353/21/X"}),
    ("perPage-zero", {"perPage": "0"}),
    ("perPage-too-large", {"perPage": "5000"}),
    ("orderBy-unsupported", {"orderBy": "bizStep"}),
    ("orderDirection-unknown", {"orderBy": "eventTime", "orderDirection": "UP"}),
    ("eventCountLimit-and-maxEventCount", {"eventCountLimit": "1", "maxEventCount": "9"}),
    ("eventCountLimit-negative", {"eventCountLimit": "-1"}),
    ("EXISTS-with-value", {"EXISTS_errorDeclaration": "no"}),
    ("nextPageToken-forged", {"nextPageToken": "bm90LWEtdG9rZW4tYXQtYWxsLWZvcmdlZA"}),
]


@pytest.mark.parametrize("params", [c[1] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_bad_or_unsupported_parameter_is_query_parameter_exception(
    rest: Rest, params: dict[str, str]
) -> None:
    answer = rest.get("/epcis/events", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == QUERY_EXCEPTION
    assert answer.headers["GS1-EPCIS-Version"] == "2.0"


def test_a_parameter_given_twice_is_refused(rest: Rest) -> None:
    answer = rest.get("/epcis/events?EQ_bizStep=shipping&EQ_bizStep=receiving")
    assert answer.status_code == 400
    assert answer.json()["type"] == QUERY_EXCEPTION


def test_legacy_route_refuses_the_parameters_it_does_not_know(rest: Rest) -> None:
    answer = rest.get("/v1/epcis/events", params={"EQ_bizStep": "shipping"})
    assert answer.status_code == 400
    assert answer.json()["type"] == QUERY_EXCEPTION
    assert "/epcis/events" in answer.json()["detail"]
    assert answer.headers["GS1-EPCIS-Version"] == "2.0"
    assert rest.get("/v1/epcis/events", params={"bizStep": "shipping"}).status_code == 200


# -- paging ---------------------------------------------------------------------------------------


def _follow(rest: Rest, params: dict[str, str]) -> tuple[list[str], list[str]]:
    """Every page's labels, following ``Link: <...>; rel="next"``; and the links."""
    seen: list[str] = []
    links: list[str] = []
    answer = rest.get("/epcis/events", params=params)
    while True:
        seen += labels(answer)
        link = answer.headers.get("link")
        if link is None:
            return seen, links
        assert link.endswith('>; rel="next"')
        links.append(link[1 : link.index(">")])
        answer = rest.get(links[-1])


def test_per_page_and_next_page_token_walk_every_event_once(rest: Rest) -> None:
    pages, links = _follow(rest, {"perPage": "2"})
    assert pages == LABELS
    assert len(links) == 2
    descending, _ = _follow(rest, {"perPage": "4", "orderBy": "eventTime"})
    assert descending == LABELS[::-1]
    limited, _ = _follow(rest, {"perPage": "2", "eventCountLimit": "3"})
    assert limited == LABELS[:3]
    default = rest.get("/epcis/events")
    assert "link" not in default.headers  # 6 events, fewer than the default 30 per page


def test_next_page_token_is_bound_to_its_query_and_signed(rest: Rest) -> None:
    first = rest.get("/epcis/events", params={"perPage": "2"})
    token = httpx.URL(first.headers["link"][1:].split(">")[0]).params["nextPageToken"]
    other_query = rest.get("/epcis/events", params={"nextPageToken": token, "EQ_action": "ADD"})
    assert other_query.status_code == 400
    assert other_query.json()["type"] == QUERY_EXCEPTION
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    changed = rest.get("/epcis/events", params={"nextPageToken": tampered, "perPage": "2"})
    assert changed.status_code == 400
    # Another account's token: it belongs to another scope of events.
    as_officer = rest.get("/epcis/events", "officer", params={"nextPageToken": token})
    assert as_officer.status_code == 400


# -- resources ------------------------------------------------------------------------------------


def test_event_by_id_by_type_and_by_epc(rest: Rest) -> None:
    one = rest.get("/epcis/events/" + quote("urn:uuid:00000000-0000-4000-8000-000000000004"))
    assert labels(one) == ["4"]
    missing = rest.get("/epcis/events/urn:uuid:00000000-0000-4000-8000-000000000099")
    assert missing.status_code == 404
    assert missing.json()["type"] == "epcisException:NoSuchNameException"

    types = rest.get("/epcis/eventTypes")
    assert types.json()["type"] == "EventTypeItemList"
    assert types.json()["eventType"] == ["AggregationEvent", "ObjectEvent", "TransformationEvent"]
    assert rest.get("/epcis/eventTypes/ObjectEvent").json() == ["events"]
    assert rest.get("/epcis/eventTypes/TeleportEvent").status_code == 404
    assert labels(rest.get("/epcis/eventTypes/TransformationEvent/events")) == ["7"]
    shipping = rest.get("/epcis/eventTypes/ObjectEvent/events", params={"EQ_bizStep": "shipping"})
    assert labels(shipping) == ["5"]
    twice = rest.get("/epcis/eventTypes/ObjectEvent/events", params={"eventType": "ObjectEvent"})
    assert twice.status_code == 400
    assert twice.json()["type"] == QUERY_EXCEPTION

    assert labels(rest.get(f"/epcis/epcs/{CASE}/events")) == ["a0", "5", "4"]
    as_link = rest.get("/epcis/epcs/" + quote(UNITS[0], safe="") + "/events")
    assert labels(as_link) == ["c0", "a0", "7"]
    filtered = rest.get(f"/epcis/epcs/{CASE}/events", params={"EQ_bizStep": "receiving"})
    assert labels(filtered) == ["4"]
    assert rest.get(f"/epcis/epcs/{CASE}").json() == ["events"]
    bad = rest.get("/epcis/epcs/https://id.gs1.org/01/09506000134353/21/X/events")
    assert bad.status_code == 400


def test_epcs_lists_the_callers_epcs_paginated_and_brand_scoped(rest: Rest) -> None:
    # The story names four units, a case and a transformation output; its lots are
    # EPC classes (quantities), not EPCs.
    expected = sorted({*UNITS, identify(CASE).key, OUTPUT})
    answer = rest.get("/epcis/epcs")
    assert answer.status_code == 200, answer.text
    assert answer.headers["GS1-EPCIS-Version"] == "2.0"
    assert answer.json() == expected
    assert "link" not in answer.headers
    for key in expected:  # each is a resource whose events the caller can read
        assert labels(rest.get(f"/epcis/epcs/{quote(key, safe='')}/events")), key

    first = rest.get("/epcis/epcs", params={"perPage": "4"})
    assert first.json() == expected[:4]
    link = first.headers["link"]
    assert link.endswith('>; rel="next"')
    following = rest.get(link[1 : link.index(">")])
    assert following.json() == expected[4:]
    assert "link" not in following.headers

    # Another brand sees none of acme's EPCs, not even with acme's page token.
    assert rest.get("/epcis/epcs", "other").json() == []
    stolen = rest.get(link[1 : link.index(">")], "other")
    assert stolen.status_code == 400
    assert stolen.json()["type"] == QUERY_EXCEPTION
    assert rest.get("/epcis/epcs", "officer").json() == expected
    assert rest.get("/epcis/epcs", None).status_code == 401
    for params in ({"nextPageToken": "forged"}, {"MATCH_epc": UNITS[0]}, {"perPage": "0"}):
        refused = rest.get("/epcis/epcs", params=params)
        assert refused.status_code == 400, params
        assert refused.json()["type"] == QUERY_EXCEPTION
    options = rest.client.options("/epcis/epcs")
    assert options.status_code == 204
    assert options.headers["Allow"] == "OPTIONS, GET"


def test_discovery_and_version_headers(rest: Rest) -> None:
    top = rest.get("/epcis")
    assert top.status_code == 200
    assert set(top.json()) == {"capture", "events", "eventTypes", "epcs", "queries"}
    for path in ("/epcis", "/epcis/events", "/epcis/eventTypes", "/epcis/queries"):
        options = rest.client.options(path)
        assert options.status_code == 204, path
        assert options.headers["GS1-EPCIS-Version"] == "2.0"
        assert options.headers["GS1-CBV-Version"] == "2.0"
        assert options.headers["GS1-EPCIS-Max"] == "2.0"
        assert "GET" in options.headers["Allow"]
    capture = rest.client.options("/epcis/capture")
    assert capture.headers["Allow"] == "OPTIONS, POST, GET"
    assert capture.headers["GS1-EPCIS-Capture-Limit"] == "10000"
    assert int(capture.headers["GS1-EPCIS-Capture-File-Size-Limit"]) > 0
    assert capture.headers["GS1-Capture-Error-Behaviour"] == "rollback"

    old = rest.get("/epcis/events", headers={"GS1-EPCIS-Version": "1.2"})
    assert old.status_code == 406
    assert old.json()["type"] == "epcisException:ImplementationException"
    assert rest.get("/epcis/events", headers={"GS1-EPCIS-Min": "1.2"}).status_code == 200
    assert rest.get("/epcis/events", headers={"GS1-CBV-Max": "1.2"}).status_code == 406
    for path in ("/epcis/events", "/epcis/eventTypes", "/epcis/capture", "/v1/epcis/events"):
        answer = rest.get(path)
        assert answer.headers["GS1-EPCIS-Version"] == "2.0", path
    anonymous = rest.get("/epcis/events", None)
    assert anonymous.status_code == 401
    assert anonymous.json()["type"] == "epcisException:SecurityException"
    assert anonymous.headers["GS1-EPCIS-Version"] == "2.0"


def test_named_queries_are_answered_as_absent(rest: Rest) -> None:
    assert rest.get("/epcis/queries").json() == []
    created = rest.client.post(
        "/epcis/queries", json={"name": "q", "query": {}}, headers=rest.auth("acme")
    )
    assert created.status_code == 501
    assert created.json()["type"] == "epcisException:ImplementationException"
    assert rest.get("/epcis/queries/q").status_code == 404
    assert rest.get("/epcis/queries/q/events").status_code == 404


def test_exports_validate_against_the_schema(rest: Rest, shared_dir: Path) -> None:
    schema = json.loads((shared_dir / "epcis" / "EPCIS-JSON-Schema.json").read_text())
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    for path in ("/epcis/events", "/v1/epcis/export", "/v1/epcis/events"):
        answer = rest.get(path)
        assert answer.status_code == 200
        assert [e.message for e in validator.iter_errors(answer.json())] == [], path


# -- capture jobs and who may ---------------------------------------------------------------------


def test_capture_jobs_report_errors_and_proceed_keeps_the_good_events(rest: Rest) -> None:
    good = _event("b1", "ObjectEvent", 7, action="OBSERVE", epcList=[UNITS[2]],
                  bizStep="storing")  # fmt: skip
    bad = _event("b2", "ObjectEvent", 7, action="OBSERVE", epcList=[UNITS[3]],
                 bizStep="urn:epcglobal:cbv:bizstep:teleporting")  # fmt: skip
    document = epcis_document([good, bad], created=T0)
    refused = rest.capture(document)
    assert refused["success"] is False
    assert [(e["index"], e["type"]) for e in refused["errors"]] == [
        (1, "epcisException:ValidationException")
    ]
    assert "no term of the CBV" in refused["errors"][0]["detail"]
    assert labels(rest.get("/epcis/events", params={"EQ_bizStep": "storing"})) == []

    proceeded = rest.capture(document, headers={"GS1-Capture-Error-Behaviour": "proceed"})
    assert proceeded["success"] is False
    assert proceeded["captureErrorBehaviour"] == "proceed"
    assert len(proceeded["eventIDs"]) == 1
    assert labels(rest.get("/epcis/events", params={"EQ_bizStep": "storing"})) == ["b1"]

    again = rest.capture(epcis_document([good], created=T0))
    assert again["success"] is False
    assert "already captured" in again["errors"][0]["detail"]


def test_capture_refuses_at_once_what_is_no_document(rest: Rest) -> None:
    for body in (b"{", b"[]", json.dumps({"type": "EPCISDocument"}).encode()):
        answer = rest.client.post("/epcis/capture", content=body, headers=rest.auth("acme"))
        assert answer.status_code == 400, body
        assert answer.json()["type"] == "epcisException:ValidationException"
    behaviour = rest.client.post(
        "/epcis/capture", json=story(),
        headers={**rest.auth("acme"), "GS1-Capture-Error-Behaviour": "sometimes"},
    )  # fmt: skip
    assert behaviour.status_code == 400
    unknown = rest.client.post(
        "/epcis/capture", json=story(), params={"x": "1"}, headers=rest.auth("acme")
    )
    assert unknown.status_code == 400
    assert unknown.json()["type"] == QUERY_EXCEPTION


def test_who_may_capture_and_read_jobs(rest: Rest) -> None:
    assert rest.client.post("/epcis/capture", json=story()).status_code == 401
    as_officer = rest.client.post("/epcis/capture", json=story(), headers=rest.auth("officer"))
    assert as_officer.status_code == 403
    assert as_officer.json()["type"] == "epcisException:SecurityException"
    for_other = rest.client.post(
        "/epcis/capture", json=story(), params={"brand": "other"}, headers=rest.auth("acme")
    )
    assert for_other.status_code == 403
    foreign = rest.capture(story(), who="other")  # acme's GTINs under other's prefixes
    assert foreign["success"] is False
    assert len(foreign["errors"]) == 4  # every event naming an acme GTIN

    acme_jobs = rest.get("/epcis/capture").json()
    other_jobs = rest.get("/epcis/capture", "other").json()
    assert {j["captureID"] for j in acme_jobs}.isdisjoint({j["captureID"] for j in other_jobs})
    acme_job = acme_jobs[0]["captureID"]
    assert rest.get(f"/epcis/capture/{acme_job}", "other").status_code == 404
    assert rest.get(f"/epcis/capture/{acme_job}", "officer").status_code == 403
    assert rest.get(f"/epcis/capture/{acme_job}", "admin").status_code == 200
    assert rest.get("/epcis/capture/no-such-job").status_code == 404

    assert (
        rest.get("/epcis/events", "other").json()["epcisBody"]["queryResults"]["resultsBody"][
            "eventList"
        ]
        == []
    )
    assert rest.get("/epcis/eventTypes", "other").json()["eventType"] == []
    assert labels(rest.get(f"/epcis/epcs/{CASE}/events", "other")) == []
    assert labels(rest.get(f"/epcis/epcs/{CASE}/events", "officer")) == ["a0", "5", "4"]
    first = rest.get("/epcis/capture", params={"perPage": "1"})
    assert len(first.json()) == 1
    assert 'rel="next"' in first.headers["link"]
