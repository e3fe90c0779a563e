"""Supply-chain rules: tables of (record, history, new scan) -> findings, noise included.

OUT_OF_SEQUENCE, TOO_MANY_TRADE_SITES, REPEATED_AT_SITE and CONSUMERS_FAR_APART,
and how trade scans enter the session and after-sale rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from detection import (
    CodeRecord,
    DetectionSettings,
    Finding,
    Scan,
    assess,
    consumers_far_apart,
    out_of_sequence,
    reasons,
    repeated_at_site,
    scanned_after_decommission,
    too_many_devices,
    too_many_trade_sites,
)
from detection.verdict import Rule

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
HOUR = 60.0
DAY = 24 * HOUR
SETTINGS = DetectionSettings()
ACTIVE = CodeRecord(gtin="09506000134352", serial="ABC123", registered=True)

FACTORY = (50.1109, 8.6821)  # Frankfurt
KEHL = (48.5734, 7.7521)  # a border post
ANTWERP = (51.2637, 4.3998)  # an import port
COLOGNE = (50.9375, 6.9603)  # a distributor
PARIS = (48.8566, 2.3522)  # another distributor
BERLIN = (52.5200, 13.4050)  # shops
MUNICH = (48.1351, 11.5820)
HAMBURG = (53.5511, 9.9937)
LYON = (45.7640, 4.8357)
WARSAW = (52.2297, 21.0122)


def near(point: tuple[float, float], km_north: float) -> tuple[float, float]:
    return (point[0] + km_north / 111.195, point[1])


def scan(
    scan_id: str,
    minutes: float,
    where: tuple[float, float] | None,
    role: str = "trade",
    *,
    device: str | None = None,
    accuracy_m: float = 30.0,
) -> Scan:
    at = T0 + dt.timedelta(minutes=minutes)
    if role == "consumer":
        accuracy_m = max(accuracy_m, 10_000.0)  # as the service stores a phone's position
    return Scan(
        scan_id=scan_id,
        scanned_at=at,
        received_at=at,
        role=role,  # type: ignore[arg-type]
        lat=where[0] if where else None,
        lon=where[1] if where else None,
        accuracy_m=accuracy_m if where else None,
        device_id=device if device is not None else f"dev-{scan_id}",
    )


def genuine_chain() -> list[Scan]:
    """Factory, border post, distributor in and out, a shop's shelf and its till."""
    return [
        scan("factory", 0, FACTORY, "brand"),
        scan("border", DAY, KEHL, "officer"),
        scan("dist-in", 2 * DAY, COLOGNE, device="cologne-hh1"),
        scan("dist-out", 6 * DAY, COLOGNE, device="cologne-hh2"),
        scan("shelf", 7 * DAY, BERLIN, device="berlin-till"),
        scan("till", 20 * DAY, BERLIN, device="berlin-till"),
    ]


def with_status(status: str, changed_minutes: float, *, lot_recalled: bool = False) -> CodeRecord:
    return dataclasses.replace(
        ACTIVE,
        status=status,  # type: ignore[arg-type]
        status_changed_at=T0 + dt.timedelta(minutes=changed_minutes),
        lot_recalled=lot_recalled,
    )


def judge(rule: Rule, record: CodeRecord, history: list[Scan], new: Scan) -> list[Finding]:
    return rule(record, history, new, SETTINGS, now=new.received_at)


def weight_of(findings: list[Finding], reason: str) -> float | None:
    """The weight of the one finding, None when there is none; fails on anything else."""
    if not findings:
        return None
    assert len(findings) == 1, findings
    assert findings[0].reason == reason
    assert findings[0].severity == "warning"
    return round(findings[0].weight, 3)


# --- OUT_OF_SEQUENCE -------------------------------------------------------------------

