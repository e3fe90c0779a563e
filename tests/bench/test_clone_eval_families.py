"""The hard scenario families of the simulator: what each one promises about its scans."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from typing import Any

import pytest

import bench.clone_eval.__main__ as entry
from bench.clone_eval import geography as geo
from bench.clone_eval.model import (
    FAMILIES,
    GENUINE_ONLY,
    Family,
    Params,
    ScanEvent,
    Simulation,
)
from bench.clone_eval.simulate import simulate
from detection import haversine_km

# Every unit scanned by the trade, most buyers scanning, fixes never wildly off.
BASE = Params(serials=120, seed=9, pro_coverage=1.0, consumer_coverage=0.8, bad_fix_rate=0.0)


def _sim(family: Family, **extra: Any) -> Simulation:
    return simulate(replace(BASE, family=family, **extra))


def _km(a: ScanEvent, b: ScanEvent) -> float:
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


def _by_serial(scans: list[ScanEvent]) -> dict[str, list[ScanEvent]]:
    out: dict[str, list[ScanEvent]] = {}
    for scan in sorted(scans, key=lambda s: s.happened_at):
        out.setdefault(scan.serial, []).append(scan)
    return out


@pytest.mark.parametrize("family", sorted(GENUINE_ONLY))
def test_a_genuine_only_family_produces_no_copies(family: Family) -> None:
    sim = _sim(family, clone_fraction=0.5)  # asking for copies changes nothing
    assert not sim.clones
    assert {s.label for s in sim.scans} == {0}
    assert sum(s.role == "anonymous" for s in sim.scans) > 50


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_is_repeatable(family: Family) -> None:
    assert _sim(family).events == _sim(family).events


def test_same_city_copies_are_scanned_in_the_genuine_units_city() -> None:
    sim = _sim("same_city", clone_fraction=0.3)
    assert sim.clones
    checked = 0
    for serial, scans in _by_serial(sim.scans).items():
        if serial not in sim.clones:
            continue
        assert sim.clones[serial].injection == "local_seller"
        (sale, *_) = [s for s in scans if s.label == 0 and s.node == "retailer"]
        copies = [s for s in scans if s.label > 0]
        # A home within 25 km of the city, a fix a few km off at worst.
        assert all(_km(c, sale) < 40 for c in copies), serial
        assert all(_km(a, b) < 80 for a, b in itertools.combinations(copies, 2))
        assert {c.country for c in copies} <= {sale.country}
        checked += bool(copies)
    assert checked >= 5


def test_a_shelf_photo_is_taken_before_the_sale_and_copied_elsewhere() -> None:
    sim = _sim("shelf_photo", clone_fraction=0.3)
    assert sim.clones
    for serial, scans in _by_serial(sim.scans).items():
        if serial not in sim.clones:
            continue
        copies = [s for s in scans if s.label > 0]
        shelf = [s for s in scans if s.label == 0 and s.node == "retailer"]
        if not copies or not shelf:
            continue
        assert min(c.happened_at for c in copies) > shelf[0].happened_at
        markets = {s.country for s in scans if s.label == 0 and s.node == "sale"}
        assert sim.clones[serial].market not in markets


def test_resale_has_two_owners_far_apart_in_time() -> None:
    sim = _sim("resale", consumer_coverage=1.0)
    gaps = []
    for scans in _by_serial(sim.scans).values():
        phones = [s for s in scans if s.role == "anonymous"]
        homes = {s.network for s in phones}
        if len(homes) == 2:
            gaps.append(phones[-1].happened_at - phones[0].happened_at)
    assert len(gaps) > 50
    assert min(gaps) >= dt.timedelta(days=30)


def test_a_household_shares_one_line_with_one_or_several_phones() -> None:
    sim = _sim("family_phones")
    lines, phone_counts = [], []
    for scans in _by_serial(sim.scans).values():
        home = [s for s in scans if s.role == "anonymous"]
        if not home or any(s.node == "return" for s in scans):  # resold: another household
            continue
        lines.append({s.network for s in home} - {None})
        phone_counts.append(len({s.device_id for s in home}))
        assert max(_km(a, b) for a, b in itertools.product(home, home)) < 20
    assert all(len(line) <= 1 for line in lines)  # one household Wi-Fi per pack
    assert 1 in phone_counts
    assert max(phone_counts) >= 3


def test_travellers_scan_abroad_no_faster_than_an_aircraft() -> None:
    sim = _sim("travellers")
    abroad_seen = roaming = 0
    for scans in _by_serial(sim.scans).values():
        phones = [s for s in scans if s.role == "anonymous"]
        if not phones:
            continue
        home = phones[0]
        for later in phones[1:]:
            if later.country == home.country:
                continue
            abroad_seen += 1
            hours = (later.happened_at - home.happened_at).total_seconds() / 3600
            assert hours * geo.FLIGHT_KMH >= _km(home, later)
            assert hours >= 24
            roaming += later.network_country == home.country
    assert abroad_seen > 30
    assert roaming > 5  # roaming data leaves from the home carrier


def test_online_orders_are_scanned_by_the_trade_and_then_by_a_buyer_abroad() -> None:
    sim = _sim("online_far")
    seen = 0
    for scans in _by_serial(sim.scans).values():
        dispatch = [s for s in scans if s.node == "sale" and s.caller.startswith("fc-")]
        buyers = [s for s in scans if s.role == "anonymous"]
        if not dispatch or not buyers:
            continue
        seen += 1
        assert dispatch[0].role == "trade"
        assert all(b.country != dispatch[0].country for b in buyers)
        assert buyers[0].happened_at - dispatch[0].happened_at >= dt.timedelta(days=2)
    assert seen > 30


def test_half_the_hard_families_are_held_out_and_the_old_held_out_set_stays() -> None:
    tuning = {s.family for s in entry.TUNING.values()} - {"standard"}
    held_out = {s.family for s in entry.HELD_OUT.values()} - {"standard"}
    assert tuning | held_out == set(FAMILIES) - {"standard"}
    assert not tuning & held_out
    assert len(held_out) >= len(tuning)
    assert {"held-out medium coverage", "held-out consumer-heavy"} <= set(entry.HELD_OUT)
    assert {"same_city", "shelf_photo"} & tuning
    assert {"same_city", "shelf_photo"} & held_out
