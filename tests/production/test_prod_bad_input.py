"""Hand-found bad input, each once a 500 (mostly on PostgreSQL, which refuses NUL in text):
now a 4xx with a problem+json body, on SQLite and PostgreSQL. In a batch only the bad item
fails, never its chunk."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.production.conftest import ACME_GTIN, Env, EnvFactory

NUL = "bad\x00text"


@pytest.fixture
def bad_env(database_url: str, make_env: EnvFactory) -> Env:
    env = make_env(database_url, anonymous_verify_limit=0)
    assert env.register(["BAD1", "BAD2"]).status_code == 200
    return env


def _is_4xx(response: Any, expected: int = 422) -> None:
    assert response.status_code == expected, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_nul_in_every_body_text_field_is_422(bad_env: Env) -> None:
    env = bad_env
    code = env.sign("BAD1")
    cases: list[tuple[str, str, dict[str, Any], str | None]] = [
        ("POST", "/v1/verify", {"code": code, "device_id": NUL}, None),
        ("POST", f"/v1/codes/{ACME_GTIN}/BAD1/status", {"status": "sold", "comment": NUL}, "acme"),
        ("POST", f"/v1/lots/{ACME_GTIN}/L1/status", {"status": "recalled", "comment": NUL}, "acme"),
        ("PUT", f"/v1/markets/{ACME_GTIN}", {"markets": ["DE"], "batch_id": NUL}, "acme"),
        ("PUT", f"/v1/markets/{ACME_GTIN}", {"markets": ["D\x00"]}, "acme"),
        (
            "PUT",
            "/v1/brands/acme/webhook",
            {"url": "https://h.example/x", "secret": NUL * 5},
            "acme",
        ),
    ]
    body = {"batch_id": NUL, "gtin": ACME_GTIN, "key_id": env.world.certs["acme"].key_id,
            "intended_markets": [], "serials": ["X1"]}  # fmt: skip
    cases.append(("POST", "/v1/registrations", body, "acme"))
    cases.append(("POST", "/v1/registrations", {**body, "batch_id": "B", "serials": [NUL]}, "acme"))
    for method, path, payload, who in cases:
        response = env.client.request(method, path, json=payload, headers=env.auth(who))
        _is_4xx(response)
        detail = response.json()["detail"]
        assert "control characters" in detail or "pattern" in detail, (path, detail)


def test_nul_in_alert_comments_and_inspection_notes_is_422(bad_env: Env) -> None:
    env = bad_env
    verify = env.client.post(
        "/v1/verify", json={"code": env.sign("BAD2")}, headers=env.auth("officer")
    )
    scan_id = verify.json()["scan_id"]
    notes = env.client.post(
        f"/v1/scans/{scan_id}/inspection", json={"outcome": "released", "notes": NUL},
        headers=env.auth("officer"),
    )  # fmt: skip
    _is_4xx(notes)
    for action in ("acknowledge", "close"):
        response = env.client.post(
            f"/v1/alerts/1/{action}", json={"comment": NUL}, headers=env.auth("officer")
        )
        _is_4xx(response)


def test_nul_in_query_parameters_and_paths_is_422(bad_env: Env) -> None:
    env = bad_env
    officer = env.auth("officer")
    for path in (
        "/v1/alerts?brand=a%00b",
        "/v1/alerts?reason=%00",
        "/v1/events?bizStep=urn%3Aepcglobal%00",
        f"/v1/codes/{ACME_GTIN}/BAD%001",
        "/v1/alerts?brand=%ed%a0%80",  # a lone surrogate, percent-encoded
    ):
        _is_4xx(env.client.get(path, headers=officer if "codes" not in path else env.auth("acme")))


def test_out_of_range_values_are_4xx(bad_env: Env) -> None:
    env = bad_env
    officer = env.auth("officer")
    _is_4xx(env.client.get("/v1/alerts?before_id=2147483648", headers=officer))
    code = env.sign("BAD1")
    _is_4xx(
        env.client.post("/v1/verify", json={"code": code, "scanned_at": "0001-01-01T00:00:00Z"})
    )
    _is_4xx(env.client.post("/v1/verify", json={"code": code, "country": "ZZ"}, headers=officer))
    body = {"markets": ["ZZ"]}
    _is_4xx(env.client.put(f"/v1/markets/{ACME_GTIN}", json=body, headers=env.auth("acme")))
    deep = b"[" * 100_000 + b"]" * 100_000
    response = env.client.put(
        "/v1/trust-list",
        content=deep,
        headers={**env.auth("admin"), "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    shallow_but_deep = b'{"a":' * 200 + b"1" + b"}" * 200
    response = env.client.put(
        "/v1/trust-list", content=shallow_but_deep,
        headers={**env.auth("admin"), "Content-Type": "application/json"},
    )  # fmt: skip
    assert 400 <= response.status_code < 500, response.text


def test_a_bad_batch_item_fails_alone_never_its_chunk(bad_env: Env) -> None:
    env = bad_env
    code = env.sign("BAD1")

    def item(**extra: Any) -> dict[str, Any]:
        return {"code": code, "scan_id": str(uuid.uuid4()),
                "scanned_at": "2026-03-01T10:00:00Z", **extra}  # fmt: skip

    scans: list[Any] = [item() for _ in range(199)]
    scans.insert(10, item(device_id=NUL))
    scans.insert(20, item(scanned_at="0001-01-01T00:00:00Z"))
    scans.insert(30, "not an object")
    scans.insert(40, 42)
    response = env.client.post(
        "/v1/scans:batch", json={"scans": scans}, headers=env.auth("officer")
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    bad = {10, 20, 30, 40}
    assert [r["status"] for i, r in enumerate(results) if i in bad] == [422] * 4
    assert all(r["status"] == 200 for i, r in enumerate(results) if i not in bad)
    assert response.json()["accepted"] == len(scans) - 4


def test_an_admin_cannot_set_a_webhook_for_a_brand_that_does_not_exist(bad_env: Env) -> None:
    env = bad_env
    body = {"url": "https://hooks.example/in"}
    response = env.client.put(
        "/v1/brands/does-not-exist/webhook", json=body, headers=env.auth("admin")
    )
    _is_4xx(response, 404)
