"""The AI table is generated from GS1's syntax dictionary, and its linters work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from authn.ai import validate_associations, validate_value
from authn.ai_table import AI_TABLE, DICTIONARY_RELEASE, LINTERS
from authn.errors import GS1SyntaxError
from authn.gs1_dictionary import ISO3166_ALPHA2, ISO3166_NUMERIC, ISO4217_NUMERIC
from authn.linters import LINTERS as IMPLEMENTED
from tools import make_ai_table


def test_committed_table_is_what_the_dictionary_generates(
    shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "SEALTRACE_SHARED_DIR", str(shared_dir))
    text = (shared_dir / "gs1" / "gs1-syntax-dictionary.txt").read_text(encoding="utf-8")
    release, entries = make_ai_table.parse_dictionary(text)
    assert release == DICTIONARY_RELEASE
    assert len(entries) == len(AI_TABLE) == 541
    assert make_ai_table.OUT.read_text(encoding="utf-8") == make_ai_table.generate()
    assert f"release {release}" in make_ai_table.OUT.read_text(encoding="utf-8").splitlines()[0]


def test_every_linter_the_dictionary_names_is_implemented() -> None:
    assert set(IMPLEMENTED) >= LINTERS, LINTERS - set(IMPLEMENTED)


def test_code_lists_come_from_pycountry() -> None:
    assert {"276", "840", "528"} <= ISO3166_NUMERIC
    assert "987" not in ISO3166_NUMERIC
    assert {"DE", "FR", "US"} <= ISO3166_ALPHA2
    assert "AA" not in ISO3166_ALPHA2
    assert {"978", "840", "826"} <= ISO4217_NUMERIC


@pytest.mark.parametrize(
    ("ai", "value"),
    [
        ("17", "240229"),  # 2024 is a leap year
        ("17", "000229"),
        ("7250", "20000229"),  # 2000 is a leap year (divisible by 400)
        ("8013", "1987654Ad4X4bL5ttr2310c2K"),
        ("8007", "DE89370400440532013000"),
        ("8110", "012345612345611110123"),
        ("8112", "001234561234560123456"),
        ("8112", "061234567890121234569123456789012345"),
        ("4309", "09000000001800000000"),
        ("4330", "710054-"),
        ("7258", "4/7"),
        ("426", "276"),
        ("4307", "DE"),
        ("3910", "9781234"),
        ("7252", "9"),
        ("7241", "99"),
        ("8001", "12341234512311"),
        ("7007", "331003700423"),
        ("8008", "2512252300"),
        ("7041", "BX"),
    ],
)
def test_linted_values_that_gs1_accepts(ai: str, value: str) -> None:
    validate_value(ai, value)


@pytest.mark.parametrize(
    ("ai", "value"),
    [
        ("17", "250229"),  # 2025 is not a leap year
        ("17", "210229"),
        ("11", "230229"),
        ("7006", "240200"),  # yymmdd: no day 00
        ("7250", "19000229"),  # 1900 is not a leap year
        ("8013", "1987654Ad4X4bL5ttr2310cXK"),
        ("8007", "FR12345678901234"),
        ("8007", "AB12345678901234"),
        ("8110", "71234567890123"),
        ("8112", "0012345612345601234567"),
        ("4309", "18000000010000000000"),
        ("4330", "000000X"),
        ("7258", "8/4"),
        ("7258", "0/4"),
        ("426", "987"),
        ("7030", "987ABC"),
        ("4307", "AA"),
        ("3910", "9870"),
        ("7252", "3"),
        ("7241", "50"),
        ("8001", "12340000012311"),  # zero width
        ("8001", "12341234512321"),  # winding 2
        ("4321", "2"),
        ("8011", "023456789012"),
        ("8026", "123456789012310302"),
        ("7023", "12A4"),
        ("4300", "ABC%0g"),
        ("8014", "1987654Ad4X4bL5ttr2310cXK"),  # wrong check character pair
        ("4324", "2012252400"),
        ("8008", "201225230060"),
    ],
)
def test_linted_values_that_gs1_refuses(ai: str, value: str) -> None:
    with pytest.raises(GS1SyntaxError):
        validate_value(ai, value)


def test_digsig_needs_the_serial_component_of_grai_gdti_gcn() -> None:
    sig = "A" * 90
    with pytest.raises(GS1SyntaxError, match="serial component"):
        validate_associations([("8003", "04924247911119"), ("8030", sig)])
    validate_associations([("8003", "04924247911119SER1"), ("8030", sig)])
    with pytest.raises(GS1SyntaxError, match="serial component"):
        validate_associations([("253", "9506000134376"), ("8030", sig)])
    with pytest.raises(GS1SyntaxError):
        validate_associations([("01", "09506000134352"), ("8030", sig)])  # no (21)


def test_at_most_64_ais() -> None:
    many = [("01", "09506000134352")] + [("91", "X")] * 64
    with pytest.raises(GS1SyntaxError, match="too many AIs"):
        validate_associations(many)
