"""The supply-chain simulator: repeatable, ordered as the service receives it, and realistic."""

from __future__ import annotations

import datetime as dt
import random

import pytest

# bench/ is not an installed package: run from the repository root (python -m pytest does).
from authn.errors import InvalidInput
from bench.clone_eval import geography as geo
from bench.clone_eval.model import Params, ScanEvent, StatusEvent
from bench.clone_eval.simulate import simulate

FEW_COPIES = ((1, 0.5), (5, 0.5))
SMALL = Params(serials=300, seed=5, clone_fraction=0.2, copy_counts=FEW_COPIES)


def test_the_same_seed_gives_the_same_events() -> None:
    assert simulate(SMALL).events == simulate(SMALL).events


def test_another_seed_gives_other_events() -> None:
    other = Params(serials=300, seed=6, clone_fraction=0.2, copy_counts=FEW_COPIES)
    assert simulate(SMALL).events != simulate(other).events


def test_events_come_in_received_order_and_offline_scans_arrive_late() -> None:
    events = simulate(SMALL).events
    received = [e.received_at for e in events]
    assert received == sorted(received)
    scans = [e for e in events if isinstance(e, ScanEvent)]
    late = [s for s in scans if s.received_at - s.happened_at > dt.timedelta(hours=1)]
    assert late, "some customs scans are uploaded hours after they were made"
    assert {s.node for s in late} == {"customs"}
    # Uploaded late, so scanned before scans the service received earlier.
    first_late = late[0]
    before = [s for s in scans if s.received_at < first_late.received_at]
    assert any(s.scanned_at > first_late.scanned_at for s in before)


def test_copies_carry_labels_and_clones_are_recorded() -> None:
    sim = simulate(SMALL)
    copied = {s.serial for s in sim.scans if s.label > 0}
    assert copied
    assert copied <= set(sim.clones)
    assert all(s.label == 0 for s in sim.scans if s.serial not in sim.clones)
    assert {info.injection for info in sim.clones.values()} == {
        "import_customs", "distributor", "online_consumer",
    }  # fmt: skip


def test_roles_coverage_and_noise_stay_in_their_ranges() -> None:
    sim = simulate(SMALL)
    for scan in sim.scans:
        assert (scan.role == "anonymous") == (scan.node == "consumer")
        assert 5 <= scan.accuracy_m <= 5_000
        assert abs(scan.scanned_at - scan.happened_at) <= dt.timedelta(minutes=30)
    genuine = [s for s in sim.scans if s.label == 0]
    factory = sum(s.node == "factory" for s in genuine)
    assert 0.7 * SMALL.serials < factory <= SMALL.serials  # 83 % of units scanned there


def test_customs_posts_are_officers_and_distributors_and_shops_are_trade() -> None:
    sim = simulate(SMALL)
    assert sim.accounts["brand"] == "brand"
    for name, role in sim.accounts.items():
        if name.startswith("customs-"):
            assert role == "officer"
        elif name.startswith(("dist-", "shop-")):
            assert role == "trade"
    roles = {s.node: s.role for s in sim.scans}
    assert roles["customs"] == "officer"
    assert roles["distributor"] == roles["retailer"] == roles["sale"] == "trade"


def test_status_events_cover_sales_returns_and_a_recall() -> None:
    sim = simulate(Params(serials=600, seed=3, return_rate=0.1, clone_fraction=0.0))
    kinds = {e.kind for e in sim.events if isinstance(e, StatusEvent)}
    assert kinds == {"sold", "undo", "lot_recall"}


def test_full_coverage_scans_every_genuine_unit_at_the_factory() -> None:
    sim = simulate(Params(serials=50, seed=2, pro_coverage=1.0, clone_fraction=0.0))
    assert sum(s.node == "factory" for s in sim.scans) == 50
    assert not sim.clones


def test_travel_times_are_those_of_trucks_and_aircraft() -> None:
    rng = random.Random(1)
    paris, warsaw = geo.DISTRIBUTORS["FR"], geo.DISTRIBUTORS["PL"]
    hours = geo.truck_time(paris, warsaw, rng).total_seconds() / 3600
    road = geo.distance_km(paris, warsaw) * geo.ROAD_DETOUR
    assert road / 80 <= hours <= road / 60
    flight = geo.air_time(geo.FRANKFURT_AIRPORT, geo.BORDER_POSTS["ES"], rng)
    assert 5 < flight.total_seconds() / 3600 < 13


@pytest.mark.parametrize(
    "bad",
    [{"serials": 3}, {"pro_coverage": 1.5}, {"consumer_coverage": -0.1}, {"copy_counts": ()}],
)
def test_bad_parameters_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        Params(**bad)  # type: ignore[arg-type]
