"""assess(): the combined verdict, the score formula, and properties over random histories."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from detection import (
    CodeRecord,
    DetectionSettings,
    Finding,
    Scan,
    assess,
    reasons,
    risk_score,
)
from detection.verdict import (
    CONSUMER_AUTHENTIC,
    CONSUMER_RECALLED,
    CONSUMER_SUSPECT,
)

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
PARIS = (48.8566, 2.3522)
NEW_YORK = (40.7128, -74.0060)
SETTINGS = DetectionSettings()
RECORD = CodeRecord(
    gtin="09506000134352",
    serial="ABC123",
    registered=True,
    expiry="271231",
    intended_markets=frozenset({"FR", "DE"}),
)


def scan(
    scan_id: str,
    minutes: float,
    where: tuple[float, float] | None = PARIS,
    *,
    device: str | None = "buyer",
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
        accuracy_m=20.0 if where else None,
        country=country,
        device_id=device,
    )


def test_buyer_checking_at_home_is_authentic_with_no_findings() -> None:
    history = [scan(f"h{i}", i * 90, (PARIS[0] + i * 1e-4, PARIS[1])) for i in range(10)]
    result = assess(RECORD, history, scan("n", 1000), SETTINGS, now=T0)
    assert result.verdict == "authentic"
    assert result.findings == ()
    assert result.score == 0.0
    assert result.consumer_message == CONSUMER_AUTHENTIC


def test_anonymous_impossible_travel_alone_makes_a_suspect() -> None:
    history = [scan("paris", 0, device="a")]
    new = scan("ny", 60, NEW_YORK, device="b", country="US")
    result = assess(RECORD, history, new, SETTINGS, now=T0)
    assert result.verdict == "suspect"
    # Two consumers an ocean apart are also two places: a weak sign of its own.
    assert set(result.reasons) == {
        reasons.IMPOSSIBLE_TRAVEL,
        reasons.OUTSIDE_INTENDED_MARKET,
        reasons.CONSUMERS_FAR_APART,
    }
    assert result.score >= SETTINGS.suspect_score
    assert result.consumer_message == CONSUMER_SUSPECT
    # The consumer sentence says nothing a forger could use.
    assert "New York" not in result.consumer_message
    assert "km" not in result.consumer_message


def test_a_critical_finding_makes_a_suspect_whatever_the_score() -> None:
    lax = DetectionSettings(suspect_score=1.0)
    record = dataclasses.replace(RECORD, registered=False)
    result = assess(record, [], scan("n", 0), lax, now=T0)
    assert result.verdict == "suspect"
    assert result.key_alert
    assert result.findings[0].severity == "critical"


def test_weak_findings_alone_stay_authentic_and_add_up() -> None:
    abroad = scan("n", 0, device="b", country="NG")
    result = assess(RECORD, [], abroad, SETTINGS, now=T0)
    assert result.verdict == "authentic"
    assert result.reasons == (reasons.OUTSIDE_INTENDED_MARKET,)
    assert 0 < result.score < SETTINGS.suspect_score
    # The same scan on a unit sold and then checked by many people passes the threshold.
    sold = dataclasses.replace(RECORD, status="sold", status_changed_at=T0 - dt.timedelta(days=1))
    history = [scan(f"h{i}", -60 * i, device=f"p{i}") for i in range(1, 4)]
    combined = assess(sold, history, abroad, SETTINGS, now=T0)
    assert combined.score > result.score
    assert combined.verdict == "suspect"


def test_recall_is_told_to_the_consumer_but_is_not_a_clone_sign() -> None:
    record = dataclasses.replace(RECORD, lot="L1", lot_recalled=True)
    result = assess(record, [], scan("n", 0), SETTINGS, now=T0)
    assert result.verdict == "authentic"  # genuine: the status carries the recall
    assert result.score == 0.0
    assert result.consumer_message == CONSUMER_RECALLED


def test_findings_are_listed_most_serious_first() -> None:
    record = dataclasses.replace(RECORD, status="destroyed", lot_recalled=True)
    history = [scan("paris", 0, device="a")]
    result = assess(
        record, history, scan("ny", 60, NEW_YORK, device="b", country="US"), SETTINGS, now=T0
    )
    ranks = [{"critical": 0, "warning": 1, "info": 2}[f.severity] for f in result.findings]
    assert ranks == sorted(ranks)
    assert result.findings[0].reason == reasons.SCANNED_AFTER_DECOMMISSION


def test_score_is_a_noisy_or() -> None:
    findings = [
        Finding("A", "warning", "a", 0.5),
        Finding("B", "warning", "b", 0.5),
        Finding("C", "info", "c", 0.0),
    ]
    assert math.isclose(risk_score(findings), 0.75)
    assert risk_score([]) == 0.0
    assert risk_score([Finding("A", "critical", "a", 1.0), *findings]) == 1.0


# --- properties over random histories -------------------------------------------------

COUNTRIES = ("FR", "DE", "US", "CN", "NG")


@st.composite
def scans(draw: st.DrawFn, scan_id: str) -> Scan:
    scanned = T0 + dt.timedelta(minutes=draw(st.integers(-20_000, 20_000)))
    delay = dt.timedelta(minutes=draw(st.integers(-60, 3_000)))
    located = draw(st.booleans())
    return Scan(
        scan_id=scan_id,
        scanned_at=scanned,
        received_at=scanned + delay,
        role=draw(st.sampled_from(("consumer", "trade", "officer", "brand", "admin"))),
        lat=draw(st.floats(-90, 90)) if located else None,
        lon=draw(st.floats(-180, 180)) if located else None,
        accuracy_m=draw(st.none() | st.floats(0, 200_000)) if located else None,
        country=draw(st.none() | st.sampled_from(COUNTRIES)),
        device_id=draw(st.none() | st.sampled_from(("d1", "d2", "d3", "d4"))),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[CodeRecord, list[Scan], Scan]:
    count = draw(st.integers(0, 25))
    history = [draw(scans(f"s{i}")) for i in range(count)]
    new = draw(scans("new"))
    record = dataclasses.replace(
        RECORD,
        registered=draw(st.booleans()),
        status=draw(
            st.sampled_from(("active", "sold", "destroyed", "exported", "recalled", "locked"))
        ),
        status_changed_at=T0 + dt.timedelta(days=draw(st.integers(-30, 30))),
        expiry=draw(st.none() | st.sampled_from(("250200", "250229", "991231"))),
        intended_markets=frozenset(draw(st.sets(st.sampled_from(COUNTRIES), max_size=3))),
    )
    return record, history, new


@settings(max_examples=150, deadline=None)
@given(case=cases(), data=st.data())
def test_random_histories_never_raise_and_order_does_not_matter(
    case: tuple[CodeRecord, list[Scan], Scan], data: st.DataObject
) -> None:
    record, history, new = case
    result = assess(record, history, new, SETTINGS, now=T0)
    assert 0.0 <= result.score <= 1.0
    assert result.verdict in ("authentic", "suspect")
    assert all(f.reason in reasons.ALL_REASONS for f in result.findings)
    shuffled = data.draw(st.permutations(history))
    assert assess(record, shuffled, new, SETTINGS, now=T0) == result
    # The service may pass the new scan inside its own history: nothing changes.
    assert assess(record, [*shuffled, new], new, SETTINGS, now=T0) == result


def test_detection_package_stays_pure() -> None:
    """Detection imports only the standard library's pure parts and authn: no I/O, no clock."""
    allowed_stdlib = {"__future__", "collections", "dataclasses", "datetime", "math", "typing"}
    package = Path(__file__).resolve().parents[2] / "verifier" / "detection"
    for source in sorted(package.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed_stdlib or name.startswith(
                    ("authn.gs1", "authn.errors", "detection")
                ), f"{source.name} imports {name}"
