"""GS1-Conformant Resolver 1.2 requirements, one test each, against a real uvicorn server.
Every test counts scan rows: only a real verification records one."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from jsonschema import Draft7Validator, FormatChecker

from authn.digital_link import compress_digital_link, parse_digital_link
from authn.dl_compression import compress_ais
from mobile_api.linkset import resolver_description
from tests.mobile.conftest import ACME_GTIN, LiveServer, http
from tests.mobile.test_mobile_page import HTML, path_of, scans

LINKSET = "application/linkset+json"
CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"


def unit_path(live: LiveServer, serial: str, **fields: str) -> str:
    live.env.register([serial], lot=fields.get("lot"))
    return path_of(live.env.sign(serial, **fields))  # type: ignore[arg-type]


def test_get_records_one_scan_and_links_to_the_linkset(live_server: LiveServer) -> None:
    path = unit_path(live_server, "R-GET1")
    with http(live_server.base_url) as client:
        response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json()["verdict"] == "authentic"
    assert 'rel="linkset"' in response.headers["link"]
    assert "linkType=linkset" in response.headers["link"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert len(scans(live_server.env)) == 1


def test_head_answers_like_get_and_records_nothing(live_server: LiveServer) -> None:
    path = unit_path(live_server, "R-HEAD1")
    with http(live_server.base_url) as client:
        response = client.head(path, headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'rel="linkset"' in response.headers["link"]
    assert response.content == b""
    assert scans(live_server.env) == []


def test_options_and_cors_preflight_record_nothing(live_server: LiveServer) -> None:
    path = unit_path(live_server, "R-OPT1")
    preflight = {
        "Origin": "https://partner.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "accept",
    }
    with http(live_server.base_url) as client:
        response = client.options(path, headers=preflight)
        plain = client.options(path)
    for answer in (response, plain):
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "GET" in answer.headers["access-control-allow-methods"]
        assert "HEAD" in answer.headers["allow"]
    assert "accept" in response.headers["access-control-allow-headers"].lower()
    assert scans(live_server.env) == []


@pytest.mark.parametrize(
    "bad",
    [
        f"/01/{ACME_GTIN[:-1]}0/21/X1",  # bad check digit
        f"/01/{ACME_GTIN}/21/X1?17=261332",  # bad date
        f"/01/{ACME_GTIN}/21/X1/10/L1",  # qualifiers out of order
        f"/01/{ACME_GTIN}/21/X1?99999=1",  # unknown AI
        f"/01/{ACME_GTIN}/21/X1/extra",  # extra path segment
    ],
)
def test_invalid_digital_link_is_400(live_server: LiveServer, bad: str) -> None:
    with http(live_server.base_url) as client:
        response = client.get(bad, headers={"Accept": "application/json"})
        page = client.get(bad, headers=HTML)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert page.status_code == 400
    assert scans(live_server.env) == []


@pytest.mark.parametrize(
    "unserved",
    [
        "/00/095060001343520000",  # an SSCC
        "/414/9506000134352",  # a GLN
        f"/01/{ACME_GTIN}",  # a GTIN without a serial
        "/01/04006381333931/21/X1",  # a GTIN of no brand in the trust list
    ],
)
def test_valid_but_unserved_digital_link_is_404(live_server: LiveServer, unserved: str) -> None:
    with http(live_server.base_url) as client:
        response = client.get(unserved, headers={"Accept": "application/json"})
    assert response.status_code == 404, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert scans(live_server.env) == []


@pytest.mark.parametrize(
    ("query", "headers"),
    [("&linkType=linkset", {}), ("&linkType=all", {}), ("", {"Accept": LINKSET})],
)
def test_linkset_by_parameter_and_by_accept(
    live_server: LiveServer, query: str, headers: dict[str, str]
) -> None:
    path = unit_path(live_server, "R-LS1", lot="L7", expiry="271231")
    with http(live_server.base_url) as client:
        response = client.get(path + query, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == LINKSET
    assert f"<{CONTEXT}>" in response.headers["link"]
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in response.headers["link"]
    contexts = response.json()["linkset"]
    anchors = [urlsplit(c["anchor"]).path for c in contexts]
    # Every level up to the primary key (the query attribute 17 is its own level).
    assert anchors == [
        f"/01/{ACME_GTIN}/10/L7/21/R-LS1",
        f"/01/{ACME_GTIN}/10/L7/21/R-LS1",
        f"/01/{ACME_GTIN}/10/L7",
        f"/01/{ACME_GTIN}",
    ]
    assert "17=271231" in contexts[0]["anchor"]
    assert all("8030=" not in c["anchor"] for c in contexts)
    for context in contexts:
        for rel, links in context.items():
            if rel == "anchor":
                continue
            assert rel.startswith("https://gs1.org/voc/")
            assert all(link["title"] and link["href"] for link in links), (rel, links)
    assert "https://gs1.org/voc/defaultLink" in contexts[0]
    assert scans(live_server.env) == []


@pytest.mark.parametrize("link_type", ["gs1:pip", "https://gs1.org/voc/pip", "gs1:defaultLink"])
def test_served_link_types_redirect_with_the_query_passed_on(
    live_server: LiveServer, link_type: str
) -> None:
    path = unit_path(live_server, "R-PIP1", lot="L3")
    with http(live_server.base_url) as client:
        response = client.get(path + f"&linkType={link_type}&lang=fr", headers=HTML)
        assert response.status_code == 307
        location = response.headers["location"]
        query = dict(parse_qsl(urlsplit(location).query))
        assert "linkType" not in query
        assert urlsplit(location).path == f"/01/{ACME_GTIN}/10/L3/21/R-PIP1"
        assert query["lang"] == "fr"
        assert "8030" in query
        assert scans(live_server.env) == []  # the redirect is not a scan
        page = client.get(location, headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-language"] == "fr"
    assert 'data-verdict="authentic"' in page.text
    assert len(scans(live_server.env)) == 1


def test_unavailable_link_type_is_404(live_server: LiveServer) -> None:
    path = unit_path(live_server, "R-CERT1")
    with http(live_server.base_url) as client:
        response = client.get(path + "&linkType=gs1:certificationInfo")
    assert response.status_code == 404
    assert scans(live_server.env) == []


# GS1's JSON schema for resolver description files, GS1-Conformant Resolver 1.2.0
# (https://ref.gs1.org/standards/resolver/1.2.0/description-file-schema): the
# properties down to supportedLinkType as published (descriptions left out);
# linkTypeDefaultCanBeLinkset (boolean), the optional fields after it and the two
# required fields (resolverRoot, supportedPrimaryKeys) written from the standard's
# field list.
DESCRIPTION_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "https://ref.gs1.org/standards/resolver/1.2.0/description-file-schema",
    "type": "object",
    "properties": {
        "resolverRoot": {"type": "string", "format": "uri"},
        "supportedPrimaryKeys": {
            "type": "array",
            "items": {
                "type": "string",
                "enum": [
                    "all", "01", "8006", "8013", "8010", "410", "411", "412", "413", "414",
                    "415", "417", "8017", "8018", "255", "00", "253", "401", "402", "8003",
                    "8004",
                ],
            },
        },
        "name": {"type": "string"},
        "supportedLinkType": {
            "type": "array",
            "items": {
                "properties": {
                    "namespace": {"type": "string", "format": "uri"},
                    "prefix": {"type": "string", "pattern": "^[a-zA-Z_][A-Za-z0-9_-]*?:$"},
                }
            },
        },
        "linkTypeDefaultCanBeLinkset": {"type": "boolean"},
        "supportedContextValuesEnumerated": {"type": "array", "items": {"type": "string"}},
        "supportedContextValuesExternal": {"type": "array", "items": {"type": "object"}},
        "jsonLdContextLocation": {"type": "string", "format": "uri"},
        "contact": {"type": "object"},
    },
    "required": ["resolverRoot", "supportedPrimaryKeys"],
}  # fmt: skip

# jsonschema checks "uri" only with an optional package; an absolute http(s) URL is
# what the resolver's fields hold, so check that here.
URI_FORMAT = FormatChecker()


@URI_FORMAT.checks("uri")
def _absolute_url(value: object) -> bool:
    parts = urlsplit(str(value))
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def description_errors(document: object) -> list[str]:
    validator = Draft7Validator(DESCRIPTION_SCHEMA, format_checker=URI_FORMAT)
    return [error.message for error in validator.iter_errors(document)]


def test_resolver_description_document(live_server: LiveServer) -> None:
    with http(live_server.base_url) as client:
        response = client.get("/.well-known/gs1resolver")
    assert response.status_code == 200
    body = response.json()
    assert description_errors(body) == []
    assert body["resolverRoot"] == live_server.base_url
    assert body["supportedPrimaryKeys"] == ["01"]
    assert {"namespace": "https://gs1.org/voc/", "prefix": "gs1:"} in body["supportedLinkType"]
    assert body["linkTypeDefaultCanBeLinkset"] is False
    assert body["jsonLdContextLocation"] == CONTEXT
    assert response.headers["access-control-allow-origin"] == "*"
    assert scans(live_server.env) == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"supportedPrimaryKeys": ["gtin"]}, "is not one of"),
        ({"resolverRoot": "id.example"}, "is not a 'uri'"),
        ({"supportedLinkType": [{"namespace": "https://gs1.org/voc/", "prefix": "gs1"}]}, "match"),
        ({"linkTypeDefaultCanBeLinkset": "no"}, "is not of type 'boolean'"),
        ({"resolverRoot": None}, "is not of type 'string'"),
    ],
)
def test_description_schema_refuses_what_gs1_refuses(change: dict[str, Any], words: str) -> None:
    document = {**resolver_description("https://id.example"), **change}
    assert any(words in message for message in description_errors(document))
    assert description_errors(resolver_description("https://id.example")) == []


def test_brand_scoping_is_kept_on_the_resolver(live_server: LiveServer) -> None:
    path = unit_path(live_server, "R-ROLE1")
    with http(live_server.base_url) as client:
        bad_token = client.get(path, headers={"Authorization": "Bearer st_nope"})
        officer = client.get(path, headers=live_server.env.auth("officer"))
    assert bad_token.status_code == 401
    assert officer.status_code == 200
    assert "history" in officer.json()  # the officer's view, as on POST /v1/verify
    assert [s.role for s in scans(live_server.env)] == ["officer"]


# --- compressed Digital Links -------------------------------------------------------


def compressed_path(live: LiveServer, serial: str, *, partly: bool = False, **fields: str) -> str:
    """A signed unit's Digital Link in GS1's compressed form (the label's QR code could
    carry either); ``partly`` keeps the GTIN uncompressed in the path."""
    link = parse_digital_link("https://id.example.com" + unit_path(live, serial, **fields))
    if not partly:
        return path_of(compress_digital_link(link.ais, "https://id.example.com"))
    rest = [(ai, value) for ai, value in link.ais if ai != "01"]
    return f"/01/{ACME_GTIN}/{compress_ais(rest)}"


def same_as(response_link: str) -> str:
    """The target of the rel="owl:sameAs" entry of a Link header."""
    entry = next(e for e in response_link.split(", <") if 'rel="owl:sameAs"' in e)
    return entry.lstrip("<").split(">")[0]


@pytest.mark.parametrize("partly", [False, True])
def test_compressed_link_is_served_as_the_uncompressed_one(
    live_server: LiveServer, partly: bool
) -> None:
    path = compressed_path(live_server, f"R-CMP{int(partly)}", partly=partly, lot="L9")
    with http(live_server.base_url) as client:
        response = client.get(path, headers={"Accept": "application/json"})
        page = client.get(path, headers=HTML)
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "authentic"
    assert page.status_code == 200
    assert 'data-verdict="authentic"' in page.text
    # The uncompressed URI, every AI in the path or query, signature included.
    uncompressed = same_as(response.headers["link"])
    assert urlsplit(uncompressed).path == f"/01/{ACME_GTIN}/10/L9/21/R-CMP{int(partly)}"
    assert "8030=" in uncompressed
    assert (
        parse_digital_link(uncompressed).ais == parse_digital_link(live_server.base_url + path).ais
    )
    assert 'rel="linkset"' in response.headers["link"]
    assert len(scans(live_server.env)) == 2  # one verification each, like any label URL


def test_compressed_link_answers_head_and_options_and_records_nothing(
    live_server: LiveServer,
) -> None:
    path = compressed_path(live_server, "R-CMPH")
    with http(live_server.base_url) as client:
        head = client.head(path, headers=HTML)
        options = client.options(path)
    assert head.status_code == 200
    assert head.content == b""
    assert urlsplit(same_as(head.headers["link"])).path.endswith("/21/R-CMPH")
    assert options.status_code == 204
    assert options.headers["access-control-allow-origin"] == "*"
    assert scans(live_server.env) == []


def test_compressed_linkset_carries_owl_same_as(live_server: LiveServer) -> None:
    path = compressed_path(live_server, "R-CMPLS", lot="L4")
    with http(live_server.base_url) as client:
        response = client.get(path + "?linkType=linkset")
        redirect = client.get(path + "?linkType=gs1:pip&lang=fr", headers=HTML)
    assert response.status_code == 200
    contexts = response.json()["linkset"]
    # Anchors are uncompressed Digital Links, the unit's context names its uncompressed URI.
    assert [urlsplit(c["anchor"]).path for c in contexts] == [
        f"/01/{ACME_GTIN}/10/L4/21/R-CMPLS",
        f"/01/{ACME_GTIN}/10/L4",
        f"/01/{ACME_GTIN}",
    ]
    same = contexts[0]["http://www.w3.org/2002/07/owl#sameAs"]
    assert same[0]["title"]
    assert urlsplit(same[0]["href"]).path == f"/01/{ACME_GTIN}/10/L4/21/R-CMPLS"
    assert all("http://www.w3.org/2002/07/owl#sameAs" not in c for c in contexts[1:])
    assert redirect.status_code == 307
    assert urlsplit(redirect.headers["location"]).path == path
    assert dict(parse_qsl(urlsplit(redirect.headers["location"]).query)) == {"lang": "fr"}
    assert scans(live_server.env) == []


@pytest.mark.parametrize(
    "bad",
    [
        "/DBHKVAdpQgowOQ_",  # non-zero padding bits
        "/DBHKVAdpQg",  # ends inside the serial
        "/sAAAAAAAAAAAAAAAAAAA",  # unallocated code B0
        "/" + "A" * 11,  # ends inside an SSCC (12 would be SSCC 000000000000000000)
        "/" + compress_ais([("01", ACME_GTIN[:-1] + "0"), ("21", "X1")]),  # bad check digit
        "/" + compress_ais([("21", "X1"), ("17", "261231")]),  # no primary key
        f"/01/{ACME_GTIN}/" + compress_ais([("01", ACME_GTIN), ("21", "X1")]),  # GTIN twice
    ],
)
def test_malformed_compressed_link_is_400(live_server: LiveServer, bad: str) -> None:
    with http(live_server.base_url) as client:
        response = client.get(bad, headers={"Accept": "application/json"})
        page = client.get(bad, headers=HTML)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "compressed" in response.json()["detail"]
    assert response.headers["access-control-allow-origin"] == "*"
    assert page.status_code == 400
    assert scans(live_server.env) == []


def test_compressed_route_leaves_other_routes_alone(live_server: LiveServer) -> None:
    with http(live_server.base_url) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/officer").status_code == 308  # its own redirect to /officer/
        assert client.get("/v1/nothing-here").status_code == 404
