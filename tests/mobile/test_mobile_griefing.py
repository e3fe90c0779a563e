"""One address, or one network, cannot flip a genuine code by opening its label URL
again and again without a cookie or with fresh ones (docs/detection.md)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from detection.model import DetectionSettings
from tests.mobile.conftest import Clock, Env, World, env_with
from tests.mobile.test_mobile_page import HTML, path_of
from verifier.db.models import CodeRecord

# Ten times the device threshold, as the griefing test asks.
N = 10 * DetectionSettings().max_distinct_devices
# Addresses in distinct geoip2fast networks on five continents.
FAR_NETWORKS = (
    "1.1.1.1", "8.8.8.8", "200.160.2.3", "133.11.0.1", "41.0.0.1", "77.88.8.8",
    "114.114.114.114", "94.140.14.14", "200.89.75.1", "196.25.1.1",
)  # fmt: skip


def phone(env: Env, ip: str, port: int = 50000) -> TestClient:
    return TestClient(env.app, base_url="https://id.example.com", client=(ip, port))


def verdict_of(page: str) -> str:
    return "authentic" if "Authentic product" in page else "advised"


def griefer_views(env: Env, path: str, *, one_address: bool) -> None:
    """N views without a cookie or with a fresh one, from one address or from N
    addresses of one network."""
    for i in range(N):
        ip = "81.2.69.160" if one_address else f"81.2.69.{i + 1}"
        cookie = {"Cookie": ""} if i % 2 else {}  # none, or the fresh one each new client gets
        response = phone(env, ip, 40000 + i).get(path, headers={**HTML, **cookie})
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("one_address", [True, False], ids=["one-address", "one-network"])
def test_one_address_or_network_is_one_device(env: Env, one_address: bool) -> None:
    env.register(["GRIEF1"])
    path = path_of(env.sign("GRIEF1"))
    griefer_views(env, path, one_address=one_address)
    consumer = phone(env, FAR_NETWORKS[0])
    assert verdict_of(consumer.get(path, headers=HTML).text) == "authentic"


def test_many_networks_still_count_as_many_devices(env: Env) -> None:
    # The control: without it the tests above could pass by never counting at all.
    env.register(["SPREAD1"])
    path = path_of(env.sign("SPREAD1"))
    verdicts = [verdict_of(phone(env, ip).get(path, headers=HTML).text) for ip in FAR_NETWORKS]
    assert verdicts[0] == "authentic"
    assert verdicts[-1] == "advised"


def test_with_the_limiter_on_a_flood_from_one_address_is_refused_and_changes_nothing(
    sqlite_database: str, world: World, clock: Clock
) -> None:
    # The limiter as an operator would set it tighter: the flood mostly gets 429, and what
    # got through is still one network, so the next consumer elsewhere sees it genuine.
    limit = 2 * DetectionSettings().max_distinct_devices
    # An hour-long fixed window, so the flood never straddles two windows on a slow machine.
    settings = {"anonymous_verify_limit": limit, "rate_limit_window_seconds": 3600}
    for env in env_with(sqlite_database, world, clock, **settings):
        env.register(["GRIEF2"])
        path = path_of(env.sign("GRIEF2"))
        codes = [
            phone(env, "81.2.69.160", 40000 + i).get(path, headers=HTML).status_code
            for i in range(10 * limit)
        ]
        assert codes.count(200) == limit
        assert codes.count(429) == 9 * limit
        consumer = phone(env, FAR_NETWORKS[0])
        assert verdict_of(consumer.get(path, headers=HTML).text) == "authentic"


def flagged(env: Env, serial: str) -> bool:
    with env.session() as session:
        record = session.exec(select(CodeRecord).where(CodeRecord.serial == serial)).one()
        return record.flagged_at is not None


def test_a_flood_and_one_far_view_neither_flag_nor_alarm_the_next_consumer(any_env: Env) -> None:
    # The independence rule on both databases: one network's flood plus one view from the
    # other side of the world are two sources, not three; the next consumer sees it genuine.
    env = any_env
    env.register(["IND1"])
    path = path_of(env.sign("IND1"))
    for i in range(20):
        assert phone(env, "81.2.69.160", 41000 + i).get(path, headers=HTML).status_code == 200
    far = phone(env, "139.130.4.5").get(path, headers=HTML).text  # Australia
    assert verdict_of(far) == "authentic"
    assert not flagged(env, "IND1")


def test_three_networks_two_continents_apart_flag_the_code(any_env: Env) -> None:
    env = any_env
    env.register(["IND2"])
    path = path_of(env.sign("IND2"))
    seen = []
    for ip in ("90.0.0.1", "8.8.8.8", "139.130.4.5"):  # France, the US, Australia
        seen.append(verdict_of(phone(env, ip).get(path, headers=HTML).text))
        env.clock.advance(seconds=20)
    assert seen == ["authentic", "authentic", "advised"]
    assert flagged(env, "IND2")
    # Flagged: the next consumer anywhere is told.
    assert verdict_of(phone(env, "212.27.48.10").get(path, headers=HTML).text) == "advised"
