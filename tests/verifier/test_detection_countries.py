"""Travel and concurrency for scans placed only by country (page views), on the real
GeoNames data: impossible only if even the two countries' nearest points are too far."""

from __future__ import annotations

import datetime as dt

import pytest

from detection import CodeRecord, DetectionSettings, Scan, concurrent_scans, impossible_travel
from detection import reasons as r
from detection.countries import City, build_places, country_distance_km
from verifier.geography import LazyCountryPlaces, country_places

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
RECORD = CodeRecord(gtin="09506000134352", serial="C1", registered=True)
PARIS = (48.8566, 2.3522)


@pytest.fixture(scope="module")
def settings() -> DetectionSettings:
    return DetectionSettings(countries=country_places())


def view(scan_id: str, minutes: float, country: str | None) -> Scan:
    """A page view: anonymous, placed by its network's country."""
    at = T0 + dt.timedelta(minutes=minutes)
    return Scan(
        scan_id=scan_id, scanned_at=at, received_at=at, role="consumer", country=country,
        device_id=f"net:{scan_id}/b",
    )  # fmt: skip


def trade(scan_id: str, minutes: float, country: str | None) -> Scan:
    """An accountable scan that gave its country and no coordinates."""
    at = T0 + dt.timedelta(minutes=minutes)
    return Scan(
        scan_id=scan_id, scanned_at=at, received_at=at, role="trade", country=country,
        device_id=f"site-{scan_id}",
    )  # fmt: skip


def found(history: list[Scan], scan: Scan, settings: DetectionSettings) -> set[str]:
    findings = [
        *impossible_travel(RECORD, history, scan, settings, now=scan.scanned_at),
        *concurrent_scans(RECORD, history, scan, settings, now=scan.scanned_at),
    ]
    return {f.reason for f in findings}


def test_france_and_australia_half_an_hour_apart_is_impossible(settings: DetectionSettings) -> None:
    assert found([trade("a", 0, "FR")], view("b", 30, "AU"), settings) == {r.IMPOSSIBLE_TRAVEL}
    # Within the concurrency window it is two labels at once, too.
    assert found([trade("a", 0, "FR")], view("b", 3, "AU"), settings) == {
        r.IMPOSSIBLE_TRAVEL, r.CONCURRENT_SCANS,
    }  # fmt: skip
    # A day is enough to fly there: nothing.
    assert found([trade("a", 0, "FR")], view("b", 24 * 60, "AU"), settings) == set()


def test_two_anonymous_views_by_country_need_the_independence_rule(
    settings: DetectionSettings,
) -> None:
    # One far-away view is one griefer's VPN as easily as a copy: the next page stays calm.
    assert found([view("a", 0, "FR")], view("b", 30, "AU"), settings) == set()
    # Three networks, two continents apart within minutes: independent sources.
    history = [view("a", 0, "FR"), view("b", 1, "US")]
    assert found(history, view("c", 2, "AU"), settings) == {
        r.IMPOSSIBLE_TRAVEL, r.CONCURRENT_SCANS,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("a", "b"),
    [("FR", "DE"), ("FR", "ES"), ("US", "CA"), ("US", "MX"), ("DE", "PL"), ("FR", "GB")],
)
def test_border_neighbours_never_trigger(settings: DetectionSettings, a: str, b: str) -> None:
    assert settings.countries is not None
    assert settings.countries.between(a, b) == 0.0
    assert found([trade("a", 0, a)], view("b", 1, b), settings) == set()
    assert found([view("a", 0, a), view("c", 0.5, a)], view("b", 1, b), settings) == set()


@pytest.mark.parametrize("unknown", [None, "XX", "ZZ"])
def test_an_unknown_country_never_triggers(
    settings: DetectionSettings, unknown: str | None
) -> None:
    assert found([trade("a", 0, "FR")], view("b", 1, unknown), settings) == set()
    assert found([trade("a", 0, unknown)], view("b", 1, "AU"), settings) == set()


def test_a_point_against_a_country_uses_the_countrys_nearest_place(
    settings: DetectionSettings,
) -> None:
    officer = Scan(
        scan_id="o", scanned_at=T0, received_at=T0, role="officer", lat=PARIS[0], lon=PARIS[1],
        accuracy_m=20, device_id="post-1",
    )  # fmt: skip
    findings = impossible_travel(RECORD, [officer], view("v", 10, "AU"), settings, now=T0)
    assert [f.reason for f in findings] == [r.IMPOSSIBLE_TRAVEL]
    assert findings[0].severity == "critical"  # an officer's scan at one end
    assert found([officer], view("v", 10, "FR"), settings) == set()
    # Switzerland is 400 km from Paris, but a land neighbour of France: never.
    assert found([officer], view("v", 1, "BE"), settings) == set()
    assert found([officer], view("v", 1, "CH"), settings) == set()
    assert country_places().places().country_at(*PARIS) == "FR"


def test_the_service_builds_the_country_data_only_when_a_rule_asks() -> None:
    holder = LazyCountryPlaces()
    assert holder._places is None  # a worker starts without it (docs/performance.md)
    assert holder.between("FR", "DE") == 0.0
    assert holder._places is not None


def test_without_country_data_country_only_scans_are_never_compared() -> None:
    assert found([trade("a", 0, "FR")], view("b", 1, "AU"), DetectionSettings()) == set()


def test_the_bound_is_below_the_real_distance_between_capitals() -> None:
    places = country_places()
    # Paris to Canberra is about 16,900 km; Paris to Tokyo 9,700; the bound is less.
    fr_au = places.between("FR", "AU")
    fr_jp = places.between("FR", "JP")
    assert fr_au is not None
    assert 10_000 < fr_au < 16_900
    assert fr_jp is not None
    assert 5_000 < fr_jp < 9_700


def test_the_margin_keeps_close_countries_across_the_sea_at_zero() -> None:
    # Two made-up countries whose only cities are 150 km apart across water: each margin
    # is at least the floor, so they may be touching.
    places = build_places([City("AA", 0.0, 0.0), City("BB", 0.0, 1.35)], {"AA": [], "BB": []})
    assert country_distance_km(places, "AA", "BB") == 0.0
    far = build_places([City("AA", 0.0, 0.0), City("BB", 0.0, 90.0)], {})
    distance = country_distance_km(far, "AA", "BB")
    assert distance is not None
    assert 9_000 < distance < 10_008