CHAIN = genuine_chain()
HOME_NEAR_BERLIN = near(BERLIN, 15)
SEQUENCE_CASES = [
    # (record, history, new scan, expected weight or None)
    pytest.param(ACTIVE, CHAIN[:-1], CHAIN[-1], None, id="genuine-chain-quiet"),
    pytest.param(
        ACTIVE, CHAIN, scan("port", 30 * DAY, ANTWERP, "officer"), 0.63, id="customs-after-shop"
    ),
    pytest.param(
        ACTIVE,
        [*CHAIN, scan("buyer", 21 * DAY, HOME_NEAR_BERLIN, "consumer")],
        scan("port", 30 * DAY, ANTWERP, "officer"),
        0.63,  # the shop's scan weighs more than the buyer's phone
        id="customs-after-shop-and-buyer-strongest-evidence-counts",
    ),
    pytest.param(
        ACTIVE,
        CHAIN[:3],
        scan("bonded", 3 * DAY, near(COLOGNE, 5), "officer"),
        None,
        id="customs-at-the-warehouse-it-is-in",
    ),
    pytest.param(
        ACTIVE,
        CHAIN[:3],
        # Made before the distributor's scan, uploaded after it: not upstream of it.
        dataclasses.replace(
            scan("offline", 1.5 * DAY, KEHL, "officer"),
            received_at=T0 + dt.timedelta(days=2, hours=6),
        ),
        None,
        id="offline-customs-scan-synced-late",
    ),
    pytest.param(
        ACTIVE,
        [*CHAIN, scan("buyer", 21 * DAY, HOME_NEAR_BERLIN, "consumer")],
        scan("return", 23 * DAY, BERLIN, device="berlin-till"),
        None,
        id="buyer-returns-it-to-the-shop",
    ),
    pytest.param(
        ACTIVE,
        [*CHAIN[:5], scan("far-buyer", 10 * DAY, LYON, "consumer")],
        scan("sale", 20 * DAY, BERLIN, device="berlin-till"),
        0.49,
        id="shop-sells-what-one-consumer-far-away-had",
    ),
    pytest.param(
        ACTIVE,
        [
            *CHAIN[:5],
            scan("far-1", 10 * DAY, LYON, "consumer"),
            scan("far-2", 11 * DAY, near(LYON, 200), "consumer"),
        ],
        scan("sale", 20 * DAY, BERLIN, device="berlin-till"),
        0.63,
        id="shop-sells-what-two-consumers-far-away-had",
    ),
    pytest.param(
        ACTIVE,
        CHAIN,
        scan("phone", 30 * DAY, LYON, "consumer"),
        None,
        id="consumer-scans-are-not-judged-by-this-rule",
    ),
    pytest.param(
        ACTIVE,
        CHAIN,
        scan("back", 25 * DAY, COLOGNE, device="cologne-hh3"),
        0.63,
        id="back-at-the-distributor-after-the-shop",
    ),
    pytest.param(
        ACTIVE,
        CHAIN[:3],
        scan("dist-again", 3 * DAY, COLOGNE, device="cologne-hh3"),
        None,
        id="distributor-reads-it-twice",
    ),
    pytest.param(
        with_status("active", 0, lot_recalled=True),
        CHAIN,
        scan("recall-return", 25 * DAY, COLOGNE, device="cologne-hh3"),
        None,
        id="one-return-up-the-chain-in-a-recall",
    ),
    pytest.param(
        with_status("active", 0, lot_recalled=True),
        [*CHAIN, scan("recall-return", 25 * DAY, COLOGNE, device="cologne-hh3")],
        scan("shelf-again", 30 * DAY, BERLIN, device="berlin-till"),
        0.63,
        id="recalled-unit-back-on-a-shelf",
    ),
    pytest.param(
        ACTIVE,
        [*CHAIN, scan("factory-return", 25 * DAY, FACTORY, "brand")],
        scan("shelf-again", 30 * DAY, BERLIN, device="berlin-till"),
        None,
        id="brand-scans-stand-outside-the-chain",
    ),
    pytest.param(
        with_status("sold", 20 * DAY + 1),
        CHAIN,
        scan("elsewhere", 30 * DAY, MUNICH, device="munich-till"),
        0.63,
        id="in-a-shop-far-from-where-it-was-sold",
    ),
    pytest.param(
        with_status("sold", 20 * DAY + 1),
        CHAIN,
        scan("return", 25 * DAY, BERLIN, device="berlin-till"),
        None,
        id="returned-where-it-was-sold",
    ),
    pytest.param(
        with_status("sold", 40 * DAY),
        CHAIN,
        scan("elsewhere", 45 * DAY, MUNICH, device="munich-till"),
        None,  # no trade scan within the hour before the sale: where it was sold is unknown
        id="sold-without-a-trade-scan-at-the-sale",
    ),
    pytest.param(
        ACTIVE,
        [scan("dist", 0, COLOGNE, device="roaming"), scan("shop", DAY, BERLIN, device="roaming")],
        scan("dist-again", 2 * DAY, COLOGNE, device="roaming"),
        0.63,
        id="one-handheld-carried-between-sites-still-shows-the-return",
    ),
    pytest.param(ACTIVE, CHAIN, scan("nowhere", 30 * DAY, None, "officer"), None, id="no-location"),
]


