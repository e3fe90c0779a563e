"""The harness itself: per-path arithmetic on hand-made histories, the path drivers
against a real uvicorn server on a tiny chain, and the held-out rule."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import ipaddress
from collections import Counter
from pathlib import Path

import pytest

import bench.clone_eval.__main__ as entry
from authn.errors import InvalidInput
from bench.clone_eval import addresses, paths
from bench.clone_eval.metrics import by_path, evaluate, upper_per_million
from bench.clone_eval.model import START, CloneInfo, Params, ScanEvent
from bench.clone_eval.simulate import simulate

INFO = CloneInfo("distributor", 1, "fast", "FR")


def _scan(scan_id: str, serial: str, label: int, hour: int, role: str = "anonymous") -> ScanEvent:
    at = START + dt.timedelta(hours=hour)
    return ScanEvent(
        scan_id=scan_id, serial=serial, label=label, node="consumer", caller="",
        role=role, happened_at=at, scanned_at=at, received_at=at,  # type: ignore[arg-type]
        lat=48.0, lon=2.0, accuracy_m=10.0, country="FR", device_id=None,
    )  # fmt: skip


def test_each_path_is_scored_alone_against_the_whole_ground_truth() -> None:
    # C is cloned: its genuine unit is seen on the page, the copy through verify, and the
    # page flags it one scan later. G is never copied: one page false alarm in two.
    scans = [
        _scan("c0", "C", 0, 0), _scan("c1", "C", 1, 1, "trade"), _scan("c2", "C", 1, 2),
        _scan("g0", "G", 0, 3), _scan("g1", "G", 0, 4), _scan("g2", "G", 0, 5, "trade"),
    ]  # fmt: skip
    verdicts = {
        "c0": ("authentic", ()), "c1": ("authentic", ()), "c2": ("suspect", ("X",)),
        "g0": ("authentic", ()), "g1": ("suspect", ("Y",)), "g2": ("authentic", ()),
    }  # fmt: skip
    where = {"c0": "page", "c1": "verify", "c2": "page", "g0": "page", "g1": "page", "g2": "verify"}
    parts = by_path(["C", "G"], {"C": INFO}, scans, verdicts, where)
    page, verify = parts["page"], parts["verify"]
    assert (page.false_alarm_scans, page.genuine_scans) == (1, 2)
    assert (verify.false_alarm_scans, verify.genuine_scans) == (0, 1)
    assert str(page.recall_two_labels) == "100.0 % (1/1)"
    assert str(verify.recall_two_labels) == "0.0 % (0/1)"
    # The floor is scan 1 (two labels seen, whatever the path); the page caught it at scan 2.
    assert str(page.at_floor) == "0.0 % (0/1)"
    assert page.median_scans() == (2, 1)
    pooled = evaluate(["C", "G"], {"C": INFO}, scans, verdicts)
    assert pooled.false_alarm_scans == 1
    assert pooled.genuine_scans == 3


def test_a_rate_of_nothing_is_not_read_as_zero() -> None:
    bound = upper_per_million(0, 5_000)
    assert bound is not None
    assert 700 < bound < 800
    assert upper_per_million(0, 0) is None
    small, large = upper_per_million(3, 10_000), upper_per_million(300, 1_000_000)
    assert small is not None
    assert large is not None
    assert large < small


def test_held_out_scenarios_feed_no_tuning_entry_point() -> None:
    assert not set(entry.TUNING) & set(entry.HELD_OUT)
    assert entry.tuning_scenarios() == entry.TUNING
    for name in entry.HELD_OUT:
        with pytest.raises(ValueError, match="held out"):
            entry.tuning_scenarios([name])
        with pytest.raises(ValueError, match="held out"):
            entry.run_scenario(name, Params(serials=10), True)
    # Only TUNING is read where replays and ablations are planned.
    source = inspect.getsource(entry.main)
    assert "args.replay and name in TUNING" in source
    # No other module of the bench names the held-out set.
    bench_dir = Path(entry.__file__).parent
    for module in bench_dir.glob("*.py"):
        if module.name == "__main__.py":
            continue
        names = {n.id for n in ast.walk(ast.parse(module.read_text())) if isinstance(n, ast.Name)}
        assert "HELD_OUT" not in names, module.name


def test_every_path_is_driven_against_a_real_server() -> None:
    sim = simulate(
        Params(serials=16, seed=5, clone_fraction=0.4, copy_counts=((2, 1.0),),
               pro_coverage=1.0, consumer_coverage=0.6, customs_offline_rate=0.6)
    )  # fmt: skip
    verdicts, where, stats = paths.run(sim)
    assert set(where.values()) == set(paths.PATHS)
    # Every scan was sent and answered, also those after its serial was detected.
    assert set(where) == set(verdicts) == {s.scan_id for s in sim.scans}
    serials = [s for lot in sim.lots.values() for s in lot]
    metrics = evaluate(serials, sim.clones, sim.scans, verdicts)
    after = [r for r in metrics.cloned if r.copies_after[1] + r.genuine_after[1] > 0]
    assert after, "scans of detected serials were sent and scored"
    assert {v for v, _ in verdicts.values()} <= {"authentic", "suspect", "counterfeit"}
    assert "counterfeit" not in {v for v, _ in verdicts.values()}  # every code is genuine
    by_event = {s.scan_id: s for s in sim.scans}
    for scan_id, path in where.items():
        assert path == paths.path_of(by_event[scan_id])
    sent = Counter(where.values())
    assert stats.requests >= sum(sent.values())
    # Pages and photo uploads answered, shared locations accepted for the phone's own scan.
    assert stats.calls["location 200"] > 0  # the re-judged verdict (docs/mobile.md)
    assert not [k for k in stats.calls if not k.endswith((" 200", " 204"))]
    # The reasons the service stored are joined to page views by the id the page showed.
    assert all(reasons for verdict, reasons in verdicts.values() if verdict == "suspect")


def test_addresses_are_stable_per_network_and_differ_between_them() -> None:
    assert paths.network_address("phone-1") == paths.network_address("phone-1")
    assert paths.network_address("phone-1") != paths.network_address("phone-2")


@pytest.mark.parametrize("country", sorted(addresses.CARRIERS))
def test_addresses_map_to_their_country_on_a_carriers_network(country: str) -> None:
    picked = [paths.network_address(f"line-{i}", country) for i in range(25)]
    for address in picked:
        parsed = ipaddress.ip_address(address)
        assert parsed.is_global
        # The service's own lookup (geoip2fast) places it in the intended country.
        assert addresses.country_of(address) == country
        assert addresses.network_of(address)
    # Lines spread over the carriers' networks: not one network that counts as one device.
    assert len({addresses.network_of(a) for a in picked}) >= 5


def test_every_country_a_phone_calls_from_has_carriers() -> None:
    sims = [simulate(Params(serials=60, seed=3, family=f)) for f in ("travellers", "resale")]
    countries = {s.network_country or s.country for sim in sims for s in sim.scans
                 if s.role == "anonymous"}  # fmt: skip
    assert countries <= set(addresses.CARRIERS)
    with pytest.raises(InvalidInput):
        addresses.address_for("x", "ZZ")


def test_the_paths_run_on_postgresql_and_the_database_is_dropped(postgres_url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)

    def eval_databases() -> set[str]:
        with psycopg.connect(dsn) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'clone_eval_%'")
            return {name for (name,) in rows.fetchall()}

    before = eval_databases()
    sim = simulate(Params(serials=10, seed=6, family="family_phones", consumer_coverage=1.0))
    verdicts, where, _stats = paths.run(sim, postgres=postgres_url)
    assert set(verdicts) == {s.scan_id for s in sim.scans}
    assert {"page", "verify"} <= set(where.values())
    assert eval_databases() <= before  # the run's own database is gone
