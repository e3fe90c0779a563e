"""The recording-cost benchmark runs end to end on a small sample (its numbers are not judged)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.bench_judge import BATCHES, run


def test_bench_judge_prints_one_row_per_path(tmp_path: Path) -> None:
    table = run(f"sqlite:///{tmp_path / 'judge.db'}", scans=16, repeats=1)
    rows = re.findall(r"^\| (verify[^|]*) \| (\d+) \| ([\d.]+) \|$", table, flags=re.MULTILINE)
    assert [name for name, _, _ in rows] == [
        "verify-only",
        *(f"verify+record, batches of {b}" for b in BATCHES),
    ]
    assert rows[0][2] == "1.00"
    assert all(int(us) > 0 for _, us, _ in rows)