@pytest.mark.parametrize(("record", "history", "new", "expected"), SEQUENCE_CASES)
def test_out_of_sequence(
    record: CodeRecord, history: list[Scan], new: Scan, expected: float | None
) -> None:
    found = judge(out_of_sequence, record, history, new)
    assert weight_of(found, reasons.OUT_OF_SEQUENCE) == expected


def test_out_of_sequence_names_both_places_and_the_earlier_scans() -> None:
    port = scan("port", 30 * DAY, ANTWERP, "officer")
    finding = judge(out_of_sequence, ACTIVE, CHAIN, port)[0]
    assert "after a trade partner had it" in finding.message
    assert "(52.52°N, 13.40°E) at 2025-03-21" in finding.message  # the shop's till
    assert finding.related_scan_ids == ("dist-in", "dist-out", "shelf", "till")


def test_sold_elsewhere_points_at_the_shop_that_sold_it() -> None:
    finding = judge(
        out_of_sequence,
        with_status("sold", 20 * DAY + 1),
        CHAIN,
        scan("elsewhere", 30 * DAY, MUNICH, device="munich-till"),
    )[0]
    assert "after it was sold in" in finding.message
    assert finding.related_scan_ids == ("till",)


# --- TOO_MANY_TRADE_SITES ---------------------------------------------------------------

SITES_CASES = [
    pytest.param(CHAIN[:-1], CHAIN[-1], None, id="distributor-and-shop"),
    pytest.param(
        [*CHAIN, scan("second-wholesaler", 8 * DAY, HAMBURG)],
        scan("shop-2", 9 * DAY, near(HAMBURG, 5)),
        None,
        id="three-sites-one-of-them-a-second-wholesaler",
    ),
    pytest.param(
        [*CHAIN, scan("paris", 30 * DAY, PARIS)],
        scan("lyon", 31 * DAY, LYON),
        0.63,
        id="a-fourth-site",
    ),
    pytest.param(
        [*CHAIN, scan("paris", 30 * DAY, PARIS), scan("lyon", 31 * DAY, LYON)],
        scan("phone", 32 * DAY, LYON, "consumer"),
        0.63,
        id="judged-on-any-later-scan",
    ),
    pytest.param(
        [*CHAIN, *(scan(f"hh{i}", 8 * DAY + i, near(COLOGNE, i)) for i in range(5))],
        scan("again", 9 * DAY, BERLIN),
        None,
        id="handhelds-and-returns-at-known-sites-count-once",
    ),
    pytest.param(
        [*CHAIN, scan("antwerp", 30 * DAY, ANTWERP, "officer")],
        scan("phone", 31 * DAY, WARSAW, "consumer"),
        None,
        id="customs-and-consumers-are-not-trade-sites",
    ),
]


