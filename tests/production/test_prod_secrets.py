"""No private key material in logs, errors or answers.

The app runs with a trust list, codes signed by the line keys and offline bundles signed
by a bundle key; every log record (DEBUG and up, every logger) and every answer is searched
for each private key in the forms it could leak in: raw bytes as hex, base64 and base64url,
the PKCS#8 DER as hex and base64, and every line of the PEM body.
"""

from __future__ import annotations

import base64
import logging
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from tests.production.conftest import Env, EnvFactory


def leak_forms(key: Ed25519PrivateKey) -> list[str]:
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    b64 = base64.b64encode(raw).decode().rstrip("=")
    b64url = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    encoded = [raw.hex(), raw.hex().upper(), b64, b64url, der.hex(), base64.b64encode(der).decode()]
    return encoded + body


def test_no_key_material_in_logs_or_answers(
    sqlite_url: str, make_env: EnvFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bundle_key = Ed25519PrivateKey.generate()
    caplog.set_level(logging.DEBUG)
    env: Env = make_env(sqlite_url, bundle_signer=bundle_key, log_format="json")
    answers: list[str] = []

    def keep(text: str) -> None:
        answers.append(text)

    env.register([f"K{i}" for i in range(5)])
    for i in range(5):
        keep(env.client.post("/v1/verify", json={"code": env.sign(f"K{i}")}).text)
    for who in ("officer", "acme", "admin"):
        keep(
            env.client.post("/v1/verify", json={"code": env.sign("K1")}, headers=env.auth(who)).text
        )
    keep(env.client.post("/v1/verify", json={"code": env.sign("UNREG")}).text)  # an alert
    keep(env.client.post("/v1/verify", json={"code": "garbage"}).text)
    keep(env.client.post("/v1/verify", json={"code": env.sign("K1") + "0"}).text)
    keep(env.client.post("/v1/verify", json={"nope": 1}).text)
    keep(env.client.post("/v1/verify", headers={"Authorization": "Bearer st_bad"}, json={}).text)
    keep(env.client.get("/v1/offline-bundle", headers=env.auth("officer")).text)
    keep(env.client.get("/v1/offline-bundle/key", headers=env.auth("officer")).text)
    keep(env.client.get("/v1/trust-list").text)
    keep(env.client.put("/v1/trust-list", content=b"{}", headers=env.auth("admin")).text)
    keep(env.client.get("/openapi.json").text)
    scans = [{"scan_id": str(uuid.uuid4()), "code": env.sign("K2")}, {"scan_id": "x"}]
    keep(
        env.client.post("/v1/scans:batch", json={"scans": scans}, headers=env.auth("officer")).text
    )
    assert len(answers) == 19
    assert any("authentic" in a for a in answers)

    logs = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    assert "verify" in logs  # the search below looks at real log output
    keys = {"bundle": bundle_key, "registry": env.world.registry}
    keys.update({f"root {b}": k for b, k in env.world.roots.items()})
    keys.update({f"line {b}": k for b, k in env.world.lines.items()})
    for name, key in keys.items():
        for form in leak_forms(key):
            assert form not in logs, f"{name} key material in the logs"
            for answer in answers:
                assert form not in answer, f"{name} key material in an answer"
