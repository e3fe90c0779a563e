"""The evaluation end to end on a tiny chain: the real app, and the rules replay."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bench.clone_eval import service
from bench.clone_eval.metrics import evaluate
from bench.clone_eval.model import START, CloneInfo, Params, ScanEvent, Simulation
from bench.clone_eval.replay import replay, stored_scan
from bench.clone_eval.simulate import simulate
from detection import RULES, DetectionSettings, concurrent_scans, impossible_travel

TINY = Params(serials=12, seed=4, clone_fraction=0.5, copy_counts=((2, 1.0),), pro_coverage=1.0)
VERDICTS = {"authentic", "suspect", "counterfeit", "unverifiable"}


def test_every_scan_reaches_the_real_service() -> None:
    sim = simulate(TINY)
    verdicts, stats = service.run(sim)
    scans = sim.scans
    # Each scan was answered, also those after its serial was detected.
    assert set(verdicts) == {s.scan_id for s in scans}
    assert stats.requests >= len(scans)
    assert {v for v, _ in verdicts.values()} <= VERDICTS
    # Every code is registered and genuinely signed: nothing is counterfeit.
    assert all(v != "counterfeit" for v, _ in verdicts.values())
    # Every flagged scan has a recorded reason (consumers' answers hide them; the store keeps them).
    assert all(reasons for v, reasons in verdicts.values() if v == "suspect")
    metrics = evaluate(
        [s for serials in sim.lots.values() for s in serials], sim.clones, scans, verdicts
    )
    assert metrics.genuine_scans > 0


def _officer(scan_id: str, label: int, at: dt.datetime, lat: float, lon: float) -> ScanEvent:
    return ScanEvent(
        scan_id=scan_id, serial="S1", label=label, node="distributor", caller=f"org{label}",
        role="officer", happened_at=at, scanned_at=at, received_at=at, lat=lat, lon=lon,
        accuracy_m=20.0, country="FR", device_id=f"dev{label}",
    )  # fmt: skip


def test_replay_catches_a_copy_scanned_far_away_minutes_later() -> None:
    at = START + dt.timedelta(days=3)
    paris = _officer("00000000-0000-4000-8000-000000000001", 0, at, 48.8566, 2.3522)
    warsaw = _officer(
        "00000000-0000-4000-8000-000000000002", 1, at + dt.timedelta(minutes=5), 52.23, 21.01
    )
    sim = Simulation(
        Params(serials=10), {"L01": ["S1"]}, {"S1": CloneInfo("distributor", 1, "fast", "PL")},
        [paris, warsaw],
    )  # fmt: skip
    verdicts = replay(sim, DetectionSettings())
    assert verdicts[paris.scan_id][0] == "authentic"
    verdict, reasons = verdicts[warsaw.scan_id]
    assert verdict == "suspect"
    assert "CONCURRENT_SCANS" in reasons
    metrics = evaluate(["S1"], sim.clones, sim.scans, verdicts)
    assert metrics.at_floor.hits == 1


def test_consumer_locations_are_stored_coarse_as_the_service_stores_them() -> None:
    at = START
    phone = dataclasses.replace(
        _officer("s", 0, at, 48.8566, 2.3522), role="anonymous", caller="", accuracy_m=15.0
    )
    stored = stored_scan(phone)
    assert (stored.lat, stored.lon, stored.accuracy_m, stored.role) == (
        48.9,
        2.4,
        10_000.0,
        "consumer",
    )


def test_leaving_rules_out_of_the_replay() -> None:
    at = START + dt.timedelta(days=3)
    paris = _officer("00000000-0000-4000-8000-000000000001", 0, at, 48.8566, 2.3522)
    warsaw = _officer(
        "00000000-0000-4000-8000-000000000002", 1, at + dt.timedelta(minutes=5), 52.23, 21.01
    )
    sim = Simulation(
        Params(serials=10), {"L01": ["S1"]}, {"S1": CloneInfo("distributor", 1, "fast", "PL")},
        [paris, warsaw],
    )  # fmt: skip
    rules = tuple(r for r in RULES if r not in (concurrent_scans, impossible_travel))
    verdicts = replay(sim, DetectionSettings(), rules=rules)
    assert verdicts[warsaw.scan_id] == ("authentic", ())