@pytest.mark.parametrize(("history", "new", "expected"), SITES_CASES)
def test_too_many_trade_sites(history: list[Scan], new: Scan, expected: float | None) -> None:
    found = judge(too_many_trade_sites, ACTIVE, history, new)
    assert weight_of(found, reasons.TOO_MANY_TRADE_SITES) == expected


def test_trade_sites_limit_is_a_setting() -> None:
    history = [*CHAIN, scan("paris", 30 * DAY, PARIS)]
    lax = DetectionSettings(max_trade_sites=4)
    assert too_many_trade_sites(ACTIVE, history, scan("lyon", 31 * DAY, LYON), lax, now=T0) == []


# --- REPEATED_AT_SITE -------------------------------------------------------------------


def reads(count: int, where: tuple[float, float], role: str = "trade") -> list[Scan]:
    return [scan(f"r{i}", i * 20, where, role, device=f"hh{i % 3}") for i in range(count)]


REPEAT_CASES = [
    pytest.param(reads(2, COLOGNE), scan("n", 60, COLOGNE), None, id="three-reads"),
    pytest.param(reads(3, COLOGNE), scan("n", 70, COLOGNE), 0.45, id="four-reads-warn"),
    pytest.param(reads(4, COLOGNE), scan("n", 90, COLOGNE), 0.585, id="five-reads"),
    pytest.param(reads(5, COLOGNE), scan("n", 110, COLOGNE), 0.72, id="six-reads-suspect"),
    pytest.param(
        reads(4, ANTWERP, "officer"),
        scan("n", 90, ANTWERP, "officer"),
        0.65,
        id="five-reads-by-customs",
    ),
    pytest.param(
        [scan(f"d{i}", i * DAY, COLOGNE) for i in range(5)],
        scan("n", 5 * DAY, COLOGNE),
        None,
        id="reads-days-apart",
    ),
    pytest.param(reads(5, PARIS), scan("n", 110, COLOGNE), None, id="reads-at-another-site"),
    pytest.param(
        reads(5, BERLIN, "consumer"),
        scan("n", 110, BERLIN, "consumer"),
        None,
        id="consumers-rechecking",
    ),
]


@pytest.mark.parametrize(("history", "new", "expected"), REPEAT_CASES)
def test_repeated_at_site(history: list[Scan], new: Scan, expected: float | None) -> None:
    found = judge(repeated_at_site, ACTIVE, history, new)
    assert weight_of(found, reasons.REPEATED_AT_SITE) == expected


# --- CONSUMERS_FAR_APART ----------------------------------------------------------------

SHOP = CHAIN[:5]
FAR_CASES = [
    pytest.param(SHOP, scan("buyer", 21 * DAY, HOME_NEAR_BERLIN, "consumer"), None, id="buyer"),
    pytest.param(
        [*SHOP, scan("buyer", 21 * DAY, HOME_NEAR_BERLIN, "consumer")],
        scan("giftee", 23 * DAY, near(BERLIN, -60), "consumer"),
        None,
        id="buyer-and-giftee-an-hour-apart",
    ),
    pytest.param(
        SHOP, scan("online", 21 * DAY, MUNICH, "consumer"), 0.21, id="ordered-from-far-away"
    ),
    pytest.param(
        [*SHOP, scan("online", 21 * DAY, MUNICH, "consumer")],
        scan("partner", 22 * DAY, near(MUNICH, 8), "consumer"),
        0.21,
        id="two-phones-in-one-far-household",
    ),
    pytest.param(
        [*SHOP, scan("munich", 21 * DAY, MUNICH, "consumer")],
        scan("hamburg", 22 * DAY, HAMBURG, "consumer"),
        0.63,
        id="two-far-places",
    ),
    pytest.param(
        [*SHOP, scan("home", 21 * DAY, HOME_NEAR_BERLIN, "consumer", device="phone")],
        scan("holiday", 30 * DAY, LYON, "consumer", device="phone"),
        None,
        id="one-phone-travelling",
    ),
    pytest.param(
        [scan("paris", 0, PARIS, "consumer")],
        scan("warsaw", DAY, WARSAW, "consumer"),
        0.21,
        id="no-shop-known-two-places",
    ),
    pytest.param(
        [*SHOP, scan("munich", 21 * DAY, MUNICH, "consumer")],
        scan("trade", 22 * DAY, HAMBURG),
        None,
        id="judged-on-consumer-scans-only",
    ),
]


