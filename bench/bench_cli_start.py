"""How long `sealtrace` takes to start and answer, whole process, as a person runs it.

Run from the repository root::

    .venv/bin/python -m bench.bench_cli_start                       # this checkout
    .venv/bin/python -m bench.bench_cli_start --before DIR --runs 11  # and an older one

``--before DIR`` is another checkout (e.g. ``git archive <commit> | tar -x -C DIR``); its
packages come first on ``sys.path`` when its runs start from inside it, and the two are
alternated run by run so that both see the same load. Two cases:

- ``cached``: the bytecode caches of both checkouts are written first (what a pip
  install, or any second run of a writable checkout, has);
- ``no-cache``: the checkouts' own ``__pycache__`` folders are removed and
  ``PYTHONDONTWRITEBYTECODE=1`` keeps them away, so every project module is compiled
  from source at each start (a read-only checkout, or a shell that sets the variable).
  Installed libraries keep their caches in both cases.

Prints the median of each (command, case, checkout) with the runs and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("authn", "storage", "detection", "epcis", "transparency", "keys", "issuer",
            "verifier", "console", "mobile_api", "sealtrace")  # fmt: skip
COMMANDS = {
    "--help": ["--help"],
    "code parse": ["code", "parse", "0109506000134352217F3K"],
}


def _drop_caches(root: Path) -> None:
    for package in PACKAGES:
        for cache in (root / package).rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)


def _once(root: Path, args: list[str], *, cached: bool) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one whole process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if not cached:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sealtrace", *args], cwd=root, env=env, check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


Result = tuple[str, str, str, list[float], list[float]]  # command, case, tree, walls, cpus


def measure(trees: dict[str, Path], runs: int) -> list[Result]:
    results = []
    for case in ("cached", "no-cache"):
        cached = case == "cached"
        for root in trees.values():
            _drop_caches(root)
            if cached:  # one run of each command writes every cache it needs
                for args in COMMANDS.values():
                    _once(root, args, cached=True)
        for command, args in COMMANDS.items():
            walls: dict[str, list[float]] = {name: [] for name in trees}
            cpus: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(runs):
                for name, root in trees.items():  # alternated: the same load for both
                    wall, cpu = _once(root, args, cached=cached)
                    walls[name].append(wall)
                    cpus[name].append(cpu)
            results += [(command, case, name, walls[name], cpus[name]) for name in trees]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older checkout to compare with")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv if argv is not None else [])
    trees = {"this": REPO} if args.before is None else {"before": args.before, "after": REPO}
    load_before = os.getloadavg()
    results = measure(trees, args.runs)
    load_after = os.getloadavg()
    medians = {}
    for command, case, name, walls, cpus in results:
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        medians[command, case, name] = (wall, cpu)
        runs = ", ".join(f"{t:.2f}" for t in walls)
        print(f"{command:12} {case:9} {name:7} wall {wall:.3f} s, cpu {cpu:.3f} s  ({runs})")
    if args.before is not None:
        for command in COMMANDS:
            for case in ("cached", "no-cache"):
                wb, cb = medians[command, case, "before"]
                wa, ca = medians[command, case, "after"]
                print(f"{command:12} {case:9} before/after wall {wb / wa:.2f}x, cpu {cb / ca:.2f}x")
    print(f"load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end")


if __name__ == "__main__":
    main(sys.argv[1:])
