"""The HTTP surface: problem+json for every bad input, tokens, trust list, health, OpenAPI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import select

from verifier.db.models import Scan

if TYPE_CHECKING:
    from tests.verifier.conftest import AppFactory, Env

PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int) -> dict[str, object]:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert isinstance(body, dict)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


MALFORMED_BODIES = [
    b"{not json",
    b"[]",
    b'{"code": 42}',
    b'{"code": ""}',
    b'{"code": "' + b"A" * 3000 + b'"}',
    b'{"code": "x", "country": "Germany"}',
    b'{"code": "x", "country": "de"}',
    b'{"code": "x", "location": {"lat": 91, "lon": 0}}',
    b'{"code": "x", "location": {"lat": 0, "lon": -180.5}}',
    b'{"code": "x", "location": {"lat": "north", "lon": 0}}',
    b'{"code": "x", "location": {"lat": NaN, "lon": 0}}',
    b'{"code": "x", "scanned_at": "yesterday"}',
    b'{"code": "x", "scanned_at": "2026-03-01T10:00:00"}',
    b'{"code": "x", "scan_id": "not-a-uuid"}',
    b'{"code": "x", "surprise": 1}',
]


def test_malformed_verify_bodies_are_422_problems(env: Env) -> None:
    # One app per database for all cases: the cases need no fresh state.
    for body in MALFORMED_BODIES:
        response = env.client.post(
            "/v1/verify", content=body, headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 422)


BAD_CODES = [
    "garbage",
    "https://id.example.com/01/12345678901234/21/ABC",  # wrong check digit
    "https://id.example.com/01/09506000000428",  # no serial
    "(01)09506000000428(21)",  # empty serial
    "]Q1" + "\x00" * 10,
]


def test_bad_codes_are_400_with_a_clear_message(env: Env) -> None:
    for code in BAD_CODES:
        for path in ("/v1/verify", "/v1/verify-only"):
            body = assert_problem(env.client.post(path, json={"code": code}), 400)
            assert isinstance(body["detail"], str)
            assert body["detail"], code
    with env.session() as session:
        assert session.exec(select(Scan)).all() == []


def test_scan_in_the_future_is_refused(env: Env) -> None:
    response = env.verify(env.sign("F1"), scanned_at="2026-03-05T00:00:00Z")
    assert_problem(response, 400)


def test_oversized_body_is_413(env: Env) -> None:
    body = json.dumps({"code": "x", "device_id": "d" * 70_000}).encode()
    response = env.client.post(
        "/v1/verify", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


def test_chunked_oversized_body_is_413(env: Env) -> None:
    def chunks() -> object:
        for _ in range(100):
            yield b"x" * 1024

    response = env.client.post(
        "/v1/verify",
        content=chunks(),
        headers={"Content-Type": "application/json"},  # type: ignore[arg-type]
    )
    assert_problem(response, 413)


def test_bad_credentials_are_401_never_anonymous(env: Env) -> None:
    for authorization in ("Bearer st_nope", "Bearer nonsense", "Basic dXNlcjpwdw==", "Bearer"):
        response = env.client.post(
            "/v1/verify", json={"code": env.sign("A1")}, headers={"Authorization": authorization}
        )
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "st_" not in str(body["detail"])


def test_revoked_token_is_refused(env: Env) -> None:
    from verifier.accounts import revoke

    with env.session() as session:
        assert revoke(session, env.tokens["officer"][:10], now=env.clock()) == 1
    assert_problem(env.verify(env.sign("A1"), "officer"), 401)
    assert env.verify(env.sign("A1"), "acme").status_code == 200


def test_unknown_route_and_method_are_problems(env: Env) -> None:
    assert_problem(env.client.get("/v1/nothing-here"), 404)
    assert_problem(env.client.get("/v1/verify"), 405)


def test_every_response_carries_a_request_id(env: Env) -> None:
    assert len(env.client.get("/healthz").headers["x-request-id"]) == 32
    echoed = env.client.get("/healthz", headers={"X-Request-ID": "trace-1"})
    assert echoed.headers["x-request-id"] == "trace-1"


def test_health_and_readiness(env: Env) -> None:
    assert env.client.get("/healthz").text == "ok"
    assert env.client.get("/readyz").json() == {"status": "ready", "trust_list_version": 1}


def test_trust_list_is_served_with_etag_and_304(env: Env) -> None:
    first = env.client.get("/v1/trust-list")
    assert first.content == env.world.trust_list.to_signed_json()
    etag = first.headers["etag"]
    again = env.client.get("/v1/trust-list", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_admin_installs_newer_trust_list_and_rollback_is_refused(env: Env) -> None:
    v2 = env.world.build(2).to_signed_json()
    put = env.client.put("/v1/trust-list", content=v2, headers=env.auth("admin"))
    assert put.json() == {"version": 2, "installed": True}
    assert env.client.get("/v1/trust-list").content == v2
    same = env.client.put("/v1/trust-list", content=v2, headers=env.auth("admin"))
    assert same.json() == {"version": 2, "installed": False}
    old = env.world.trust_list.to_signed_json()
    body = assert_problem(
        env.client.put("/v1/trust-list", content=old, headers=env.auth("admin")), 409
    )
    assert "older" in str(body["detail"])


def test_trust_list_not_signed_by_the_registry_is_refused(env: Env) -> None:
    signed = json.loads(env.world.build(3).to_signed_json())
    signed["signed"]["version"] = 4
    forged = json.dumps(signed).encode()
    assert_problem(env.client.put("/v1/trust-list", content=forged, headers=env.auth("admin")), 400)
    assert_problem(env.client.put("/v1/trust-list", content=b"{}", headers=env.auth("admin")), 400)


def test_only_admins_install_trust_lists(env: Env) -> None:
    v2 = env.world.build(2).to_signed_json()
    for who, status in (("acme", 403), ("officer", 403), (None, 401)):
        assert_problem(env.client.put("/v1/trust-list", content=v2, headers=env.auth(who)), status)
    assert env.client.get("/readyz").json()["trust_list_version"] == 1


def test_openapi_documents_verify_with_examples(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    verify = spec["paths"]["/v1/verify"]["post"]
    assert "examples" in verify["responses"]["200"]["content"]["application/json"]
    assert set(verify["responses"]) >= {"200", "400", "401", "403", "409", "413", "422", "503"}
    assert spec["components"]["schemas"]["VerifyIn"]["examples"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_a_restart_keeps_the_newest_stored_list_over_an_older_file(env: Env) -> None:
    from fastapi.testclient import TestClient

    from http_api.app import create_app

    v2 = env.world.build(2).to_signed_json()
    env.client.put("/v1/trust-list", content=v2, headers=env.auth("admin"))
    restarted = create_app(env.settings, clock=env.clock)  # the file still holds version 1
    with TestClient(restarted) as client:
        assert client.get("/readyz").json()["trust_list_version"] == 2
        assert client.get("/v1/trust-list").content == v2


def test_a_trust_list_file_not_signed_by_the_registry_key_is_not_served(
    make_app: AppFactory, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from keys.sample import sample_hierarchy

    foreign = tmp_path / "foreign.json"
    foreign.write_bytes(
        sample_hierarchy(datetime(2026, 3, 1, tzinfo=UTC)).trust_list.to_signed_json()
    )
    with TestClient(make_app(trust_list=foreign)) as client:
        assert_problem(client.get("/readyz"), 503)
        assert_problem(client.post("/v1/verify", json={"code": "(01)09506000000428(21)A"}), 503)


def test_the_encoded_answer_is_the_answer_with_hidden_sections_left_out() -> None:
    # The verify routes send to_json_bytes(); other callers use to_json(): one answer.
    from http_api.routes_verify import AUTHENTIC_EXAMPLE, OFFICER_EXAMPLE
    from verifier.schemas import VerifyOut

    bare = {**AUTHENTIC_EXAMPLE, "product": {"gtin": "09506000134352", "serial": "S1"}}
    for example in (AUTHENTIC_EXAMPLE, OFFICER_EXAMPLE, bare):
        answer = VerifyOut.model_validate(example)
        encoded = json.loads(answer.to_json_bytes())
        assert encoded == answer.to_json()
        assert "history" not in encoded or example is OFFICER_EXAMPLE
    product = json.loads(VerifyOut.model_validate(bare).to_json_bytes())["product"]
    assert product == {"gtin": "09506000134352", "serial": "S1", "lot": None, "expiry": None,
                       "brand": None}  # fmt: skip
