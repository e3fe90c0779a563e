"""Clone-detection evaluation: ``python -m bench.clone_eval [--quick] [--serials N]``.

Simulates a supply chain per scenario (professional and consumer scan
coverage), drives the real verifier with it, and prints the parameter and
metrics tables. Scenarios run in parallel processes (``--jobs``, default 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from bench.clone_eval import service
from bench.clone_eval.metrics import evaluate
from bench.clone_eval.model import Params
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
# name: (seed, professional coverage, consumer coverage)
SCENARIOS: dict[str, tuple[int, float, float]] = {
    "low coverage": (11, 0.66, 0.05),
    "medium coverage": (12, 0.83, 0.10),
    "full coverage": (13, 1.00, 0.15),
}
DEFAULT_SERIALS = 2_000
QUICK_SERIALS = 200
# The replay is fast enough for a population ten times larger, with other seeds: enough
# genuine scans (about 100,000 per scenario) to put a bound on rare false alarms.
LARGE_FACTOR = 10
LARGE_SEED_OFFSET = 90
# Each left out in turn from the replay, to show what it adds.
ABLATED = (
    out_of_sequence, too_many_trade_sites, repeated_at_site, consumers_far_apart,
    too_many_devices,
)  # fmt: skip


def run_scenario(name: str, params: Params, with_replay: bool) -> ScenarioRun:
    sim = simulate(params)
    all_serials = [s for serials in sim.lots.values() for s in serials]

    def progress(done: int, total: int) -> None:
        print(f"  {name}: {done:,}/{total:,} events", file=sys.stderr, flush=True)

    started = time.perf_counter()
    verdicts, stats = service.run(sim, progress=progress)
    seconds = time.perf_counter() - started
    run = ScenarioRun(
        name, params, evaluate(all_serials, sim.clones, sim.scans, verdicts), len(sim.events),
        stats.requests, stats.skipped_after_detection, seconds, stats.status_errors,
    )  # fmt: skip
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
    parser.add_argument("--quick", action="store_true", help="one scenario, few serials (~30 s)")
    parser.add_argument("--serials", type=int, help=f"serials per scenario ({DEFAULT_SERIALS:,})")
    parser.add_argument("--jobs", type=int, default=2, help="scenarios run in parallel")
    parser.add_argument(
        "--replay",
        action="store_true",
        help=(
            "also replay the scans through detection.assess alone (default settings), "
            "leaving each new rule out in turn, and on a population ten times larger"
        ),
    )
    parser.add_argument("--write-docs", action="store_true", help="write into docs/detection.md")
    args = parser.parse_args(argv)

    serials = args.serials or (QUICK_SERIALS if args.quick else DEFAULT_SERIALS)
    chosen = {"medium coverage": SCENARIOS["medium coverage"]} if args.quick else SCENARIOS
    base = Params(serials=serials)
    plans = [
        (name, replace(base, seed=seed, pro_coverage=pro, consumer_coverage=consumer), args.replay)
        for name, (seed, pro, consumer) in chosen.items()
    ]
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
