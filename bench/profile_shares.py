"""Shares of a py-spy profile (``--format raw``) of a ``sealtrace serve`` worker under verify.

Run::

    .venv/bin/python -m bench.profile_shares PROFILE.txt [PROFILE.txt ...]

py-spy's raw format is one collapsed stack per line with its sample count. A sample
counts towards every part whose function appears anywhere in its stack (so a part
includes what it calls); parts of the recorder thread are shares of all samples too.
Samples of a thread waiting for work (``IDLE``) are left out; one waiting for the GIL
counts as busy.
"""

from __future__ import annotations

import sys
from pathlib import Path

# A stack ending in one of these is a thread waiting (py-spy can take a wait on a lock, or
# uvloop's C loop waiting in epoll below asyncio's Runner, for work).
IDLE = frozenset(
    {"Condition.wait", "Runner.run", "SimpleQueue.get", "Event.wait", "Thread.join", "select"}
)
# (label, function names as py-spy prints them, before " (", separated by "|").
PARTS: list[tuple[str, str]] = [
    ("the recorder thread (`Verifier.judge` for whole batches)", "ScanRecorder._run"),
    (
        "  EPCIS route findings (`findings_for_scan` per scan, `_route_findings` per batch)",
        "findings_for_scan|Verifier._route_findings",
    ),
    ("  loading the batch's state (`load_states`)", "load_states"),
    ("  detection (`genuine_outcome`)", "genuine_outcome"),
    ("  the answer (`shape`, `model_dump_json`)", "shape"),
    ("  inserting the scans (`insert_scans`)", "insert_scans"),
    ("  alerts (`raise_batch_alerts`)", "raise_batch_alerts"),
    ("  recent scan ids again under the locks", "recent_scan_ids"),
    ("  commit (log append included)", "Session.commit"),
    ("the event loop thread (HTTP, middleware, route)", "Runner.run"),
    ("  Ed25519 check", "signature_check"),
    ("  GS1 parsing (`parse_code`)", "parse_code"),
    ("  the response's JSON (`to_json`, `JSONResponse`)", "render"),
]


def shares(path: Path) -> tuple[int, dict[str, int]]:
    total = 0
    counts = dict.fromkeys((label for label, _ in PARTS), 0)
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        samples = int(number)
        frames = [f for f in stack.split(";") if f]
        if not frames or frames[-1].split(" (", 1)[0] in IDLE:
            continue
        total += samples
        names = {frame.split(" (", 1)[0] for frame in frames}
        for label, functions in PARTS:
            if any(
                name == function or name.endswith("." + function)
                for function in functions.split("|")
                for name in names
            ):
                counts[label] += samples
    return total, counts


def main(argv: list[str]) -> None:
    results = [shares(Path(p)) for p in argv]
    print("| part | " + " | ".join(Path(p).stem for p in argv) + " |")
    print("|---|" + "---:|" * len(argv))
    for label, _ in PARTS:
        cells = [f"{c[label] / t * 100:.1f} %" if t else "-" for t, c in results]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("| busy samples | " + " | ".join(str(t) for t, _ in results) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
