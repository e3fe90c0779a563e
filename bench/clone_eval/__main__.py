"""Clone-detection evaluation: ``python -m bench.clone_eval [--quick] [--scale X]``.

Simulates a supply chain per scenario, drives the service with it over its real
paths (a uvicorn process: label-URL pages, verify, batch sync) and prints the
per-path, per-scenario tables. Scenarios run in parallel processes (``--jobs``).

Each scenario is a family of the simulator (the standard chain or one of the hard
families in ``families``) with its own seed and coverage. Scenarios come in two
sets. TUNING scenarios may be looked at while choosing thresholds or rules; HELD_OUT
scenarios (other seeds, other chains) must never be: no tuning entry point
(``--replay``, ablations, threshold sweeps) accepts them, and their figures are read
only to check what the tuning set promised.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from bench.clone_eval import paths, service
from bench.clone_eval.metrics import by_path, evaluate
from bench.clone_eval.model import Family, Params
from bench.clone_eval.replay import replay
from bench.clone_eval.report import ScenarioRun, render, write_into_doc
from bench.clone_eval.simulate import simulate
from detection import (
    RULES,
    DetectionSettings,
    consumers_far_apart,
    out_of_sequence,
    repeated_at_site,
    too_many_devices,
    too_many_trade_sites,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "detection.md"


@dataclass(frozen=True)
class Scenario:
    """What a scenario changes in ``Params``; the rest stays at its default."""

    seed: int
    pro_coverage: float
    consumer_coverage: float
    family: Family = "standard"
    clone_fraction: float = 0.03
    copy_counts: tuple[tuple[int, float], ...] | None = None

    def params(self, base: Params) -> Params:
        return replace(
            base, seed=self.seed, pro_coverage=self.pro_coverage,
            consumer_coverage=self.consumer_coverage, family=self.family,
            clone_fraction=self.clone_fraction,
            copy_counts=self.copy_counts or base.copy_counts,
        )  # fmt: skip


# A local seller makes a handful of copies, a few dozen at most.
LOCAL_COPIES = ((1, 0.3), (2, 0.3), (5, 0.25), (20, 0.15))
# Copies sold elsewhere after a shelf photo: as the standard chain, without the rare 1,000.
ELSEWHERE_COPIES = ((1, 0.35), (2, 0.2), (5, 0.2), (20, 0.15), (100, 0.1))
# The hard families' consumers: in the genuine-only ones every buyer's scans are what is
# measured, so most buyers scan; copies' buyers scan as often as in a consumer-heavy chain.
HARD_CONSUMERS = 0.6
TUNING: dict[str, Scenario] = {
    "low coverage": Scenario(11, 0.66, 0.05),
    "medium coverage": Scenario(12, 0.83, 0.10),
    "full coverage": Scenario(13, 1.00, 0.15),
    "same-city copies": Scenario(14, 0.83, 0.3, "same_city", 0.1, LOCAL_COPIES),
    "family phones": Scenario(15, 0.83, HARD_CONSUMERS, "family_phones", 0.0),
    "travellers": Scenario(16, 0.83, HARD_CONSUMERS, "travellers", 0.0),
}
# Never tuned on: other seeds, a chain where consumers scan far more often, and half the
# hard families (one that copies, two of ordinary life).
HELD_OUT: dict[str, Scenario] = {
    "held-out medium coverage": Scenario(21, 0.83, 0.10),
    "held-out consumer-heavy": Scenario(22, 0.66, 0.40),
    "held-out shelf photo": Scenario(23, 0.83, 0.3, "shelf_photo", 0.1, ELSEWHERE_COPIES),
    "held-out resale": Scenario(24, 0.83, HARD_CONSUMERS, "resale", 0.0),
    "held-out online orders abroad": Scenario(25, 0.83, HARD_CONSUMERS, "online_far", 0.0),
}
SCENARIOS = {**TUNING, **HELD_OUT}
DEFAULT_SERIALS = 300  # per scenario: the eleven scenarios in a few minutes on two cores
QUICK_SERIALS = 60
# The replay is fast enough for a population ten times larger, with other seeds: enough
# genuine scans (about 100,000 per scenario) to put a bound on rare false alarms.
LARGE_FACTOR = 10
LARGE_SEED_OFFSET = 90
# Each left out in turn from the replay, to show what it adds.
ABLATED = (
    out_of_sequence, too_many_trade_sites, repeated_at_site, consumers_far_apart,
    too_many_devices,
)  # fmt: skip


def tuning_scenarios(names: list[str] | None = None) -> dict[str, Scenario]:
    """The scenarios a tuning entry point may use; asking for a held-out one is refused."""
    chosen = list(TUNING) if names is None else names
    refused = [n for n in chosen if n not in TUNING]
    if refused:
        raise ValueError(f"not tuning scenarios (held out or unknown): {refused}")
    return {n: TUNING[n] for n in chosen}


def run_scenario(
    name: str,
    params: Params,
    with_replay: bool,
    in_process: bool = False,
    postgres: str | None = None,
) -> ScenarioRun:
    if with_replay and name not in tuning_scenarios():
        raise ValueError(f"{name!r} is held out: no replay or ablation runs on it")
    sim = simulate(params)
    all_serials = [s for serials in sim.lots.values() for s in serials]

    def progress(done: int, total: int) -> None:
        print(f"  {name}: {done:,}/{total:,} events", file=sys.stderr, flush=True)

    started = time.perf_counter()
    if in_process:
        verdicts, stats = service.run(sim, progress=progress)
        scan_paths = dict.fromkeys(verdicts, "verify (in process)")
    else:
        verdicts, scan_paths, stats = paths.run(  # type: ignore[assignment]
            sim, progress=progress, postgres=postgres
        )
    seconds = time.perf_counter() - started
    run = ScenarioRun(
        name, params, evaluate(all_serials, sim.clones, sim.scans, verdicts), len(sim.events),
        stats.requests, seconds, stats.status_errors,
    )  # fmt: skip
    run.path_metrics = by_path(all_serials, sim.clones, sim.scans, verdicts, scan_paths)
    run.split = "tuning" if name in TUNING else "held-out"
    run.calls = stats.calls
    run.mode = "in process, NOT the real paths" if in_process else "real paths"
    run.database = "PostgreSQL" if postgres and not in_process else "SQLite"
    if with_replay:
        settings = DetectionSettings()
        replayed = replay(sim, settings)
        run.replay_metrics = evaluate(all_serials, sim.clones, sim.scans, replayed)
        for left_out in ABLATED:
            rules = tuple(rule for rule in RULES if rule is not left_out)
            replayed = replay(sim, settings, rules=rules)
            run.ablations[left_out.__name__] = evaluate(
                all_serials, sim.clones, sim.scans, replayed
            )
        large = simulate(
            replace(
                params,
                serials=params.serials * LARGE_FACTOR,
                seed=params.seed + LARGE_SEED_OFFSET,
            )
        )
        run.large_metrics = evaluate(
            [s for serials in large.lots.values() for s in serials],
            large.clones,
            large.scans,
            replay(large, settings),
        )
        run.large_params = large.params
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.clone_eval", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="two scenarios, few serials")
    parser.add_argument("--serials", type=int, help=f"serials per scenario ({DEFAULT_SERIALS:,})")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the population (e.g. 10 for a long run)"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="the old fast mode: JSON verify through ASGITransport, NOT the real paths",
    )
    parser.add_argument("--jobs", type=int, default=2, help="scenarios run in parallel")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run the service on PostgreSQL: a fresh database per scenario on this server "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped afterwards",
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help=(
            "also replay the scans through detection.assess alone (default settings), "
            "leaving each new rule out in turn, and on a population ten times larger "
            "(tuning scenarios only)"
        ),
    )
    parser.add_argument("--write-docs", action="store_true", help="write into docs/detection.md")
    args = parser.parse_args(argv)

    serials = args.serials or (QUICK_SERIALS if args.quick else DEFAULT_SERIALS)
    serials = max(10, round(serials * args.scale))
    chosen = (
        {k: SCENARIOS[k] for k in ("medium coverage", "held-out medium coverage")}
        if args.quick
        else SCENARIOS
    )
    base = Params(serials=serials)
    plans = [
        (name, scenario.params(base), args.replay and name in TUNING, args.in_process,
         args.postgres)
        for name, scenario in chosen.items()
    ]  # fmt: skip
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(plans)))) as pool:
        runs = list(pool.map(run_scenario, *zip(*plans, strict=True)))
    command = "python -m bench.clone_eval" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]) if a != "--write-docs"
    )
    text = render(runs, command)
    print(text)
    print(f"\n(total {time.perf_counter() - started:,.0f} s)", file=sys.stderr)
    if args.write_docs:
        write_into_doc(DOC, text)
        print(f"written under '## Evaluation' in {DOC.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
