"""The trade role: distributors, pharmacies and shops place a unit in its supply chain.

Their scans feed detection (as trade, not as customs findings), but a trade
account is not privileged: it gets the consumer's answer and no other brand's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import select

from authn.errors import InvalidInput
from epcis.identifiers import unit_uri
from tests.production.test_prod_tenancy import enumerate_routes
from verifier import accounts
from verifier.accounts import ACCOUNT_ROLES, Caller, Role
from verifier.db.models import Scan

if TYPE_CHECKING:
    from tests.verifier.conftest import Env

COLOGNE = {"lat": 50.9375, "lon": 6.9603, "accuracy_m": 20}
BERLIN = {"lat": 52.52, "lon": 13.405, "accuracy_m": 20}
ANTWERP = {"lat": 51.2637, "lon": 4.3998, "accuracy_m": 20}


def add_trade_account(env: Env, name: str = "wholesaler") -> dict[str, str]:
    with env.session() as session:
        accounts.create_account(session, name=name, role=Role.TRADE, now=env.clock())
        token = accounts.issue_token(session, name, pepper=env.PEPPER.encode(), now=env.clock())
    return {"Authorization": f"Bearer {token}"}


def verify(
    env: Env, serial: str, headers: dict[str, str], where: dict[str, Any], device: str = "hh-1"
) -> Any:
    body = {"code": env.sign(serial), "location": where, "device_id": device}
    response = env.client.post("/v1/verify", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_trade_is_an_account_role_without_privilege() -> None:
    assert Role.TRADE in ACCOUNT_ROLES
    assert not Caller(Role.TRADE, account_id=1, name="pharmacy").is_privileged
    assert Caller(Role.OFFICER, account_id=2, name="customs").is_privileged


def test_a_trade_account_belongs_to_no_brand(env: Env) -> None:
    with env.session() as session, pytest.raises(InvalidInput):
        accounts.create_account(
            session, name="shop", role=Role.TRADE, now=env.clock(), brand_id="acme"
        )


def test_trade_scans_are_recorded_as_trade_and_answered_as_for_consumers(env: Env) -> None:
    env.register(["T1"])
    trade = add_trade_account(env)
    first = verify(env, "T1", trade, COLOGNE)
    assert first["verdict"] == "authentic"
    env.clock.advance(days=2)
    verify(env, "T1", trade, BERLIN)
    env.clock.advance(days=5)
    back = verify(env, "T1", trade, COLOGNE)  # back at the warehouse it had left
    assert back["verdict"] == "suspect"
    # The consumer's answer: one generic reason, no findings, history or risk.
    assert [r["code"] for r in back["reasons"]] == ["CHECK_ADVISED"]
    assert "risk" not in back
    assert "history" not in back
    with env.session() as session:
        rows = session.exec(select(Scan).where(Scan.serial == "T1")).all()
    assert {row.role for row in rows} == {"trade"}
    assert sum("OUT_OF_SEQUENCE" in row.reasons for row in rows) == 1


def test_customs_after_the_trade_is_suspect_with_the_detail_for_the_officer(env: Env) -> None:
    env.register(["T2"])
    trade = add_trade_account(env)
    verify(env, "T2", trade, COLOGNE)
    env.clock.advance(days=3)
    verify(env, "T2", trade, BERLIN)
    env.clock.advance(days=10)
    officer = verify(env, "T2", env.auth("officer"), ANTWERP, device="customs-7")
    assert officer["verdict"] == "suspect"
    [finding] = [f for f in officer["risk"]["findings"] if f["code"] == "OUT_OF_SEQUENCE"]
    assert finding["severity"] == "warning"
    assert finding["score"] == 63
    assert len(finding["related_scan_ids"]) == 2


def test_a_trade_return_of_a_sold_unit_is_not_a_customs_finding(env: Env) -> None:
    env.register(["T3"])
    trade = add_trade_account(env)
    verify(env, "T3", trade, BERLIN)
    assert env.set_status("T3", "sold").status_code == 200
    env.clock.advance(days=2)
    returned = verify(env, "T3", trade, BERLIN)
    assert returned["verdict"] == "authentic"
    customs = verify(env, "T3", env.auth("officer"), ANTWERP, device="customs-7")
    assert customs["verdict"] == "suspect"  # a customs officer finding a sold unit: critical
    severities = {f["code"]: f["severity"] for f in customs["risk"]["findings"]}
    assert severities["SCANNED_AFTER_DECOMMISSION"] == "critical"


# What a trade account must be refused. The checks live in verifier/registry.py,
# verifier/alerts.py and http_api/routes_epcis.py, which treat every account that is not a
# brand as an officer; until they name the roles they allow, a trade account passes them.
FORBIDDEN_TO_TRADE = [
    pytest.param("GET", "/v1/codes/{gtin}/P1", None, id="read-a-brands-code-record"),
    pytest.param("POST", "/v1/codes/{gtin}/P1/status", {"status": "sold"}, id="change-a-status"),
    pytest.param("POST", "/v1/lots/{gtin}/LOT1/status", {"status": "recalled"}, id="recall-a-lot"),
    pytest.param("GET", "/v1/alerts", None, id="list-every-brands-alerts"),
    pytest.param("GET", "/v1/epcis/events", None, id="read-every-brands-events"),
]


@pytest.mark.parametrize(("method", "path", "body"), FORBIDDEN_TO_TRADE)
def test_a_trade_account_is_refused_brand_and_officer_data(
    env: Env, method: str, path: str, body: dict[str, str] | None
) -> None:
    env.register(["P1"])
    env.verify(env.sign("LEAK1"), country="NL")  # an alert of brand acme exists
    trade = add_trade_account(env)
    url = path.format(gtin=env.ACME_GTIN)
    params = {"code": unit_uri(env.ACME_GTIN, "P1")} if "epcis" in path else None
    response = env.client.request(method, url, json=body, params=params, headers=trade)
    assert response.status_code in (403, 404), response.text


def test_a_trade_account_is_refused_seizure_reports(env: Env) -> None:
    env.register(["SZ9"])
    scanned = verify(env, "SZ9", env.auth("officer"), ANTWERP, device="customs-7")
    made = env.client.post(
        f"/v1/scans/{scanned['scan_id']}/inspection",
        json={"outcome": "seized", "quantity": 1},
        headers=env.auth("officer"),
    )
    assert made.status_code == 201, made.text
    trade = add_trade_account(env)
    report = env.client.get(made.json()["seizure_url"], headers=trade)
    assert report.status_code in (403, 404), report.text


# Routes a trade account may use: verification (its whole purpose) and what is public.
OPEN_TO_TRADE = {
    ("POST", "/v1/verify"),
    ("POST", "/v1/verify-only"),
    ("GET", "/v1/trust-list"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/v1/log/checkpoint"),  # the transparency log's public head and key
    ("GET", "/v1/log/key"),
}


def test_a_trade_token_gets_nothing_else_from_any_route(env: Env) -> None:
    """Every other route of the service, called with a trade token, answers no 2xx."""
    env.register(["SW1"])
    env.verify(env.sign("LEAK2"), country="NL")  # an alert exists
    trade = add_trade_account(env)
    concrete = {
        "{gtin}": env.ACME_GTIN, "{serial}": "SW1", "{lot}": "LOT1", "{alert_id}": "1",
        "{seizure_id}": "1", "{scan_id}": "00000000-0000-4000-8000-000000000000",
        "{brand_id}": "acme", "{batch_id}": "B1", "{account_id}": "1",
    }  # fmt: skip
    answered, tried = [], 0
    for method, path in sorted(enumerate_routes(env.app)):
        if (method, path) not in OPEN_TO_TRADE:
            url = path
            for key, value in concrete.items():
                url = url.replace(key, value)
            if "{" in url:  # a path parameter this test has no value for
                continue
            tried += 1
            response = env.client.request(method, url, json={}, headers=trade)
            if 200 <= response.status_code < 300:
                answered.append(f"{method} {path} -> {response.status_code}")
    assert tried >= 20, tried  # the sweep reached the service's routes
    assert answered == [], answered
