"""IMPOSSIBLE_TRAVEL and CONCURRENT_SCANS: tables of (history, new scan) -> reasons."""

from __future__ import annotations

import datetime as dt

import pytest

from detection import (
    CodeRecord,
    DetectionSettings,
    ProductThresholds,
    Scan,
    concurrent_scans,
    impossible_travel,
    reasons,
)

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
FRANKFURT_AIRPORT = (50.0379, 8.5622)
SHANGHAI_AIRPORT = (31.1443, 121.8083)  # 8,858 km from Frankfurt's
PARIS = (48.8566, 2.3522)
NEW_YORK = (40.7128, -74.0060)  # 5,837 km from Paris
LONDON = (51.5074, -0.1278)
FRANKFURT = (50.1109, 8.6821)  # 638 km from London
LYON = (45.7640, 4.8357)  # 392 km from Paris
RECORD = CodeRecord(gtin="09506000134352", serial="ABC123", registered=True)
SETTINGS = DetectionSettings()


def scan(
    scan_id: str,
    minutes: float,
    where: tuple[float, float] | None,
    *,
    accuracy_m: float | None = 30.0,
    device: str | None = None,
    role: str = "consumer",
    received_delay_min: float = 0.0,
) -> Scan:
    at = T0 + dt.timedelta(minutes=minutes)
    return Scan(
        scan_id=scan_id,
        scanned_at=at,
        received_at=at + dt.timedelta(minutes=received_delay_min),
        role=role,  # type: ignore[arg-type]
        lat=where[0] if where else None,
        lon=where[1] if where else None,
        accuracy_m=accuracy_m if where else None,
        device_id=device if device is not None else f"dev-{scan_id}",
    )


def offset(point: tuple[float, float], km_north: float) -> tuple[float, float]:
    """A point ``km_north`` kilometres north of ``point`` (1 degree of latitude = 111.2 km)."""
    return (point[0] + km_north / 111.195, point[1])


def home_checks() -> list[Scan]:
    """One phone checking its purchase ten times at home, with a few hundred metres of GPS noise."""
    return [
        scan(f"h{i}", i * 600.0, offset(PARIS, (i % 3) * 0.3), device="buyer") for i in range(10)
    ]


def both_rules(history: list[Scan], new: Scan, settings: DetectionSettings = SETTINGS) -> set[str]:
    now = new.received_at
    found = impossible_travel(RECORD, history, new, settings, now=now)
    found += concurrent_scans(RECORD, history, new, settings, now=now)
    return {f.reason for f in found}


TRAVEL = reasons.IMPOSSIBLE_TRAVEL
CONCURRENT = reasons.CONCURRENT_SCANS

CASES = [
    # --- noise that must never fire ---
    pytest.param(
        [scan("a", 0, PARIS)], scan("b", 2, offset(PARIS, 3)), set(), id="gps-noise-3km-2min"
    ),
    pytest.param(
        home_checks(), scan("h10", 6000, PARIS, device="buyer"), set(), id="same-phone-at-home"
    ),
    pytest.param(
        [scan("a", 0, PARIS, device="x")],
        scan("b", 10, NEW_YORK, device="x"),
        set(),
        id="one-device-jump-is-a-location-error",
    ),
    pytest.param(
        [scan("a", 0, FRANKFURT_AIRPORT)],
        scan("b", 11 * 60, SHANGHAI_AIRPORT),
        set(),
        id="flight-fra-pvg-11h-805kmh",
    ),
    pytest.param(
        [scan("a", 0, offset(PARIS, -30), accuracy_m=40_000)],
        scan("b", 5, offset(PARIS, 30), accuracy_m=40_000),
        set(),
        id="accuracy-widening-60km-apart-40km-each",
    ),
    pytest.param(
        [scan("a", 0, PARIS, accuracy_m=10)],
        scan("b", 1, offset(PARIS, 40), accuracy_m=10),
        set(),
        id="below-min-distance",
    ),
    pytest.param(
        # A real 48-minute hop at 850 km/h, the second phone's clock 3 minutes slow:
        # raw 906 km/h, within the limit once skew is allowed for.
        [scan("a", 0, PARIS)],
        scan("b", 45, offset(PARIS, 680)),
        set(),
        id="clock-skew-3min",
    ),
    pytest.param([scan("a", 0, PARIS)], scan("b", 60, None), set(), id="no-coordinates"),
    pytest.param(
        [scan("a", 0, None)], scan("b", 60, NEW_YORK), set(), id="history-without-coordinates"
    ),
    pytest.param(
        [scan("a", 0, PARIS)], scan("b", 20, offset(PARIS, 150)), set(), id="150km-in-20min"
    ),
    pytest.param(
        [scan("a", 11 * 60, FRANKFURT_AIRPORT)],
        scan("b", 0, SHANGHAI_AIRPORT, received_delay_min=24 * 60),
        set(),
        id="out-of-order-but-possible",
    ),
    # --- copies that must fire ---
    pytest.param(
        [scan("a", 0, FRANKFURT_AIRPORT)],
        scan("b", 4 * 60, SHANGHAI_AIRPORT),
        {TRAVEL},
        id="fra-pvg-in-4h",
    ),
    pytest.param(
        [scan("a", 0, PARIS)],
        scan("b", 3, offset(PARIS, 800)),
        {TRAVEL, CONCURRENT},
        id="800km-3min",
    ),
    pytest.param(
        # 150 km in 8 min: 692 km/h with the skew allowance, so only the concurrency rule fires.
        [scan("a", 0, PARIS)],
        scan("b", 8, offset(PARIS, 150)),
        {CONCURRENT},
        id="150km-within-window",
    ),
    pytest.param(
        [scan("a", 0, PARIS, device="x")],
        scan("b", 0, NEW_YORK, device="y"),
        {TRAVEL, CONCURRENT},
        id="same-instant",
    ),
    pytest.param(
        # The clone scanned between two genuine checks: the latest history scan is
        # harmless, the one before it is not.
        [scan("clone", 0, SHANGHAI_AIRPORT), scan("genuine1", 60, PARIS)],
        scan("genuine2", 120, offset(PARIS, 1)),
        {TRAVEL},
        id="clone-between-genuine-scans",
    ),
    pytest.param(
        [scan("a", 0, FRANKFURT_AIRPORT), scan("c", 10 * 60, FRANKFURT_AIRPORT)],
        scan("b", 5 * 60, SHANGHAI_AIRPORT, received_delay_min=12 * 60),
        {TRAVEL},
        id="out-of-order-offline-scan",
    ),
    pytest.param(
        # The device claims a time 20 h after it was received; the server's time wins.
        [scan("a", 0, FRANKFURT_AIRPORT)],
        scan("b", 20 * 60, SHANGHAI_AIRPORT, received_delay_min=-19 * 60),
        {TRAVEL},
        id="clock-ahead-cannot-hide-a-copy",
    ),
    pytest.param(
        [scan("a", 0, LONDON)], scan("b", 30, FRANKFURT), {TRAVEL}, id="london-frankfurt-30min"
    ),
]


