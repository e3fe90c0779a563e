"""The parse benchmark's input is fixed and realistic (no timing asserted)."""

from __future__ import annotations

import pytest

from authn.errors import GS1SyntaxError
from authn.scan import parse_scan
from bench.bench_parse import label_mix, main


def test_label_mix_is_deterministic_and_mostly_valid() -> None:
    first = label_mix(200)
    assert first == label_mix(200)
    assert len(set(first)) == 200
    refused = 0
    for text in first:
        try:
            parse_scan(text)
        except GS1SyntaxError:
            refused += 1
    assert 5 <= refused <= 40  # one in ten is damaged on purpose
    assert any(t.startswith("]d2") for t in first)
    assert any(t.startswith("https://") for t in first)


def test_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--count", "50", "--rounds", "1", "--json"])
    assert '"label_mix_per_s"' in capsys.readouterr().out
