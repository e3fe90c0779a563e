"""The officer app's routes: the shell and its headers, sign-in to a device token, the keys
to pin, and the idempotent upload of inspections made offline."""

from __future__ import annotations

import uuid

from sqlmodel import select

from keys.canonical import encode_public_key
from tests.mobile.conftest import NOW, Env
from verifier import console_auth
from verifier.db.models import Inspection

PASSWORD = "correct horse battery staple"


def _password(env: Env, name: str) -> None:
    with env.session() as session:
        console_auth.set_password(session, name, PASSWORD, now=env.clock())


def _sign_in(env: Env, name: str, password: str = PASSWORD) -> tuple[int, dict[str, object]]:
    response = env.client.post("/officer/api/sign-in", json={"name": name, "password": password})
    return response.status_code, response.json()


def test_the_shell_is_served_with_the_app_policy(env: Env) -> None:
    redirect = env.client.get("/officer", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (308, "/officer/")
    page = env.client.get("/officer/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert "worker-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert 'rel="manifest"' in page.text
    worker = env.client.get("/officer/sw.js")
    assert worker.headers["service-worker-allowed"] == "/officer/"
    assert worker.headers["content-security-policy"] == csp
    manifest = env.client.get("/officer/manifest.webmanifest").json()
    assert manifest["scope"] == "/officer/"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert env.client.get(icon["src"]).status_code == 200
    assert env.client.get("/officer/help").status_code == 200
    assert env.client.get("/officer/static/../routes.py").status_code == 404
    assert env.client.get("/officer/static/%2e%2e/routes.py").status_code == 404


def test_an_officer_signs_in_with_a_password_and_gets_a_device_token(env: Env) -> None:
    _password(env, "officer")
    status, body = _sign_in(env, "officer")
    assert status == 200
    assert body["role"] == "officer"
    assert body["registry_key"] == encode_public_key(env.world.registry.public_key())
    assert body["bundle_key"] == encode_public_key(env.world.bundle_key.public_key())
    auth = {"Authorization": f"Bearer {body['token']}"}
    assert env.client.get("/v1/offline-bundle", headers=auth).status_code == 200
    assert (
        env.client.get("/officer/api/keys", headers=auth).json()["bundle_key"] == body["bundle_key"]
    )
    # The console session the password check opened is closed: only the token remains.
    with env.session() as session:
        assert session.exec(select(console_auth.ConsoleSession)).all() == []
    assert env.client.post("/officer/api/sign-out", headers=auth).status_code == 204
    assert env.client.get("/v1/offline-bundle", headers=auth).status_code == 401


def test_sign_in_refuses_alike_a_wrong_password_an_unknown_name_and_a_brand(env: Env) -> None:
    _password(env, "officer")
    _password(env, "acme")
    answers = [_sign_in(env, "officer", "wrong password!"), _sign_in(env, "nobody"),
               _sign_in(env, "acme")]  # fmt: skip
    assert [status for status, _ in answers] == [401, 401, 401]
    assert len({str(body.get("detail")) for _, body in answers}) == 1
    assert all("token" not in body for _, body in answers)


def test_sign_in_is_locked_after_repeated_failures_and_wants_json(env: Env) -> None:
    _password(env, "officer")
    statuses = [_sign_in(env, "officer", f"wrong password {i}")[0] for i in range(6)]
    assert statuses == [401] * 5 + [429]
    assert _sign_in(env, "officer")[0] == 429  # even the right password, until the window ends
    form = env.client.post("/officer/api/sign-in", data={"name": "officer", "password": PASSWORD})
    assert form.status_code in (415, 422)


def test_the_keys_are_for_officers_only(env: Env) -> None:
    assert env.client.get("/officer/api/keys").status_code == 401
    assert env.client.get("/officer/api/keys", headers=env.auth("acme")).status_code == 403
    assert env.client.get("/officer/api/keys", headers=env.auth("admin")).status_code == 200


def _scan(env: Env, serial: str, who: str = "officer") -> str:
    scan_id = str(uuid.uuid4())
    item = {"scan_id": scan_id, "code": env.sign(serial), "scanned_at": NOW.isoformat(),
            "device_id": "officer-app:test"}  # fmt: skip
    response = env.client.post("/v1/scans:batch", json={"scans": [item]}, headers=env.auth(who))
    assert response.json()["results"][0]["status"] == 200, response.text
    return scan_id


def test_inspections_upload_once_per_scan_and_a_bad_item_fails_alone(env: Env) -> None:
    env.register(["INS-1", "INS-2"])
    first, second = _scan(env, "INS-1"), _scan(env, "INS-2")
    others = _scan(env, "INS-2", who="admin")
    at = {"inspected_at": "2026-03-01T12:00:00Z"}
    items = [
        {"scan_id": first, "outcome": "seized", "quantity": 3, "notes": "in a van", **at},
        {"scan_id": str(uuid.uuid4()), "outcome": "released", **at},
        {"scan_id": second, "outcome": "burnt", **at},
        {"scan_id": others, "outcome": "released", **at},
        {"scan_id": second, "outcome": "detained", **at},
    ]
    url = "/officer/api/inspections:batch"
    answer = env.client.post(url, json={"inspections": items}, headers=env.auth("officer")).json()
    assert [r["status"] for r in answer["results"]] == [200, 404, 400, 403, 200]
    assert answer["results"][0]["inspection"]["seizure_url"].startswith("/v1/seizures/")
    again = env.client.post(url, json={"inspections": items}, headers=env.auth("officer")).json()
    assert [r.get("inspection") for r in again["results"]] == [
        r.get("inspection") for r in answer["results"]
    ]
    with env.session() as session:
        rows = session.exec(select(Inspection.scan_id, Inspection.outcome)).all()
    assert sorted(rows) == sorted([(first, "seized"), (second, "detained")])
    assert env.client.post(url, json={"inspections": items[:1]}).status_code == 401
    brand = env.client.post(url, json={"inspections": items[:1]}, headers=env.auth("acme"))
    assert brand.status_code == 403
