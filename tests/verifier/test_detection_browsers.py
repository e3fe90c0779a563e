"""Browser evidence: distinct networks and cookies alone warn but never make a verdict,
unless the views are independent sources (docs/detection.md, "Browser evidence")."""

from __future__ import annotations

import datetime as dt

import pytest

from authn.errors import InvalidInput
from detection import CodeRecord, DetectionSettings, Finding, Scan, assess
from detection import reasons as r
from detection.verdict import combined_score
from verifier.geography import country_places

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
SOLD = CodeRecord(
    gtin="09506000134352", serial="H1", registered=True, status="sold",
    status_changed_at=T0 - dt.timedelta(days=1), intended_markets=frozenset({"FR"}),
)  # fmt: skip


@pytest.fixture(scope="module")
def settings() -> DetectionSettings:
    return DetectionSettings(countries=country_places())


def consumer(scan_id: str, hours: float, device: str, country: str = "FR") -> Scan:
    at = T0 + dt.timedelta(hours=hours)
    return Scan(
        scan_id=scan_id, scanned_at=at, received_at=at, role="consumer", country=country,
        device_id=device,
    )  # fmt: skip


def household(device: str) -> list[Scan]:
    """Four phones of one home over three days, each seen on a network of its own
    (carrier addresses change) or with its own /scan cookie."""
    return [consumer(f"s{i}", 20 * i, device.format(i)) for i in range(7)]


@pytest.mark.parametrize("device", ["net:carrier{0}/b{0}", "web:cookie{}"])
def test_a_household_on_many_networks_is_warned_about_not_judged(
    settings: DetectionSettings, device: str
) -> None:
    *history, scan = household(device)
    result = assess(SOLD, history, scan, settings, now=scan.scanned_at)
    found = {f.reason: f for f in result.findings}
    assert found[r.TOO_MANY_DEVICES].severity == "warning"
    assert found[r.TOO_MANY_DEVICES].browsers_only
    assert found[r.SCANNED_AFTER_DECOMMISSION].browsers_only
    assert result.verdict == "authentic"
    assert result.score == pytest.approx(settings.browser_evidence_cap)


def test_the_same_count_from_stable_app_devices_is_still_suspect(
    settings: DetectionSettings,
) -> None:
    # The control: devices an app names stay distinct evidence, so the cap is what changed.
    *history, scan = household("app-phone-{}")
    result = assess(SOLD, history, scan, settings, now=scan.scanned_at)
    assert result.verdict == "suspect"
    assert not any(f.browsers_only for f in result.findings)


def test_independent_networks_far_apart_are_not_capped(settings: DetectionSettings) -> None:
    # Three networks in France, Japan and Brazil within minutes: three items, not a home.
    history = [
        consumer(f"v{i}", i / 60, f"net:n{i}/b", country)
        for i, country in enumerate(("FR", "JP", "BR", "FR", "JP", "BR"))
    ]
    scan = consumer("v9", 0.2, "net:n9/b", "AU")
    result = assess(SOLD, history, scan, settings, now=scan.scanned_at)
    assert result.verdict == "suspect"
    assert not any(f.browsers_only for f in result.findings)


def test_a_page_view_abroad_informs_the_brand_only(settings: DetectionSettings) -> None:
    active = CodeRecord(
        gtin="09506000134352", serial="H2", registered=True, intended_markets=frozenset({"FR"})
    )
    view = consumer("t1", 0, "net:roam/b", "ES")
    (finding,) = assess(active, [], view, settings, now=view.scanned_at).findings
    assert (finding.reason, finding.severity, finding.weight) == (
        r.OUTSIDE_INTENDED_MARKET, "info", 0.0,
    )  # fmt: skip
    # An officer's scan there is still a warning with weight.
    officer = Scan(
        scan_id="o1", scanned_at=T0, received_at=T0, role="officer", country="ES",
        device_id="post-1",
    )  # fmt: skip
    (finding,) = assess(active, [], officer, settings, now=T0).findings
    assert (finding.severity, finding.weight) == ("warning", pytest.approx(0.4))


def test_browser_findings_add_up_with_other_signs(settings: DetectionSettings) -> None:
    browsers = [
        Finding(r.TOO_MANY_DEVICES, "warning", "m", 0.455, browsers_only=True),
        Finding(r.SCANNED_AFTER_DECOMMISSION, "warning", "m", 0.49, browsers_only=True),
    ]
    assert combined_score(browsers, settings) == pytest.approx(0.3)
    other = Finding(r.CONSUMERS_FAR_APART, "warning", "m", 0.5)
    # 1 - 0.7 * 0.5: a real second sign still makes the verdict.
    assert combined_score([*browsers, other], settings) == pytest.approx(0.65)


def test_a_cap_at_or_above_the_suspect_score_is_refused() -> None:
    with pytest.raises(InvalidInput):
        DetectionSettings(browser_evidence_cap=0.6)
