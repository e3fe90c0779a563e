"""The acceptance test of issue #14's page path: three phones on three continents open the
same fresh label URL within a minute, through a trusted proxy. The third view makes three
independent networks two continents apart: its page says "Check advised", the code is
flagged, and every later page says so. The second page still says "Authentic product": two
networks are one griefer with a VPN as easily as two items (docs/detection.md, the
independence rule). Three phones in one country leave it "Authentic product"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from mobile_api.netplace import locate
from tests.mobile.conftest import Clock, LiveServer, World, live_server_with, signed_uri
from verifier.db.models import CodeRecord

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

# One address per continent, each on its own network (checked against geoip2fast below).
THREE_CONTINENTS = (("90.0.0.1", "FR"), ("8.8.8.8", "US"), ("139.130.4.5", "AU"))
ONE_COUNTRY = (("90.0.0.1", "FR"), ("212.27.48.10", "FR"), ("193.51.24.1", "FR"))
# A consumer who opens the page after the three: the flag holds for every later page.
LATER = (("193.51.24.1", "FR"),)


@pytest.fixture
def proxied_server(sqlite_database: str, world: World, clock: Clock) -> Iterator[LiveServer]:
    # The browsers reach the server from 127.0.0.1, the proxy that sets X-Forwarded-For.
    yield from live_server_with(sqlite_database, world, clock, trusted_proxies=["127.0.0.1"])


def heading_seen_from(browser: object, url: str, address: str) -> str:
    context = browser.new_context(  # type: ignore[attr-defined]
        extra_http_headers={"X-Forwarded-For": address}
    )
    try:
        page = context.new_page()
        response = page.goto(url)
        assert response is not None
        assert response.status == 200
        heading: str = page.locator("#verdict h1").inner_text()
        return heading
    finally:
        context.close()


def views(
    browser: object, server: LiveServer, serial: str, phones: tuple[tuple[str, str], ...]
) -> tuple[list[str], bool]:
    server.env.register([serial])
    url = signed_uri(server.env.world.acme_line, serial, base=server.base_url)
    headings = []
    for address, _country in phones:
        headings.append(heading_seen_from(browser, url, address))
        server.env.clock.advance(seconds=20)  # the three views within a minute
    with server.env.session() as session:
        record = session.exec(select(CodeRecord).where(CodeRecord.serial == serial)).one()
        flagged = record.flagged_at is not None
    return headings, flagged


@pytest.mark.parametrize("phones", [THREE_CONTINENTS, ONE_COUNTRY], ids=["continents", "country"])
def test_the_addresses_are_where_the_test_says(phones: tuple[tuple[str, str], ...]) -> None:
    places = [locate(address) for address, _ in phones]
    assert [p.country for p in places] == [country for _, country in phones]
    assert len({p.network for p in places}) == 3


def test_three_phones_on_three_continents_see_check_advised(
    browser: object, proxied_server: LiveServer
) -> None:
    headings, flagged = views(browser, proxied_server, "CONT3", THREE_CONTINENTS + LATER)
    assert headings == ["Authentic product", "Authentic product", "Check advised", "Check advised"]
    assert flagged  # three independent networks, two continents apart within a minute


def test_three_phones_in_one_country_keep_authentic_product(
    browser: object, proxied_server: LiveServer
) -> None:
    headings, flagged = views(browser, proxied_server, "CTRY3", ONE_COUNTRY)
    assert headings == ["Authentic product"] * 3
    assert not flagged
