"""The transparency log in the running service: entries, checkpoints, proofs, tampering."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import text

from transparency import merkle
from transparency.audit import audit
from transparency.note import open_checkpoint

if TYPE_CHECKING:
    from tests.verifier.conftest import Env

FRANKFURT = {"lat": 50.11, "lon": 8.68, "accuracy_m": 20}
SHANGHAI = {"lat": 31.23, "lon": 121.47, "accuracy_m": 20}


def seize(env: Env, serial: str) -> dict[str, Any]:
    """A unit seen in Frankfurt, then by an officer in Shanghai who seizes 24 units."""
    env.register([serial])
    earlier = (env.clock() - timedelta(hours=1)).isoformat()
    env.verify(env.sign(serial), device_id="phone-1", location=FRANKFURT, scanned_at=earlier)
    answer = env.verify(env.sign(serial), "officer", location=SHANGHAI, country="CN").json()
    made = env.client.post(
        f"/v1/scans/{answer['scan_id']}/inspection",
        json={"outcome": "seized", "quantity": 24, "notes": "24 packs"},
        headers=env.auth("officer"),
    )
    assert made.status_code == 201, made.text
    result: dict[str, Any] = {"scan": answer, "seizure": made.json()}
    return result


def run_audit(env: Env) -> Any:
    with env.services.engine.connect() as connection:
        return audit(connection)


def logged(env: Env, kind: str) -> list[dict[str, Any]]:
    with env.services.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT body FROM log_entry WHERE kind = :k ORDER BY idx"), {"k": kind}
        ).scalars()
        return [json.loads(body) for body in rows]


def test_scans_status_changes_inspections_and_accounts_are_logged(env: Env) -> None:
    seize(env, "TL1")
    assert env.set_status("TL1", "stolen").status_code == 200
    scans = logged(env, "scan")
    assert [s["row"]["verdict"] for s in scans] == ["authentic", "suspect"]
    assert all("answer_sha256" in s["row"] and "answer" not in s["row"] for s in scans)
    assert [i["row"]["quantity"] for i in logged(env, "inspection")] == [24]
    assert any(a["row"]["action"] == "code_status" or "status" in a["row"]["action"]
               for a in logged(env, "audit_event"))  # fmt: skip
    tokens = logged(env, "api_token")
    assert tokens
    assert all("token_hash" not in t["row"] for t in tokens)
    report = run_audit(env)
    assert report.ok, report.problems
    assert report.rows_checked >= 5


def test_editing_a_seizure_behind_the_services_back_is_found(env: Env) -> None:
    seized = seize(env, "TL2")
    scan_id = seized["scan"]["scan_id"]
    with env.services.engine.begin() as connection:
        connection.execute(
            text("UPDATE scan SET verdict = 'authentic', reasons = '[]' WHERE scan_id = :s"),
            {"s": scan_id},
        )
        connection.execute(
            text("UPDATE inspection SET quantity = 0, outcome = 'released', notes = 'nothing'")
        )
    report = run_audit(env)
    assert not report.ok
    assert any(p.startswith(f"scan {scan_id}: differs") and "verdict" in p
               for p in report.problems)  # fmt: skip
    assert any(p.startswith("inspection ") and "quantity" in p for p in report.problems)


def test_editing_or_removing_log_entries_is_found(env: Env) -> None:
    seize(env, "TL3")
    assert run_audit(env).ok
    with env.services.engine.begin() as connection:
        connection.execute(
            text("UPDATE log_entry SET body = replace(body, 'suspect', 'authentic')")
        )
    problems = run_audit(env).problems
    assert any("leaf hash is not the hash of its body" in p for p in problems)

    with env.services.engine.begin() as connection:  # a forger who also rewrites the leaf
        for idx, body in connection.execute(text("SELECT idx, body FROM log_entry")).all():
            connection.execute(
                text("UPDATE log_entry SET leaf = :l WHERE idx = :i"),
                {"l": merkle.leaf_hash(body.encode()), "i": idx},
            )
    problems = run_audit(env).problems
    assert any("nodes do not match" in p or "head says" in p for p in problems)

    with env.services.engine.begin() as connection:
        connection.execute(text("DELETE FROM log_entry WHERE idx = 1"))
    assert any("entry 1 is missing" in p for p in run_audit(env).problems)


def test_checkpoints_are_signed_and_every_entry_has_a_proof(env: Env) -> None:
    seize(env, "TL4")
    key = env.client.get("/v1/log/key").json()
    public_key = load_pem_public_key(key["public_key_pem"].encode())
    first_note = env.client.get("/v1/log/checkpoint").text
    first = open_checkpoint(first_note, key["key_name"], public_key)  # type: ignore[arg-type]
    assert first.size >= 4
    assert first.origin == env.settings.log_origin
    entries = env.client.get(
        "/v1/log/entries", params={"start": 0, "end": first.size}, headers=env.auth("admin")
    ).json()["entries"]
    assert len(entries) == first.size
    for entry in entries:
        proof = env.client.get(
            "/v1/log/proof/inclusion",
            params={"leaf_index": entry["index"], "tree_size": first.size},
        ).json()
        leaf = merkle.leaf_hash(entry["body"].encode())
        assert base64.b64decode(proof["leaf_hash"]) == leaf
        path = [base64.b64decode(p) for p in proof["audit_path"]]
        assert merkle.verify_inclusion(entry["index"], first.size, leaf, path, first.root)

    env.set_status("TL4", "destroyed")
    env.clock.advance(seconds=60)
    second = open_checkpoint(
        env.client.get("/v1/log/checkpoint").text,
        key["key_name"],
        public_key,  # type: ignore[arg-type]
    )
    assert second.size > first.size
    answer = env.client.get(
        "/v1/log/proof/consistency", params={"first": first.size, "second": second.size}
    ).json()
    proof = [base64.b64decode(p) for p in answer["proof"]]
    assert merkle.verify_consistency(first.size, second.size, first.root, second.root, proof)
    with env.services.engine.connect() as connection:
        later = audit(
            connection,
            checkpoint=first_note,
            key_name=key["key_name"],
            public_key=public_key,  # type: ignore[arg-type]
        )
    assert later.ok, later.problems


def test_log_entries_are_for_admins_and_bad_ranges_are_4xx(env: Env) -> None:
    env.register(["TL5"])
    env.verify(env.sign("TL5"))
    for who in (None, "acme", "officer"):
        answer = env.client.get("/v1/log/entries", params={"start": 0, "end": 5},
                                headers=env.auth(who))  # fmt: skip
        assert answer.status_code in (401, 403), (who, answer.status_code)
    bad = [
        {"leaf_index": 5, "tree_size": 2},
        {"leaf_index": 0, "tree_size": 10**9},
        {"leaf_index": -1, "tree_size": 1},
        {"leaf_index": 2**63, "tree_size": 1},
    ]
    for params in bad:
        assert env.client.get("/v1/log/proof/inclusion", params=params).status_code in (400, 422)
    assert env.client.get("/v1/log/proof/consistency",
                          params={"first": 3, "second": 2}).status_code in (400, 422)  # fmt: skip


def evidence_of(env: Env, who: str = "officer") -> tuple[dict[str, Any], Any]:
    seized = seize(env, "TL6")
    seizure_id = seized["seizure"]["id"]
    answer = env.client.get(f"/v1/seizures/{seizure_id}/evidence", headers=env.auth(who))
    assert answer.status_code == 200, answer.text
    key = load_pem_public_key(env.client.get("/v1/log/key").json()["public_key_pem"].encode())
    return answer.json(), key


def test_a_seizure_bundle_verifies_offline_with_only_the_log_key(env: Env, tmp_path: Any) -> None:
    import subprocess
    import sys

    from transparency.checker import check

    bundle, key = evidence_of(env)
    assert bundle["format"] == "sealtrace/seizure-evidence/v1"
    assert bundle["report"]["code"].startswith("(01)")
    assert "(8030)" in bundle["report"]["code"]  # the code as scanned, signature included
    assert {(json.loads(e["body"])["table"]) for e in bundle["entries"]} == {"inspection", "scan"}
    assert check(bundle, key) == []
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    pem = tmp_path / "log-key.pem"
    pem.write_text(env.client.get("/v1/log/key").json()["public_key_pem"])
    run = subprocess.run(
        [sys.executable, "-m", "transparency.checker", str(path), str(pem)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("OK: 3 entries")

    forged = json.loads(json.dumps(bundle))
    forged["report"]["quantity"] = 0
    forged["report"]["verdict"] = "authentic"
    forged["report"]["code"] = forged["report"]["code"].replace("(8030)", "(8030)x")
    problems = check(forged, key)
    assert "the report's quantity differs from the log's" in problems
    assert "the report's verdict differs from the logged scan's" in problems
    assert "the report's code differs from the log's" in problems

    rewritten = json.loads(json.dumps(bundle))
    first = rewritten["entries"][0]
    first["body"] = first["body"].replace('"seized"', '"released"')
    assert any("not in the log" in p for p in check(rewritten, key))

    other_key = Ed25519PrivateKey.generate().public_key()
    assert check(bundle, other_key)[0].startswith("checkpoint:")


def test_the_brand_gets_its_seizure_evidence_and_others_do_not(env: Env) -> None:
    bundle, key = evidence_of(env, "acme")
    assert check_ok(bundle, key)
    answer = env.client.get(f"/v1/seizures/{bundle['report']['id']}/evidence")
    assert answer.status_code == 401


def check_ok(bundle: dict[str, Any], key: Any) -> bool:
    from transparency.checker import check

    return check(bundle, key) == []
