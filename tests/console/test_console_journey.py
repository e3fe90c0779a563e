"""The journey picture's logic and SVG, with plain values (no database, no server)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from authn.errors import InvalidInput
from console.code_pages import expiry_date
from console.data import code_from_text
from console.journey import build_journey
from console.overview import by_week
from console.svg import Projection, bar_chart, journey_svg
from detection import CodeRecord, Scan
from tests.console.console_world import LYON, NOW, PARIS, SHANGHAI

RECORD = CodeRecord(gtin="09506000000428", serial="S1", registered=True)


def scan(scan_id: str, where: tuple[float, float], hours: float, country: str) -> Scan:
    at = NOW + timedelta(hours=hours)
    return Scan(
        scan_id=scan_id, scanned_at=at, received_at=at, role="officer", lat=where[0],
        lon=where[1], accuracy_m=20, country=country, device_id=f"dev-{scan_id}",
    )  # fmt: skip


def test_a_copy_between_two_genuine_scans_marks_its_legs_and_the_last_good_place() -> None:
    scans = [
        scan("a", LYON, 0, "FR"),
        scan("b", PARIS, 24, "FR"),
        scan("c", SHANGHAI, 25, "CN"),  # the copy
        scan("d", PARIS, 26, "FR"),  # the genuine unit again: Shanghai -> Paris is impossible too
    ]
    journey = build_journey(RECORD, list(reversed(scans)))  # order given does not matter
    assert [s.number for s in journey.stops] == [1, 2, 3, 4]
    assert journey.first_offending is not None
    assert journey.first_offending.scan_id == "c"
    assert journey.last_legitimate is not None
    assert journey.last_legitimate.scan_id == "b"
    offending = {
        (leg.start.scan.scan_id, leg.end.scan.scan_id) for leg in journey.legs if leg.offending
    }
    assert ("b", "c") in offending
    assert ("c", "d") in offending
    plain = [leg for leg in journey.legs if not leg.offending]
    assert [(leg.start.scan.scan_id, leg.end.scan.scan_id) for leg in plain] == [("a", "b")]
    assert 385 < plain[0].distance_km < 395
    speed = plain[0].speed_kmh
    assert speed is not None
    assert 15 < speed < 17  # about 391 km in 24 h
    assert journey.risk > 0.6


def test_svg_marks_offending_legs_red_and_dashed_and_stays_local() -> None:
    journey = build_journey(RECORD, [scan("a", PARIS, 0, "FR"), scan("b", SHANGHAI, 1, "CN")])
    svg = journey_svg(journey)
    leg = re.search(r'<g class="leg offending" data-from="a" data-to="b">(.*?)</g>', svg)
    assert leg is not None
    assert 'stroke="#b3261e"' in leg.group(1)
    assert "stroke-dasharray" in leg.group(1)
    assert "<text" not in leg.group(1)  # explained in the list beside the map, not on it
    assert 'class="last-legitimate"' not in svg  # the stop group carries it with "stop"
    assert 'class="stop last-legitimate" data-scan-id="a"' in svg
    assert 'viewBox="0 0 800 480"' in svg
    assert not re.search(r"(href|src)=", svg)
    assert svg.count("http") == 1  # the SVG namespace only, never a request


def test_quiet_code_has_no_offending_leg() -> None:
    journey = build_journey(RECORD, [scan("a", LYON, 0, "FR"), scan("b", PARIS, 24, "FR")])
    assert journey.first_offending is None
    assert journey.last_legitimate is None
    assert not any(leg.offending for leg in journey.legs)
    assert "offending" not in journey_svg(journey)


def test_projection_keeps_points_inside_and_north_up() -> None:
    projection = Projection.around([(PARIS[1], PARIS[0]), (SHANGHAI[1], SHANGHAI[0])])
    paris, shanghai = projection.xy(PARIS[1], PARIS[0]), projection.xy(SHANGHAI[1], SHANGHAI[0])
    for x, y in (paris, shanghai):
        assert 0 < x < 800
        assert 0 < y < 480
    assert paris[0] < shanghai[0]  # west is left
    assert paris[1] < shanghai[1]  # north is up


def test_bar_chart_and_weeks() -> None:
    chart = bar_chart("Scans by country", [("FR", 10), ("CN", 5), ("<b>", 1)], ident="c")
    widths = [float(w) for w in re.findall('<rect x="90.0" y="[^"]+" width="([^"]+)"', chart)]
    assert widths[0] == 2 * widths[1]
    assert "&lt;b&gt;" in chart
    assert "<b>" not in chart
    weeks = by_week([NOW, NOW - timedelta(days=7), NOW - timedelta(days=400)], NOW)
    assert len(weeks) == 12
    assert [count for _, count in weeks][-2:] == [1, 1]
    assert sum(count for _, count in weeks) == 2


def test_expiry_reads_as_a_date() -> None:
    assert expiry_date("290630") == "2029-06-30"
    assert expiry_date("290600") == "end of 2029-06"  # day 00: the month's last day
    assert expiry_date("291330") == "291330"  # not a month: shown as stored
    assert expiry_date(None) == "—"


def test_code_search_reads_every_form_of_a_code() -> None:
    gtin = "09506000000428"
    for typed in (
        f"https://id.example.com/01/{gtin}/21/S1", f"(01){gtin}(21)S1", f"01{gtin}21S1",
        f"{gtin} S1", f"{gtin[1:]} S1",
    ):  # fmt: skip
        assert code_from_text(typed) == (gtin, "S1"), typed
    for bad in ("", "hello", f"(01){gtin}"):
        with pytest.raises(InvalidInput):
            code_from_text(bad)


def test_clusters_keep_every_scan_once_and_their_labels_apart() -> None:
    scans = [scan(f"s{i:03d}", (PARIS[0] + i * 0.01, PARIS[1]), i, "FR") for i in range(50)]
    journey = build_journey(RECORD, [*scans, scan("far", SHANGHAI, 60, "CN")])
    svg = journey_svg(journey)
    groups = re.findall(r'data-scan-ids="([^"]+)"', svg)
    assert sorted(i for g in groups for i in g.split()) == sorted(
        s.scan.scan_id for s in journey.stops
    )
    assert len(groups) == 2  # the Paris crowd is one marker, Shanghai another
    assert ">1–50</text>" in svg
