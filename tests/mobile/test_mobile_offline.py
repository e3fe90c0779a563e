"""The offline kit: Bloom filter, signed bundle with ETag and deltas, the offline verifier
and its agreement with the server, and `sealtrace officer verify`."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from authn.errors import InvalidInput, TrustError
from mobile_api.bloom import BloomFilter, code_key, keys_of, optimal_size
from mobile_api.bundle import OfflineBundle, apply_delta, open_bundle
from mobile_api.offline import verify_offline
from sealtrace.cli.officer_cmd import app as officer_app
from tests.mobile.conftest import ACME_GTIN, Env, World


def test_bloom_filter_has_no_false_negatives_and_about_its_false_positive_rate() -> None:
    salt = b"salt1234"
    members = [(ACME_GTIN, f"M{i}") for i in range(5000)]
    bloom = BloomFilter.empty(5000, 10_000, salt)
    bloom.add_keys(keys_of(salt, members))
    assert all(bloom.might_contain(g, s) for g, s in members)
    false_hits = sum(bloom.might_contain(ACME_GTIN, f"N{i}") for i in range(50_000))
    assert false_hits / 50_000 < 0.02  # 1 % expected; twice that would mean a sizing bug
    m, k = optimal_size(10_000_000, 10_000)
    assert 9.5 < m / 10_000_000 < 9.7
    assert k == 7


def test_vectorised_and_scalar_insertion_set_the_same_bits() -> None:
    salt = secrets.token_bytes(8)
    codes = [(ACME_GTIN, f"S{i}") for i in range(300)]
    one_by_one = BloomFilter.empty(1024, 10_000, salt)
    for gtin, serial in codes:
        one_by_one.add_key(code_key(salt, gtin, serial))
    at_once = BloomFilter.empty(1024, 10_000, salt)
    at_once.add_keys(keys_of(salt, codes))
    assert one_by_one.bits == at_once.bits
    restored = BloomFilter.from_json(at_once.to_json())
    assert restored.bits == at_once.bits
    assert restored.might_contain(ACME_GTIN, "S7")


def fetch(env: Env, who: str = "officer", **headers: str) -> tuple[bytes, dict[str, str]]:
    response = env.client.get("/v1/offline-bundle", headers={**env.auth(who), **headers})
    assert response.status_code == 200, response.text
    return response.content, dict(response.headers)


def opened(env: Env, data: bytes) -> OfflineBundle:
    return open_bundle(
        data, registry_key=env.world.registry.public_key(),
        bundle_key=env.world.bundle_key.public_key(), now=env.clock(),
    )  # fmt: skip


def test_bundle_access_etag_and_signature(env: Env) -> None:
    assert env.client.get("/v1/offline-bundle").status_code == 401
    assert env.client.get("/v1/offline-bundle", headers=env.auth("acme")).status_code == 403
    data, headers = fetch(env)
    assert headers["x-bundle-kind"] == "full"
    again = env.client.get(
        "/v1/offline-bundle", headers={**env.auth("officer"), "If-None-Match": headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert fetch(env, "admin")[1]["etag"] == headers["etag"]
    bundle = opened(env, data)
    assert bundle.trust_list.version == 1
    assert bundle.version == headers["x-bundle-version"]
    key = env.client.get("/v1/offline-bundle/key", headers=env.auth("officer")).content
    assert key.startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(TrustError, match="bundle key"):
        open_bundle(
            data, registry_key=env.world.registry.public_key(),
            bundle_key=Ed25519PrivateKey.generate().public_key(), now=env.clock(),
        )  # fmt: skip
    tampered = data.replace(b'"recalled_lots":[]', b'"recalled_lots":[["x","y"]]')
    assert tampered != data
    with pytest.raises(TrustError):
        opened(env, tampered)


def test_delta_since_a_version_then_full_after_an_undo(env: Env) -> None:
    env.register(["D1", "D2"])
    base, headers = fetch(env)
    bundle = opened(env, base)
    assert not bundle.decommissioned.might_contain(ACME_GTIN, "D1")
    env.set_status("D1", "destroyed")
    response = env.client.get(
        f"/v1/offline-bundle?since={headers['x-bundle-version']}", headers=env.auth("officer")
    )
    assert response.headers["x-bundle-kind"] == "delta"
    signed = json.loads(response.content)["signed"]
    assert "decommissioned" not in signed  # no filter, only the added key travels
    assert len(base64.b64decode(signed["added"])) == 16
    updated = apply_delta(
        bundle, response.content, registry_key=env.world.registry.public_key(),
        bundle_key=env.world.bundle_key.public_key(), now=env.clock(),
    )  # fmt: skip
    assert updated.version == response.headers["x-bundle-version"] != bundle.version
    assert updated.decommissioned.might_contain(ACME_GTIN, "D1")
    assert not updated.decommissioned.might_contain(ACME_GTIN, "D2")
    undo = env.client.post(f"/v1/codes/{ACME_GTIN}/D1/status/undo", headers=env.auth("acme"))
    assert undo.status_code == 200, undo.text
    after_undo = env.client.get(
        f"/v1/offline-bundle?since={updated.version}", headers=env.auth("officer")
    )
    assert after_undo.headers["x-bundle-kind"] == "full"  # a Bloom filter cannot forget
    assert not opened(env, after_undo.content).decommissioned.might_contain(ACME_GTIN, "D1")
    garbage = env.client.get("/v1/offline-bundle?since=nonsense", headers=env.auth("officer"))
    assert garbage.headers["x-bundle-kind"] == "full"


# The table: (case, server verdict, offline verdict, reason both or offline give).
CASES = [
    ("valid", "authentic", "authentic", "TRUST_OK"),
    ("revoked_key", "counterfeit", "unverifiable", "KEY_REVOKED"),
    ("unknown_key", "counterfeit", "unverifiable", "KEY_UNKNOWN"),
    ("recalled_lot", "authentic", "authentic", "LOT_RECALLED"),  # genuine; do not use
    ("decommissioned", "suspect", "suspect", "SCANNED_AFTER_DECOMMISSION"),
    ("stale", "unverifiable", "unverifiable", "TRUST_LIST_STALE"),
]


def _prepare(env: Env, case: str) -> str:
    world: World = env.world
    if case == "revoked_key":
        env.register(["REV1"], key_id=world.leaked_cert.key_id)
        return env.sign("REV1", key=world.leaked_line)
    if case == "unknown_key":
        return env.sign("UNK1", key=Ed25519PrivateKey.generate())
    if case == "recalled_lot":
        env.register(["LOT1"], lot="L9")
        env.recall_lot("L9")
        return env.sign("LOT1", lot="L9")
    env.register(["C1"])
    if case == "decommissioned":
        env.set_status("C1", "sold")
    return env.sign("C1")


@pytest.mark.parametrize(("case", "server_verdict", "offline_verdict", "reason"), CASES)
def test_offline_and_server_agree(
    env: Env, case: str, server_verdict: str, offline_verdict: str, reason: str
) -> None:
    code = _prepare(env, case)
    data, _ = fetch(env)
    bundle = opened(env, data)
    if case == "stale":
        env.clock.advance(days=91)  # past the trust list's expiry
    server = env.client.post(
        "/v1/verify", json={"code": code, "record": False}, headers=env.auth("officer")
    ).json()
    offline = verify_offline(bundle, code, now=env.clock())
    assert server["verdict"] == server_verdict
    assert offline.verdict == offline_verdict
    assert reason in [r.code for r in offline.reasons]
    if server_verdict == offline_verdict:
        # Same information, same verdict and the same deciding reasons.
        assert {r["code"] for r in server["reasons"]} == {r.code for r in offline.reasons}


def test_bundle_past_its_own_validity_cannot_confirm(env: Env) -> None:
    env.register(["OLD1"])
    bundle = opened(env, fetch(env)[0])
    later = bundle.expires_at + timedelta(minutes=1)
    assert later < bundle.trust_list.expires_at  # the trust list itself is still fresh
    result = verify_offline(bundle, env.sign("OLD1"), now=later)
    assert result.verdict == "unverifiable"
    assert result.reasons[0].code == "BUNDLE_STALE"
    with pytest.raises(InvalidInput):
        verify_offline(bundle, "not a code", now=later)


def test_officer_cli_verdicts_and_exit_codes(env: Env, tmp_path: Path) -> None:
    env.register(["CLI1", "CLI2"])
    env.set_status("CLI2", "stolen")
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(fetch(env)[0])
    keys = [
        "--bundle", str(bundle), "--registry-key", str(env.world.registry_key_path),
        "--bundle-key", str(env.world.bundle_key_path), "--at", env.clock().isoformat(),
    ]  # fmt: skip
    runner = CliRunner()
    ok = runner.invoke(officer_app, ["verify", *keys, env.sign("CLI1")])
    assert ok.exit_code == 0, ok.output
    assert "verdict: authentic" in ok.output
    suspect = runner.invoke(officer_app, ["verify", *keys, "--json", env.sign("CLI2")])
    assert suspect.exit_code == 1
    answer = json.loads(suspect.stdout)
    assert answer["verdict"] == "suspect"
    assert answer["reasons"][0]["code"] == "SCANNED_AFTER_DECOMMISSION"
    bad = runner.invoke(officer_app, ["verify", *keys, "garbage"])
    assert bad.exit_code == 2
    assert "error:" in bad.output
    wrong_key = tmp_path / "wrong.pem"
    wrong_key.write_bytes(env.world.registry_key_path.read_bytes())
    keys[5] = str(wrong_key)  # the registry key where the bundle key belongs
    unsigned = runner.invoke(officer_app, ["verify", *keys, env.sign("CLI1")])
    assert unsigned.exit_code == 2
    assert "bundle key" in unsigned.output


def test_an_unchanged_bundle_is_re_signed_before_it_grows_old(env: Env) -> None:
    first, headers = fetch(env)
    assert fetch(env)[0] == first  # same version, same bytes (built once)
    env.clock.advance(hours=13)
    later, later_headers = fetch(env)
    assert later_headers["etag"] == headers["etag"]  # same content version
    assert opened(env, later).expires_at > opened(env, first).expires_at


def _flag_by_two_officers(env: Env, serial: str) -> None:
    env.register([serial])
    earlier = (env.clock() - timedelta(hours=2)).isoformat()
    for place, country, at in (
        ({"lat": 50.11, "lon": 8.68, "accuracy_m": 20}, "DE", earlier),
        ({"lat": 31.23, "lon": 121.47, "accuracy_m": 20}, "CN", None),
    ):
        body = {"code": env.sign(serial), "location": place, "country": country}
        if at is not None:
            body["scanned_at"] = at
        response = env.client.post("/v1/verify", json=body, headers=env.auth("officer"))
        assert response.status_code == 200, response.text
    assert response.json()["flagged"]["scan_id"] == response.json()["scan_id"]


def test_flagged_codes_travel_in_the_bundle_and_its_deltas(env: Env, tmp_path: Path) -> None:
    env.register(["OK1"])
    base, headers = fetch(env)
    bundle = opened(env, base)
    assert bundle.flagged == {}
    _flag_by_two_officers(env, "FL1")
    delta = env.client.get(
        f"/v1/offline-bundle?since={headers['x-bundle-version']}", headers=env.auth("officer")
    )
    assert delta.headers["x-bundle-kind"] == "delta"
    keys = {"registry_key": env.world.registry.public_key(),
            "bundle_key": env.world.bundle_key.public_key(), "now": env.clock()}  # fmt: skip
    updated = apply_delta(bundle, delta.content, **keys)
    assert set(updated.flagged) == {(ACME_GTIN, "FL1")}
    assert "IMPOSSIBLE_TRAVEL" in updated.flagged[(ACME_GTIN, "FL1")].reasons
    verdict = verify_offline(updated, env.sign("FL1"), now=env.clock())
    assert verdict.verdict == "suspect"
    assert verdict.reasons[0].code == "CODE_FLAGGED"
    assert "Reported cloned since" in verdict.reasons[0].message
    assert "Right holder: " in verdict.reasons[0].message
    assert verify_offline(updated, env.sign("OK1"), now=env.clock()).verdict == "authentic"
    # A full bundle carries it too, and `sealtrace officer verify` prints it.
    full, _ = fetch(env)
    assert set(opened(env, full).flagged) == {(ACME_GTIN, "FL1")}
    path = tmp_path / "bundle.json"
    path.write_bytes(full)
    cli = CliRunner().invoke(
        officer_app,
        ["verify", "--bundle", str(path), "--registry-key", str(env.world.registry_key_path),
         "--bundle-key", str(env.world.bundle_key_path), "--at", env.clock().isoformat(),
         env.sign("FL1")],
    )  # fmt: skip
    assert cli.exit_code == 1
    assert "verdict: suspect" in cli.output
    assert "Reported cloned since" in cli.output
    # Resolved: the next delta removes it.
    resolved = env.client.post(
        f"/v1/codes/{ACME_GTIN}/FL1/flag/resolve", json={"comment": "copy seized"},
        headers=env.auth("acme"),
    )  # fmt: skip
    assert resolved.status_code == 200, resolved.text
    removal = env.client.get(
        f"/v1/offline-bundle?since={updated.version}", headers=env.auth("officer")
    )
    assert removal.headers["x-bundle-kind"] == "delta"
    assert json.loads(removal.content)["signed"]["flagged_removed"] == [
        {"gtin": ACME_GTIN, "serial": "FL1"}
    ]
    after = apply_delta(updated, removal.content, **keys)
    assert after.flagged == {}
    assert verify_offline(after, env.sign("FL1"), now=env.clock()).verdict == "authentic"


def _put_product(env: Env, **fields: str) -> None:
    body = {"productName": "Paracetamol 500 mg tablets", **fields}
    response = env.client.put(f"/v1/products/{ACME_GTIN}", json=body, headers=env.auth("acme"))
    assert response.status_code == 200, response.text


def test_products_travel_in_the_bundle_and_its_deltas(any_env: Env, tmp_path: Path) -> None:
    env = any_env
    _put_product(env, availableStrength="500 mg", netContent="20 tablets",
                 image="https://acme.example/pack.png")  # fmt: skip
    base, headers = fetch(env)
    signed = json.loads(base)["signed"]
    # Name, strength and size travel; the image does not (and it is under the signature).
    assert signed["products"] == [
        {"gtin": ACME_GTIN, "brand_id": "acme", "productName": "Paracetamol 500 mg tablets",
         "availableStrength": "500 mg", "netContent": "20 tablets"}
    ]  # fmt: skip
    bundle = opened(env, base)
    named = verify_offline(bundle, env.sign("P1"), now=env.clock())
    assert named.product is not None
    assert named.product.label() == "Paracetamol 500 mg tablets · 500 mg · 20 tablets"
    assert named.to_json()["product"]["netContent"] == "20 tablets"  # type: ignore[index]
    # A forgery of the same GTIN gets the GTIN only, as online.
    for forged in (env.sign("P2", key=Ed25519PrivateKey.generate()), env.sign("P3").split("?")[0]):
        result = verify_offline(bundle, forged, now=env.clock())
        assert result.verdict != "authentic"
        assert result.product is None
        assert "productName" not in result.to_json()["product"]  # type: ignore[operator]
    # A changed product arrives in a delta, a removed one leaves in the next.
    _put_product(env, productName="Paracetamol 1 g tablets", availableStrength="1 g")
    keys = {"registry_key": env.world.registry.public_key(),
            "bundle_key": env.world.bundle_key.public_key(), "now": env.clock()}  # fmt: skip
    changed = env.client.get(
        f"/v1/offline-bundle?since={headers['x-bundle-version']}", headers=env.auth("officer")
    )
    assert changed.headers["x-bundle-kind"] == "delta"
    updated = apply_delta(bundle, changed.content, **keys)
    assert updated.products[ACME_GTIN].label() == "Paracetamol 1 g tablets · 1 g"
    path = tmp_path / "bundle.json"
    path.write_bytes(fetch(env)[0])
    cli = CliRunner().invoke(
        officer_app,
        ["verify", "--bundle", str(path), "--registry-key", str(env.world.registry_key_path),
         "--bundle-key", str(env.world.bundle_key_path), "--at", env.clock().isoformat(),
         env.sign("P4")],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert f"product: Paracetamol 1 g tablets · 1 g: GTIN {ACME_GTIN}" in cli.output
    gone = env.client.delete(f"/v1/products/{ACME_GTIN}", headers=env.auth("acme"))
    assert gone.status_code == 204
    removal = env.client.get(
        f"/v1/offline-bundle?since={updated.version}", headers=env.auth("officer")
    )
    assert removal.headers["x-bundle-kind"] == "delta"
    assert json.loads(removal.content)["signed"]["products_removed"] == [ACME_GTIN]
    after = apply_delta(updated, removal.content, **keys)
    assert after.products == {}
    assert verify_offline(after, env.sign("P5"), now=env.clock()).product is None
