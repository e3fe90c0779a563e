"""Raw scanner input: AIM identifiers, whitespace, junk."""

from __future__ import annotations

import pytest

from authn.element_string import GS
from authn.errors import GS1SyntaxError, PayloadTooLarge
from authn.scan import MAX_SCAN_CHARS, parse_scan

GTIN = "09506000134352"
AIS = [("01", GTIN), ("10", "L1"), ("21", "S1")]
URI = f"https://id.example/01/{GTIN}/10/L1/21/S1"
BRACKETED = f"(01){GTIN}(10)L1(21)S1"
FNC1 = f"01{GTIN}10L1{GS}21S1"


@pytest.mark.parametrize(
    ("text", "syntax", "symbology"),
    [
        (URI, "digital_link", None),
        (f"]Q1{URI}", "digital_link", "]Q1"),
        (f"]d1{URI}\r\n", "digital_link", "]d1"),
        (f"  {URI.upper()[:8]}{URI[8:]}\n", "digital_link", None),
        (BRACKETED, "bracketed", None),
        (f"]Q1{BRACKETED}", "bracketed", "]Q1"),
        (FNC1, "element_string", None),
        (f"{GS}{FNC1}", "element_string", None),
        (f"]d2{FNC1}", "element_string", "]d2"),
        (f"]C1{FNC1}\r", "element_string", "]C1"),
        (f"]e0{FNC1}", "element_string", "]e0"),
        (f"]Q3{FNC1}", "element_string", "]Q3"),
        (f"]Q1{FNC1}", "element_string", "]Q1"),
        (f"]J1{FNC1}", "element_string", "]J1"),
        (f"]J0{URI}", "digital_link", "]J0"),
    ],
)
def test_accepted_scans(text: str, syntax: str, symbology: str | None) -> None:
    scan = parse_scan(text)
    assert scan.ais == AIS
    assert scan.syntax == syntax
    assert scan.symbology == symbology
    assert (scan.digital_link is not None) == (syntax == "digital_link")


def test_digital_link_details_are_kept() -> None:
    scan = parse_scan(f"]Q1{URI}?linkType=gs1:pip")
    assert scan.digital_link is not None
    assert scan.digital_link.base == "https://id.example"
    assert scan.digital_link.other_params == [("linkType", "gs1:pip")]


BAD_SCANS = [
    ("", "empty", None),
    (" \r\n", "empty", None),
    ("]Q1", "no data after", None),
    ("]E3" + GTIN[1:] + "12", "does not carry GS1 data", 0),
    ("]E0" + GTIN[1:-1], "13 digits", 3),
    ("]E0" + GTIN[1:] + "99", "then nothing", 16),
    ("]E4" + "9506000X", "8 digits", 3),
    ("]I1" + GTIN[:-1] + "3", "check digit", 16),
    ("hello", "not GS1 data", 0),
    ("01" + GTIN + "\x07", "U+0007", 16),
    ("01" + GTIN + "é", "U+00E9", 16),
    ("  ]d2" + "01" + GTIN[:-1] + "3", "check digit", 20),
    ("]d2" + URI, "expected an AI", 3),
    ("]d2(01)" + GTIN, "expected an AI", 3),
    ("\n" + URI + "/22/X", "out of order", None),
]


@pytest.mark.parametrize(("text", "words", "position"), BAD_SCANS)
def test_rejected_scans(text: str, words: str, position: int | None) -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        parse_scan(text)
    assert words in caught.value.reason
    if position is not None:
        assert caught.value.position == position


def test_positions_count_in_the_text_as_given() -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        parse_scan(" ]d2" + "01" + GTIN + "17251301")
    assert caught.value.ai == "17"
    assert caught.value.position == 1 + 3 + 16 + 2 + 2  # the month


def test_over_long_input_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_scan("0" * (MAX_SCAN_CHARS + 1))


def test_gs_is_not_stripped_as_whitespace() -> None:
    # Python counts GS as whitespace; a scanner's trailing GS must not vanish silently
    # into a different parse, and a leading one is the FNC1 marker.
    assert parse_scan(f"{GS}01{GTIN}{GS}").ais == [("01", GTIN)]


@pytest.mark.parametrize(
    ("text", "ais"),
    [
        (f"]E0{GTIN[1:]}", [("01", GTIN)]),
        ("]E496385074", [("01", "00000096385074")]),
        (f"]I1{GTIN}", [("01", GTIN)]),
        (f"]E0{GTIN[1:]}|]e010L1{GS}21S1", AIS),
    ],
)
def test_linear_symbologies_carry_a_gtin(text: str, ais: list[tuple[str, str]]) -> None:
    scan = parse_scan(text)
    assert scan.ais == ais
    assert scan.symbology == text[:3]
