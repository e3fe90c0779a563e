"""The primary-cost benchmark runs end to end on a small sample (its numbers are not judged)."""

from __future__ import annotations

import re

import pytest

from bench.bench_primary import BATCHES, main

pytestmark = pytest.mark.postgres


def test_bench_primary_prints_one_row_per_batch(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--scans", "8", "--repeats", "1"])
    rows = re.findall(
        r"^\| (\d+) \| (\d+) \| (\d+) \| ([\d,]+) \|$", capsys.readouterr().out, re.MULTILINE
    )
    assert [int(batch) for batch, *_ in rows] == list(BATCHES)
    assert all(int(service) > 0 and int(wal.replace(",", "")) > 0 for _, _, service, wal in rows)