@pytest.mark.parametrize(("history", "new", "expected"), CASES)
def test_travel_rules(history: list[Scan], new: Scan, expected: set[str]) -> None:
    assert both_rules(history, new) == expected


def test_travel_finding_names_the_leg_and_speed() -> None:
    history = [scan("genuine", 0, FRANKFURT_AIRPORT, role="officer"), scan("home", -60, PARIS)]
    new = scan("new", 4 * 60, SHANGHAI_AIRPORT)
    [finding] = impossible_travel(RECORD, history, new, SETTINGS, now=T0)
    assert finding.related_scan_ids == ("genuine", "home")
    assert finding.severity == "critical"  # an officer's scan is one end of a leg
    assert "50.04°N, 8.56°E" in finding.message
    assert "31.14°N, 121.81°E" in finding.message
    assert "8,858 km" in finding.message
    assert "2,169 km/h" in finding.message  # 8,858 km over 4 h + 5 min of allowed skew
    assert "1 other earlier scan conflicts" in finding.message


def test_anonymous_travel_is_a_warning_with_less_weight() -> None:
    history = [scan("a", 0, FRANKFURT_AIRPORT)]
    new = scan("b", 4 * 60, SHANGHAI_AIRPORT)
    [anonymous] = impossible_travel(RECORD, history, new, SETTINGS, now=T0)
    officer_new = scan("b", 4 * 60, SHANGHAI_AIRPORT, role="officer")
    [officer] = impossible_travel(RECORD, history, officer_new, SETTINGS, now=T0)
    assert anonymous.severity == "warning"
    assert officer.severity == "critical"
    assert anonymous.weight < officer.weight


def test_concurrent_rule_is_symmetric() -> None:
    """Two workers judge two far-apart scans at once; each sees the other: both flag."""
    first = scan("worker1", 0, PARIS, device="p")
    second = scan("worker2", 0, LYON, device="q")
    both = [first, second]
    for new in both:
        found = concurrent_scans(RECORD, both, new, SETTINGS, now=T0)
        assert [f.reason for f in found] == [CONCURRENT]
        other = ({"worker1", "worker2"} - {new.scan_id}).pop()
        assert found[0].related_scan_ids == (other,)


def test_new_scan_in_its_own_history_is_ignored() -> None:
    new = scan("b", 0, PARIS)
    assert both_rules([new], new) == set()


def test_product_speed_override() -> None:
    """A product that only moves by road may set a lower speed for its own codes."""
    record = CodeRecord(
        gtin="09506000134352",
        serial="ROAD1",
        registered=True,
        thresholds=ProductThresholds(max_speed_kmh=200.0),
    )
    history = [scan("a", 0, PARIS)]
    new = scan("b", 60, LYON)  # 392 km in an hour: a plane could, a lorry could not
    assert impossible_travel(RECORD, history, new, SETTINGS, now=T0) == []
    found = impossible_travel(record, history, new, SETTINGS, now=T0)
    assert [f.reason for f in found] == [TRAVEL]


def test_assumed_accuracy_widens_scans_without_stated_accuracy() -> None:
    settings = DetectionSettings(assumed_accuracy_m=30_000)
    history = [scan("a", 0, PARIS, accuracy_m=None)]
    new = scan("b", 2, offset(PARIS, 170), accuracy_m=None)  # 170 - 2 x 30 = 110 km left
    assert both_rules(history, new, settings) == {TRAVEL, CONCURRENT}
    wider = DetectionSettings(assumed_accuracy_m=40_000)  # 90 km left: 771 km/h, not concurrent
    assert both_rules(history, new, wider) == set()
