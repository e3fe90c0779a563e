"""The independence rule: anonymous page views alone flag a code only from at least three
networks, two of them too far apart to be one item (detection.flagging)."""

from __future__ import annotations

import datetime as dt

import pytest

from detection import DetectionSettings, Scan
from detection.flagging import INDEPENDENCE_WINDOW, independent_sources
from verifier.geography import country_places

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def settings() -> DetectionSettings:
    return DetectionSettings(countries=country_places())


def view(
    scan_id: str, minutes: float, country: str | None, network: str, *, browser: str = "b"
) -> Scan:
    at = T0 + dt.timedelta(minutes=minutes)
    return Scan(
        scan_id=scan_id, scanned_at=at, received_at=at, role="consumer", country=country,
        device_id=f"net:{network}/{browser}",
    )  # fmt: skip


def test_three_networks_on_two_far_continents_flag(settings: DetectionSettings) -> None:
    history = [view("a", 0, "FR", "n1"), view("b", 1, "AU", "n2")]
    sources = independent_sources(history, view("c", 2, "US", "n3"), settings)
    assert sources == ("c", "a", "b")


def test_one_far_source_never_decides(settings: DetectionSettings) -> None:
    # Three networks, but only one far away: it alone may be a VPN exit or a rented server.
    history = [view("a", 0, "FR", "n1"), view("b", 1, "FR", "n2")]
    assert independent_sources(history, view("c", 2, "AU", "n3"), settings) is None
    # Two networks on each side: no one source decides.
    history = [*history, view("c", 2, "AU", "n3")]
    assert independent_sources(history, view("d", 3, "AU", "n4"), settings) == (
        "d", "a", "b", "c",
    )  # fmt: skip


def test_two_networks_are_not_enough(settings: DetectionSettings) -> None:
    history = [view("a", 0, "FR", "n1")]
    assert independent_sources(history, view("b", 1, "AU", "n2"), settings) is None


def test_one_network_counts_once_however_many_views_and_browsers(
    settings: DetectionSettings,
) -> None:
    # 50 views from one network (fresh browsers each, any claimed place) plus one far view.
    history = [view(f"g{i}", i * 0.1, "FR", "grief", browser=f"b{i}") for i in range(50)]
    assert independent_sources(history, view("x", 6, "AU", "n2"), settings) is None


def test_three_networks_in_one_country_or_neighbours_never_flag(
    settings: DetectionSettings,
) -> None:
    history = [view("a", 0, "FR", "n1"), view("b", 1, "DE", "n2"), view("c", 2, "BE", "n3")]
    assert independent_sources(history, view("d", 3, "FR", "n4"), settings) is None


def test_far_apart_but_hours_apart_is_travel_not_two_items(settings: DetectionSettings) -> None:
    # France, then Australia 20 h later, then Australia again: one item could have flown.
    history = [view("a", 0, "FR", "n1"), view("b", 20 * 60, "AU", "n2")]
    assert independent_sources(history, view("c", 20 * 60 + 5, "AU", "n3"), settings) is None


def test_views_outside_the_window_do_not_count(settings: DetectionSettings) -> None:
    old = INDEPENDENCE_WINDOW.total_seconds() / 60 + 10
    history = [view("a", 0, "FR", "n1"), view("b", 1, "AU", "n2")]
    late = view("c", old, "US", "n3")
    assert independent_sources(history, late, settings) is None


def test_scans_not_placed_by_the_service_never_count(settings: DetectionSettings) -> None:
    # A device id the caller chose, and unknown countries, are no independent source.
    chosen = Scan(
        scan_id="a", scanned_at=T0, received_at=T0, role="consumer", country="FR",
        device_id="phone-1",
    )  # fmt: skip
    history = [chosen, view("b", 1, "AU", "n2")]
    assert independent_sources(history, view("c", 2, "US", "n3"), settings) is None  # 2 networks
    placed = [view("a", 0, "FR", "n1"), view("b", 1, "AU", "n2")]
    assert independent_sources(placed, view("c", 2, "US", "n3"), settings) is not None
    unknown = [view("a", 0, None, "n1"), view("b", 1, None, "n2")]
    assert independent_sources(unknown, view("c", 2, None, "n3"), settings) is None


def test_without_country_data_nothing_is_apart() -> None:
    history = [view("a", 0, "FR", "n1"), view("b", 1, "AU", "n2")]
    assert independent_sources(history, view("c", 2, "US", "n3"), DetectionSettings()) is None