@pytest.mark.parametrize(("history", "new", "expected"), FAR_CASES)
def test_consumers_far_apart(history: list[Scan], new: Scan, expected: float | None) -> None:
    found = judge(consumers_far_apart, ACTIVE, history, new)
    assert weight_of(found, reasons.CONSUMERS_FAR_APART) == expected


# --- trade scans in the session and after-sale rules -----------------------------------


def test_one_organisations_handhelds_are_one_session() -> None:
    history = [
        scan(f"hh{i}", i * HOUR, near(COLOGNE, i), device=f"cologne-hh{i}") for i in range(8)
    ]
    assert too_many_devices(ACTIVE, history, scan("n", 9 * HOUR, COLOGNE), SETTINGS, now=T0) == []
    # Eight phones are eight sessions.
    phones = [dataclasses.replace(s, role="consumer") for s in history]
    found = too_many_devices(ACTIVE, phones, scan("n", 9 * HOUR, COLOGNE), SETTINGS, now=T0)
    assert [f.reason for f in found] == [reasons.TOO_MANY_DEVICES]


AFTER_SALE_CASES = [
    pytest.param(scan("return", 25 * DAY, BERLIN), [], ("info", 0.0), id="trade-return"),
    pytest.param(scan("customs", 25 * DAY, KEHL, "officer"), [], ("critical", 0.4), id="customs"),
    pytest.param(
        scan("giftee", 26 * DAY, near(BERLIN, 10), "consumer", device="giftee"),
        [
            scan("buyer", 21 * DAY, HOME_NEAR_BERLIN, "consumer", device="buyer"),
            scan("return", 22 * DAY, BERLIN, device="berlin-till"),
        ],
        ("info", 0.0),
        id="a-shop-return-is-no-buyer-session",
    ),
]


@pytest.mark.parametrize(("new", "after", "expected"), AFTER_SALE_CASES)
def test_after_sale_by_role(new: Scan, after: list[Scan], expected: tuple[str, float]) -> None:
    found = judge(scanned_after_decommission, with_status("sold", 20 * DAY + 1), CHAIN + after, new)
    assert len(found) == 1
    assert (found[0].severity, round(found[0].weight, 3)) == expected


# --- whole assessments --------------------------------------------------------------------


def test_a_genuine_chain_with_a_buyer_is_authentic_throughout() -> None:
    history: list[Scan] = []
    for new in [*CHAIN, scan("buyer", 21 * DAY, HOME_NEAR_BERLIN, "consumer")]:
        result = assess(ACTIVE, history, new, SETTINGS, now=new.received_at)
        assert result.verdict == "authentic", (new.scan_id, result.findings)
        history.append(new)


def test_a_copy_at_import_customs_is_suspect_at_its_first_scan() -> None:
    port = scan("port", 30 * DAY, ANTWERP, "officer")
    result = assess(ACTIVE, CHAIN, port, SETTINGS, now=port.received_at)
    assert result.verdict == "suspect"
    assert result.reasons == (reasons.OUT_OF_SEQUENCE,)


def test_trade_weighs_between_consumers_and_officers() -> None:
    assert SETTINGS.role_weight("consumer") < SETTINGS.role_weight("trade")
    assert SETTINGS.role_weight("trade") < SETTINGS.role_weight("officer")
    heavy = DetectionSettings(trade_weight=1.0)
    found = out_of_sequence(ACTIVE, CHAIN, scan("back", 25 * DAY, COLOGNE), heavy, now=T0)
    assert round(found[0].weight, 3) == 0.7
