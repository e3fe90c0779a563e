"""`sealtrace brand ...` against a real `sealtrace serve`: a producer's day without curl.

Each command runs in-process (typer's runner) but talks real HTTP to a real
server on a free port, with the token and URL from the environment as a
producer would set them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from authn.code import ProductCode
from authn.digital_link import format_digital_link
from authn.signing import sign_code
from keys.trust import build_trust_list
from sealtrace.cli import app
from tests.production.conftest import (
    ACME_GTIN,
    OTHER_GTIN,
    START,
    ServerFactory,
    World,
    create_accounts,
    registration,
    signed_uri,
)


@dataclass
class Service:
    base: str
    tokens: dict[str, str]
    url: str

    def run(self, *args: str, who: str = "acme", **env: str | None) -> Result:
        environ: dict[str, str | None] = {
            "SEALTRACE_URL": self.base, "SEALTRACE_TOKEN": self.tokens[who],
            "SEALTRACE_CONFIG": "/nonexistent/client.toml", **env,
        }  # fmt: skip
        return CliRunner().invoke(app, list(args), env=environ)

    def post(self, path: str, body: dict[str, Any], who: str = "acme") -> httpx.Response:
        auth = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.post(self.base + path, json=body, headers=auth, timeout=30)

    def register(self, world: World, serials: list[str], lot: str | None = None) -> None:
        body = {**registration(world, serials), "lot": lot}
        answer = self.post("/v1/registrations", body)
        assert answer.status_code == 200, answer.text


@pytest.fixture
def service(sqlite_url: str, serve: ServerFactory) -> Service:
    tokens = create_accounts(sqlite_url)
    server = serve(sqlite_url)
    return Service(server.base, tokens, sqlite_url)


def serials(n: int, prefix: str = "U") -> list[str]:
    tag = uuid.uuid4().hex[:4].upper()
    return [f"{prefix}{tag}{i:05d}" for i in range(n)]


def test_status_of_one_code_then_undo_and_history(service: Service, world: World) -> None:
    [serial] = serials(1)
    service.register(world, [serial])
    done = service.run("brand", "status", "--gtin", ACME_GTIN, "--serial", serial,
                       "--status", "sold", "--comment", "shipped to pharmacy")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "1 changed" in done.stdout
    history = service.run("brand", "history", "--gtin", ACME_GTIN, "--serial", serial)
    assert history.exit_code == 0, history.output
    assert f"{serial}: sold" in history.stdout
    assert "active -> sold  shipped to pharmacy" in history.stdout
    undone = service.run("brand", "undo", "--gtin", ACME_GTIN, "--serial", serial)
    assert undone.exit_code == 0, undone.output
    assert "sold -> active" in undone.stdout


def test_status_from_a_file_answers_per_unit_and_is_idempotent(
    service: Service, world: World, tmp_path: Path
) -> None:
    mine = serials(1200)  # more than one chunk of the service's bulk loop
    service.register(world, mine)
    never = "NEVERREGISTERED1"
    lines = [f"{ACME_GTIN},{s}" for s in mine] + [f"{ACME_GTIN} {never}"]
    lines.append(signed_uri(world, "OTHER1", brand="other").replace("OTHER1", "OTHERX"))
    (tmp_path / "units.txt").write_text("# sold today\n" + "\n".join(lines) + "\n")
    first = service.run("brand", "status", "--file", str(tmp_path / "units.txt"), "--status",
                        "sold")  # fmt: skip
    assert first.exit_code == 1, first.output  # some units failed
    assert "1,202 units: 1,200 changed, 0 unchanged, 2 failed" in first.stdout
    assert f"{never}: no such code" in first.stderr
    assert f"{OTHER_GTIN} OTHERX: " in first.stderr
    again = service.run("brand", "status", "--file", str(tmp_path / "units.txt"), "--status",
                        "sold")  # fmt: skip
    assert "1,202 units: 0 changed, 1,200 unchanged, 2 failed" in again.stdout
    # A unit in another status is refused alone; its neighbours still change.
    (tmp_path / "more.csv").write_text(f"gtin,serial,status\n{ACME_GTIN},{mine[0]},destroyed\n")
    fresh = serials(1)
    service.register(world, fresh)
    with (tmp_path / "more.csv").open("a") as handle:
        handle.write(f"{ACME_GTIN},{fresh[0]},destroyed\n")
    mixed = service.run("brand", "status", "--file", str(tmp_path / "more.csv"), "--status",
                        "sold", "--json")  # fmt: skip
    assert mixed.exit_code == 1
    assert '"status": 409' in mixed.stdout
    code = service.run("brand", "history", "--gtin", ACME_GTIN, "--serial", fresh[0])
    assert f"{fresh[0]}: destroyed" in code.stdout


def test_an_issue_manifest_is_a_status_file(service: Service, world: World, tmp_path: Path) -> None:
    units = serials(3)
    service.register(world, units)
    manifest = "seq,gtin,serial,lot,expiry,digital_link,element_string\r\n" + "".join(
        f"{i},{ACME_GTIN},{s},,,https://id.example/01/{ACME_GTIN}/21/{s},\r\n"
        for i, s in enumerate(units)
    )
    (tmp_path / "manifest.csv").write_text(manifest)
    done = service.run("brand", "status", "--file", str(tmp_path / "manifest.csv"), "--status",
                       "destroyed")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "3 units: 3 changed" in done.stdout


def test_a_bad_line_in_the_file_is_one_error_and_nothing_is_sent(
    service: Service, world: World, tmp_path: Path
) -> None:
    [serial] = serials(1)
    service.register(world, [serial])
    (tmp_path / "bad.txt").write_text(f"{ACME_GTIN},{serial}\nnot a code at all\n")
    result = service.run("brand", "status", "--file", str(tmp_path / "bad.txt"), "--status", "sold")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: line 2")
    history = service.run("brand", "history", "--gtin", ACME_GTIN, "--serial", serial)
    assert f"{serial}: active" in history.stdout


def test_recall_of_a_lot_and_its_undo_and_a_lot_never_registered(
    service: Service, world: World
) -> None:
    service.register(world, serials(2), lot="LOTR1")
    unknown = service.run("brand", "recall", "--gtin", ACME_GTIN, "--lot", "NOSUCHLOT")
    assert unknown.exit_code == 2
    assert "no code of this lot was ever registered" in unknown.stderr
    recalled = service.run("brand", "recall", "--gtin", ACME_GTIN, "--lot", "LOTR1",
                           "--comment", "sterility doubt")  # fmt: skip
    assert recalled.exit_code == 0, recalled.output
    assert "lot LOTR1 of" in recalled.stdout
    assert "recalled (changed)" in recalled.stdout
    again = service.run("brand", "recall", "--gtin", ACME_GTIN, "--lot", "LOTR1")
    assert "recalled (unchanged)" in again.stdout
    undone = service.run("brand", "recall", "--gtin", ACME_GTIN, "--lot", "LOTR1", "--undo")
    assert "active" in undone.stdout
    # Another brand's lot: not even told it exists.
    theirs = service.run("brand", "recall", "--gtin", OTHER_GTIN, "--lot", "LOTR1")
    assert theirs.exit_code == 2


def test_markets(service: Service, world: World) -> None:
    service.register(world, serials(1))
    result = service.run("brand", "markets", "--gtin", ACME_GTIN, "--markets", "fr,de")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{ACME_GTIN}: markets DE, FR"


def test_alerts_list_acknowledge_close(service: Service, world: World) -> None:
    # A genuine signature on a code never registered raises an alert for the brand.
    httpx.post(f"{service.base}/v1/verify", json={"code": signed_uri(world, "LEAKED1")})
    listed = service.run("brand", "alerts", "--status", "open")
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.stdout.splitlines() if "LEAKED1" in x)
    alert_id = line.split("\t")[0]
    acked = service.run("brand", "ack", alert_id, "--comment", "looking into it")
    assert acked.stdout.strip() == f"alert {alert_id}: acknowledged"
    closed = service.run("brand", "close", alert_id, "--comment", "test print, destroyed")
    assert closed.stdout.strip() == f"alert {alert_id}: closed"
    other = service.run("brand", "alerts", who="other")
    assert "LEAKED1" not in other.stdout


def test_seizures_are_listed_for_the_brand_only(service: Service, world: World) -> None:
    [serial] = serials(1)
    service.register(world, [serial])
    scan_id = str(uuid.uuid4())
    verify = {"code": signed_uri(world, serial), "scan_id": scan_id, "country": "DE"}
    assert service.post("/v1/verify", verify, who="officer").status_code == 200
    seized = {"outcome": "seized", "quantity": 12, "notes": "container 7"}
    answer = service.post(f"/v1/scans/{scan_id}/inspection", seized, who="officer")
    assert answer.status_code == 201, answer.text
    mine = service.run("brand", "seizures")
    assert mine.exit_code == 0, mine.output
    assert f"{ACME_GTIN} {serial}\tqty 12" in mine.stdout
    assert serial not in service.run("brand", "seizures", who="other").stdout


def test_webhook_set_and_show_never_shows_the_secret(service: Service) -> None:
    secret = "whsec_test_" + "k" * 32
    done = service.run("brand", "webhook", "set", "--brand", "acme", "--endpoint",
                       "https://hooks.acme.example/sealtrace", "--secret-env", "HOOK_SECRET",
                       HOOK_SECRET=secret)  # fmt: skip
    assert done.exit_code == 0, done.output
    assert secret not in done.output
    shown = service.run("brand", "webhook", "show", "--brand", "acme", "--json")
    assert shown.exit_code == 0, shown.output
    assert '"url": "https://hooks.acme.example/sealtrace"' in shown.stdout
    assert '"secret_set": true' in shown.stdout
    assert secret not in shown.output
    theirs = service.run("brand", "webhook", "show", "--brand", "acme", who="other")
    assert theirs.exit_code == 2
    generated = service.run("brand", "webhook", "set", "--brand", "acme", "--endpoint",
                            "https://hooks.acme.example/v2")  # fmt: skip
    assert generated.stdout.strip().startswith("whsec_")  # shown once, when generated


def test_publish_trust_list_needs_an_admin(service: Service, world: World, tmp_path: Path) -> None:
    newer = build_trust_list(
        world.registry, version=2, issued_at=START, expires_at=START + timedelta(days=30),
        brands=list(world.brands.values()), line_keys=list(world.certs.values()), revocations=[],
    )  # fmt: skip
    (tmp_path / "v2.json").write_bytes(newer.to_signed_json())
    refused = service.run("brand", "publish-trust-list", str(tmp_path / "v2.json"))
    assert refused.exit_code == 2
    assert "403" in refused.stderr
    published = service.run("brand", "publish-trust-list", str(tmp_path / "v2.json"), who="admin")
    assert published.exit_code == 0, published.output
    assert published.stdout.strip() == "trust list version 2: installed"
    again = service.run("brand", "publish-trust-list", str(tmp_path / "v2.json"), who="admin")
    assert again.stdout.strip() == "trust list version 2: already held"


def test_without_a_token_or_with_a_bad_one_is_one_clear_line(service: Service) -> None:
    missing = service.run("brand", "alerts", SEALTRACE_TOKEN=None)
    assert missing.exit_code == 2
    assert "SEALTRACE_TOKEN" in missing.stderr
    bad = service.run("brand", "alerts", SEALTRACE_TOKEN="st_not_a_real_token")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: 401")
    gone = service.run("brand", "alerts", SEALTRACE_URL="http://127.0.0.1:9")
    assert gone.exit_code == 2
    assert "cannot reach the verifier" in gone.stderr


def test_the_token_may_come_from_a_private_config_file(service: Service, tmp_path: Path) -> None:
    config = tmp_path / "client.toml"
    config.write_text(f'url = "{service.base}"\ntoken = "{service.tokens["acme"]}"\n')
    config.chmod(0o644)
    env: dict[str, str | None] = {"SEALTRACE_TOKEN": None, "SEALTRACE_URL": None}
    readable = service.run("brand", "alerts", "--config", str(config), **env)
    assert readable.exit_code == 2
    assert "chmod 600" in readable.stderr
    config.chmod(0o600)
    ok = service.run("brand", "alerts", "--config", str(config), **env)
    assert ok.exit_code == 0, ok.output


def test_accounts_create_refuses_a_brand_not_in_the_trust_list(service: Service) -> None:
    # The running server installed its trust list in the database at start.
    args = ["accounts", "create", "--role", "brand", "--db", service.url]
    refused = service.run(*args, "--name", "ghost-1", "--brand", "does-not-exist")
    assert refused.exit_code == 2
    assert "not in the trust list" in refused.stderr
    created = service.run(*args, "--name", "acme-2", "--brand", "acme")
    assert created.exit_code == 0, created.output


def test_resolve_flag_of_a_code_two_officers_saw_in_two_places(
    service: Service, world: World
) -> None:
    [serial] = serials(1, "FL")
    service.register(world, [serial])
    code = signed_uri(world, serial)
    frankfurt = {"lat": 50.11, "lon": 8.68, "accuracy_m": 20}
    shanghai = {"lat": 31.23, "lon": 121.47, "accuracy_m": 20}
    for place, country in ((frankfurt, "DE"), (shanghai, "CN")):
        seen = service.post(
            "/v1/verify", {"code": code, "location": place, "country": country}, who="officer"
        )
        assert seen.status_code == 200, seen.text
    assert seen.json()["flagged"]["scan_id"] == seen.json()["scan_id"]
    other = service.run("brand", "resolve-flag", "--gtin", ACME_GTIN, "--serial", serial,
                        "--comment", "not mine", who="other")  # fmt: skip
    assert other.exit_code == 2
    done = service.run("brand", "resolve-flag", "--gtin", ACME_GTIN, "--serial", serial,
                       "--comment", "parallel import, checked")  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"{ACME_GTIN} {serial}: flag of " in done.stdout
    again = service.run("brand", "resolve-flag", "--gtin", ACME_GTIN, "--serial", serial,
                        "--comment", "twice")  # fmt: skip
    assert again.exit_code == 2
    assert "not flagged" in again.output


# Product master data --------------------------------------------------------------------------

PRODUCTS_CSV = (
    "gtin,productName,brandName,availableStrength,netContent,image,targetMarket\n"
    f"{ACME_GTIN},Acmedol tablets,Acmedol,500 mg,20 tablets,https://img.acme.example/a.png,"
    "DE FR\n"
    f"{OTHER_GTIN},Not ours,,,,,\n"
    f"{ACME_GTIN[:-1]}0,Bad image,,,,http://img.acme.example/a.png,\n"
)


def officer_check(service: Service, code: str) -> Result:
    return service.run("officer", "check", code, "--country", "DE", who="officer")


def test_products_import_show_list_and_delete(service: Service, tmp_path: Path) -> None:
    (tmp_path / "products.csv").write_text(PRODUCTS_CSV)
    first = service.run("brand", "products", "import", str(tmp_path / "products.csv"))
    assert first.exit_code == 1, first.output  # two lines failed, the good one is stored
    assert "3 products: 1 changed, 0 unchanged, 2 failed" in first.stdout
    assert f"{OTHER_GTIN}: " in first.stderr  # another brand's GTIN: not found, not stored
    assert "image: Value error, must be an https:// URL" in first.stderr
    again = service.run("brand", "products", "import", str(tmp_path / "products.csv"))
    assert "3 products: 0 changed, 1 unchanged, 2 failed" in again.stdout
    shown = service.run("brand", "products", "show", ACME_GTIN)
    assert shown.exit_code == 0, shown.output
    assert "name: Acmedol tablets\n" in shown.stdout
    assert "strength: 500 mg\n" in shown.stdout
    assert "markets: DE, FR\n" in shown.stdout
    listed = service.run("brand", "products", "list")
    assert listed.stdout.strip() == f"{ACME_GTIN}\tAcmedol tablets · 500 mg · 20 tablets\tacme"
    as_json = json.dumps([{"gtin": ACME_GTIN, "productName": "Acmedol forte"}])
    (tmp_path / "products.json").write_text(as_json)
    replaced = service.run("brand", "products", "import", str(tmp_path / "products.json"))
    assert replaced.exit_code == 0, replaced.output
    assert "1 products: 1 changed" in replaced.stdout
    assert "name: Acmedol forte\n" in service.run("brand", "products", "show", ACME_GTIN).stdout
    deleted = service.run("brand", "products", "delete", ACME_GTIN)
    assert deleted.exit_code == 0, deleted.output
    gone = service.run("brand", "products", "show", ACME_GTIN)
    assert gone.exit_code == 2
    assert "no product data" in gone.stderr


def test_another_brand_can_neither_read_nor_write_the_product(service: Service) -> None:
    mine = service.run("brand", "products", "set", ACME_GTIN, "--name", "Acmedol tablets")
    assert mine.exit_code == 0, mine.output
    auth = {"Authorization": f"Bearer {service.tokens['other']}"}
    path = f"{service.base}/v1/products/{ACME_GTIN}"
    assert httpx.get(path, headers=auth).status_code == 404  # not told it exists
    put = httpx.put(path, json={"productName": "Hijacked"}, headers=auth)
    assert put.status_code == 404
    assert httpx.delete(path, headers=auth).status_code == 404
    imported = httpx.post(
        f"{service.base}/v1/products:import", headers=auth,
        json=[{"gtin": ACME_GTIN, "productName": "Hijacked"}],
    )  # fmt: skip
    assert imported.json()["results"][0]["error"]["status"] == 404
    assert service.run("brand", "products", "list", who="other").stdout.strip() == "no products"
    assert httpx.get(path).status_code == 401  # anonymous
    shown = service.run("brand", "products", "show", ACME_GTIN, "--json")
    assert json.loads(shown.stdout)["productName"] == "Acmedol tablets"
    # Officers read every brand's products; admins write them too.
    assert service.run("brand", "products", "show", ACME_GTIN, who="officer").exit_code == 0
    by_admin = service.run("brand", "products", "set", ACME_GTIN, "--name", "Acmedol",
                           who="admin")  # fmt: skip
    assert by_admin.exit_code == 0, by_admin.output
    officer_put = service.run("brand", "products", "set", ACME_GTIN, "--name", "X", who="officer")
    assert officer_put.exit_code == 2


def test_the_officer_sees_the_product_name_online_and_a_forgery_does_not_borrow_it(
    service: Service, world: World
) -> None:
    [serial] = serials(1)
    service.register(world, [serial])
    code = signed_uri(world, serial)
    unknown = officer_check(service, code)
    assert unknown.exit_code == 0, unknown.output
    assert f"product: no product data: GTIN {ACME_GTIN} serial {serial}" in unknown.stdout
    service.run("brand", "products", "set", ACME_GTIN, "--name", "Acmedol tablets",
                "--strength", "500 mg", "--pack-size", "20 tablets")  # fmt: skip
    known = officer_check(service, code)
    assert known.exit_code == 0, known.output
    assert "verdict: authentic" in known.stdout
    assert "product: Acmedol tablets · 500 mg · 20 tablets: GTIN" in known.stdout
    assert "right holder: " in known.stdout
    # The same GTIN signed by another brand's key is a forgery: the answer names no product.
    forged = sign_code(ProductCode(gtin=ACME_GTIN, serial="FORGED1"), world.lines["other"])
    answer = httpx.post(
        f"{service.base}/v1/verify", json={"code": format_digital_link(forged.ais())}
    ).json()
    assert answer["verdict"] == "counterfeit"
    assert "productName" not in answer["product"]
    counterfeit = officer_check(service, format_digital_link(forged.ais()))
    assert counterfeit.exit_code == 1
    assert "product: no product data" in counterfeit.stdout
