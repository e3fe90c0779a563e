"""State, registration, market and device rules: (record, history, new scan) -> findings."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from authn.errors import InvalidInput
from detection import (
    CodeRecord,
    DetectionSettings,
    Finding,
    ProductThresholds,
    Scan,
    code_expired,
    code_not_registered,
    outside_intended_market,
    reasons,
    recalled,
    scanned_after_decommission,
    too_many_devices,
)

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
HOME = (48.8566, 2.3522)
SETTINGS = DetectionSettings()
ACTIVE = CodeRecord(gtin="09506000134352", serial="ABC123", registered=True)


def scan(
    scan_id: str,
    minutes: float = 0.0,
    *,
    where: tuple[float, float] | None = HOME,
    device: str | None = "phone",
    role: str = "consumer",
    country: str | None = "FR",
) -> Scan:
    at = T0 + dt.timedelta(minutes=minutes)
    return Scan(
        scan_id=scan_id,
        scanned_at=at,
        received_at=at,
        role=role,  # type: ignore[arg-type]
        lat=where[0] if where else None,
        lon=where[1] if where else None,
        accuracy_m=50.0 if where else None,
        country=country,
        device_id=device,
    )


def with_status(status: str, changed_minutes: float = -60.0) -> CodeRecord:
    return dataclasses.replace(
        ACTIVE,
        status=status,  # type: ignore[arg-type]
        status_changed_at=T0 + dt.timedelta(minutes=changed_minutes),
    )


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


DAY = 24 * 60.0


# --- SCANNED_AFTER_DECOMMISSION ------------------------------------------------

DECOMMISSION_CASES = [
    # (record, history, new scan, expected (severity, weighted?) or None)
    pytest.param(ACTIVE, [], scan("n"), None, id="active"),
    pytest.param(with_status("sample"), [], scan("n"), None, id="sample"),
    pytest.param(
        with_status("sold"),
        [scan(f"h{i}", i * DAY) for i in range(10)],
        scan("n", 10 * DAY),
        ("info", False),
        id="buyer-checks-purchase-10-times",
    ),
    pytest.param(
        with_status("sold"),
        [scan("h1", 10, device="buyer"), scan("h2", DAY, device="giftee")],
        scan("n", 2 * DAY, device="buyer"),
        ("info", False),
        id="sold-buyer-and-giftee",
    ),
    pytest.param(
        with_status("sold"),
        [scan("h1", 10, device="a"), scan("h2", DAY, device="b")],
        scan("n", 2 * DAY, device="c"),
        ("warning", True),
        id="sold-then-three-sessions",
    ),
    pytest.param(
        with_status("sold", changed_minutes=3 * DAY),
        [scan("h1", 0, device="a"), scan("h2", DAY, device="b"), scan("h3", 2 * DAY, device="c")],
        scan("n", 4 * DAY, device="buyer"),
        ("info", False),
        id="sessions-before-the-sale-do-not-count",
    ),
    pytest.param(
        with_status("sold"), [], scan("n", role="officer"), ("critical", True), id="sold-officer"
    ),
    pytest.param(
        with_status("sold"), [], scan("n", role="brand"), ("info", False), id="sold-brand"
    ),
    pytest.param(with_status("destroyed"), [], scan("n"), ("critical", True), id="destroyed"),
    pytest.param(with_status("stolen"), [], scan("n"), ("critical", True), id="stolen"),
    pytest.param(with_status("locked"), [], scan("n"), ("critical", True), id="locked"),
    pytest.param(with_status("exported"), [], scan("n"), ("warning", True), id="exported"),
    pytest.param(
        with_status("destroyed", changed_minutes=60),
        [],
        scan("n", 0),
        None,
        id="offline-scan-made-before-destruction",
    ),
]


@pytest.mark.parametrize(("record", "history", "new", "expected"), DECOMMISSION_CASES)
def test_scanned_after_decommission(
    record: CodeRecord, history: list[Scan], new: Scan, expected: tuple[str, bool] | None
) -> None:
    found = scanned_after_decommission(record, history, new, SETTINGS, now=T0)
    if expected is None:
        assert found == []
        return
    finding = only(found)
    assert finding.reason == reasons.SCANNED_AFTER_DECOMMISSION
    assert (finding.severity, finding.weight > 0) == expected


def test_decommission_names_status_and_earlier_scans() -> None:
    record = with_status("destroyed")
    history = [scan("before", -120), scan("after", -30)]
    finding = only(scanned_after_decommission(record, history, scan("n"), SETTINGS, now=T0))
    assert "destroyed on 2025-03-01 07:00 UTC" in finding.message
    assert finding.related_scan_ids == ("after",)


def test_sold_many_sessions_limit_follows_product_override() -> None:
    record = dataclasses.replace(
        with_status("sold"), thresholds=ProductThresholds(max_sessions_after_sale=3)
    )
    history = [scan("h1", 10, device="a"), scan("h2", DAY, device="b")]
    finding = only(
        scanned_after_decommission(record, history, scan("n", device="c"), SETTINGS, now=T0)
    )
    assert finding.severity == "info"


# --- recall and expiry -----------------------------------------------------------


def test_recalls() -> None:
    lot = dataclasses.replace(ACTIVE, lot="L42", lot_recalled=True)
    assert [f.reason for f in recalled(lot, [], scan("n"), SETTINGS, now=T0)] == [
        reasons.LOT_RECALLED
    ]
    unit = with_status("recalled")
    finding = only(recalled(unit, [], scan("n"), SETTINGS, now=T0))
    assert finding.reason == reasons.UNIT_RECALLED
    assert finding.weight == 0.0  # a safety notice, not a sign of copying
    assert recalled(ACTIVE, [], scan("n"), SETTINGS, now=T0) == []


EXPIRY_CASES = [
    # (expiry, scanned at, expired?)
    ("250200", dt.datetime(2025, 2, 28, 23, 0, tzinfo=dt.UTC), False),  # DD=00: end of February
    ("250200", dt.datetime(2025, 3, 1, 11, 59, tzinfo=dt.UTC), False),  # still 28 Feb at UTC-12
    ("250200", dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC), True),
    ("250215", dt.datetime(2025, 2, 17, 8, 0, tzinfo=dt.UTC), True),
    ("240229", dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC), False),  # leap day
    ("250229", dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC), False),  # no 29 Feb: end of Feb
    ("250229", dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC), True),
    ("991231", dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC), True),  # 1999 by the GS1 century rule
]


@pytest.mark.parametrize(("expiry", "at", "expired"), EXPIRY_CASES)
def test_code_expired(expiry: str, at: dt.datetime, expired: bool) -> None:
    record = dataclasses.replace(ACTIVE, expiry=expiry)
    new = Scan(scan_id="n", scanned_at=at, received_at=at, role="consumer")
    found = code_expired(record, [], new, SETTINGS, now=at)
    assert [f.reason for f in found] == ([reasons.CODE_EXPIRED] if expired else [])


def test_no_expiry_never_expires() -> None:
    assert code_expired(ACTIVE, [], scan("n"), SETTINGS, now=T0) == []


def test_bad_expiry_is_refused_at_construction() -> None:
    with pytest.raises(InvalidInput):
        dataclasses.replace(ACTIVE, expiry="251301")


# --- CODE_NOT_REGISTERED ---------------------------------------------------------


def test_unregistered_code_raises_a_key_alert() -> None:
    record = dataclasses.replace(ACTIVE, registered=False)
    finding = only(code_not_registered(record, [scan("h")], scan("n"), SETTINGS, now=T0))
    assert finding.reason == reasons.CODE_NOT_REGISTERED
    assert finding.severity == "critical"
    assert finding.key_alert
    assert finding.related_scan_ids == ("h",)


def test_brand_line_check_before_registration_is_only_noted() -> None:
    record = dataclasses.replace(ACTIVE, registered=False)
    finding = only(code_not_registered(record, [], scan("n", role="brand"), SETTINGS, now=T0))
    assert (finding.severity, finding.weight, finding.key_alert) == ("info", 0.0, False)
    assert code_not_registered(ACTIVE, [], scan("n"), SETTINGS, now=T0) == []


# --- OUTSIDE_INTENDED_MARKET -----------------------------------------------------

EU = frozenset({"DE", "FR", "IT"})

MARKET_CASES = [
    # (markets, country, role, fires)
    pytest.param(EU, "FR", "consumer", False, id="inside"),
    pytest.param(EU, "NG", "consumer", True, id="outside"),
    pytest.param(frozenset(), "NG", "consumer", False, id="anywhere"),
    pytest.param(EU, None, "consumer", False, id="country-unknown"),
    pytest.param(EU, "NG", "officer", True, id="outside-officer"),
]


@pytest.mark.parametrize(("markets", "country", "role", "fires"), MARKET_CASES)
def test_outside_intended_market(
    markets: frozenset[str], country: str | None, role: str, fires: bool
) -> None:
    record = dataclasses.replace(ACTIVE, intended_markets=markets)
    new = scan("n", country=country, role=role)
    found = outside_intended_market(record, [], new, SETTINGS, now=T0)
    assert [f.reason for f in found] == ([reasons.OUTSIDE_INTENDED_MARKET] if fires else [])


def test_officer_market_finding_weighs_more() -> None:
    record = dataclasses.replace(ACTIVE, intended_markets=EU)
    history = [scan("earlier-ng", country="NG"), scan("earlier-fr")]
    officer = only(
        outside_intended_market(
            record, history, scan("n", country="NG", role="officer"), SETTINGS, now=T0
        )
    )
    consumer = only(
        outside_intended_market(record, history, scan("n", country="NG"), SETTINGS, now=T0)
    )
    assert officer.weight > consumer.weight
    assert officer.related_scan_ids == ("earlier-ng",)
    assert "DE, FR, IT" in officer.message


# --- TOO_MANY_DEVICES ------------------------------------------------------------


def devices(count: int, **kwargs: object) -> list[Scan]:
    return [scan(f"d{i}", i * DAY, device=f"phone-{i}", **kwargs) for i in range(count)]  # type: ignore[arg-type]


DEVICE_CASES = [
    pytest.param(devices(4), scan("n", 5 * DAY, device="phone-new"), False, id="five-devices"),
    pytest.param(devices(5), scan("n", 5 * DAY, device="phone-new"), True, id="six-devices"),
    pytest.param(
        [scan(f"h{i}", i * 60, device="buyer") for i in range(10)],
        scan("n", 700, device="buyer"),
        False,
        id="same-phone-ten-times",
    ),
    pytest.param(
        [scan(f"h{i}", i * DAY, device=None) for i in range(10)],
        scan("n", 10 * DAY, device=None),
        False,
        id="deviceless-at-home-over-days",
    ),
    pytest.param(
        [scan(f"h{i}", i * 5, device=None, where=None) for i in range(10)],
        scan("n", 50, device=None, where=None),
        False,
        id="deviceless-unlocated-one-session",
    ),
    pytest.param(
        [scan(f"h{i}", i * DAY, device=None, where=None) for i in range(5)],
        scan("n", 5 * DAY, device=None, where=None),
        True,
        id="deviceless-unlocated-days-apart",
    ),
    pytest.param(
        [scan(f"h{i}", i, device=None, where=(HOME[0] + i, HOME[1])) for i in range(5)],
        scan("n", 5, device=None, where=(HOME[0] + 5, HOME[1])),
        True,
        id="deviceless-far-apart-in-space",
    ),
    pytest.param(
        devices(5, role="brand"), scan("n", 5 * DAY, device="phone-new"), False, id="brand-scans"
    ),
]


@pytest.mark.parametrize(("history", "new", "fires"), DEVICE_CASES)
def test_too_many_devices(history: list[Scan], new: Scan, fires: bool) -> None:
    found = too_many_devices(ACTIVE, history, new, SETTINGS, now=T0)
    assert [f.reason for f in found] == ([reasons.TOO_MANY_DEVICES] if fires else [])


def test_device_limit_per_product_and_graded_weight() -> None:
    relaxed = dataclasses.replace(ACTIVE, thresholds=ProductThresholds(max_distinct_devices=10))
    new = scan("n", 20 * DAY, device="phone-new")
    assert too_many_devices(relaxed, devices(5), new, SETTINGS, now=T0) == []
    slightly = only(too_many_devices(ACTIVE, devices(5), new, SETTINGS, now=T0))
    widely = only(too_many_devices(ACTIVE, devices(15), new, SETTINGS, now=T0))
    assert slightly.weight < widely.weight
    assert "at least 10 different devices" in widely.message
    assert "6 different devices" in slightly.message
    assert slightly.related_scan_ids == tuple(f"d{i}" for i in range(5))


# --- input validation ------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"scanned_at": dt.datetime(2025, 3, 1)},  # naive
        {"lat": 91.0, "lon": 0.0},
        {"lat": 10.0},  # without lon
        {"lat": float("nan"), "lon": 0.0},
        {"accuracy_m": -1.0},
        {"country": "fr"},
        {"role": "robot"},
        {"scan_id": ""},
        {"device_id": ""},
    ],
)
def test_bad_scans_are_refused(changes: dict[str, object]) -> None:
    base = {"scan_id": "s", "scanned_at": T0, "received_at": T0, "role": "consumer"}
    with pytest.raises(InvalidInput):
        Scan(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"max_speed_kmh": 0.0},
        {"min_distance_km": -1.0},
        {"max_distinct_devices": 0},
        {"anonymous_weight": 1.5},
        {"suspect_score": 0.0},
        {"session_gap": dt.timedelta(minutes=-1)},
    ],
)
def test_bad_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        DetectionSettings(**changes)  # type: ignore[arg-type]


def test_bad_records_are_refused() -> None:
    with pytest.raises(InvalidInput):
        dataclasses.replace(ACTIVE, status="lost")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        dataclasses.replace(ACTIVE, intended_markets=frozenset({"Germany"}))
    with pytest.raises(InvalidInput):
        ProductThresholds(max_distinct_devices=0)
