"""One address, or one network, cannot flip a genuine code by opening its label URL
again and again without a cookie or with fresh ones (docs/detection.md)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from detection.model import DetectionSettings
from tests.mobile.conftest import Clock, Env, World, env_with
from tests.mobile.test_mobile_page import HTML, path_of

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
