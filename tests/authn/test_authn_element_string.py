"""Bracketed and FNC1 element strings."""

from __future__ import annotations

import pytest

from authn.element_string import (
    GS,
    format_bracketed,
    format_fnc1,
    parse_bracketed,
    parse_element_string,
)
from authn.errors import GS1SyntaxError

GTIN = "09506000134352"
SIG = "A" * 90
LABEL = [("01", GTIN), ("17", "250100"), ("10", "LOT-7"), ("21", "SN123"), ("8030", SIG)]


def test_bracketed_parse() -> None:
    assert parse_bracketed("(01)09506000134352(10)ABC(21)123") == [
        ("01", GTIN),
        ("10", "ABC"),
        ("21", "123"),
    ]


def test_fnc1_parse_keeps_input_order() -> None:
    text = f"0109506000134352172501001{0}LOT-7{GS}21SN123{GS}8030{SIG}".format("0")
    assert parse_element_string(text) == LABEL


def test_fnc1_accepts_a_leading_fnc1_and_a_trailing_gs() -> None:
    assert parse_element_string(f"{GS}0109506000134352{GS}21X{GS}") == [("01", GTIN), ("21", "X")]


def test_fnc1_form_needs_separators_only_after_variable_length_ais() -> None:
    text = format_fnc1(LABEL)
    assert text == f"01095060001343521725010010LOT-7{GS}21SN123{GS}8030{SIG}"
    assert not text.endswith(GS)
    ais = [("21", "S"), ("01", GTIN), ("8006", "095060001343520102"), ("10", "L")]
    assert format_fnc1(ais, check_associations=False) == (
        f"21S{GS}01095060001343528006095060001343520102{GS}10L"
    )


def test_fixed_length_ai_without_predefined_length_needs_its_separator() -> None:
    # 8006 is fixed-length (N14 N4) but not of predefined length: GS1 requires
    # the FNC1 after it, and a value running on into the next AI is refused.
    with pytest.raises(GS1SyntaxError, match="GS separator missing"):
        parse_element_string("800609506000134352010221S")
    assert parse_element_string("8006095060001343520102\x1d21S") == [
        ("8006", "095060001343520102"),
        ("21", "S"),
    ]


def test_format_bracketed() -> None:
    assert format_bracketed(LABEL) == f"(01){GTIN}(17)250100(10)LOT-7(21)SN123(8030){SIG}"


def test_parentheses_in_values() -> None:
    # Every unescaped '(' starts the next (AI), as in GS1's syntax engine; a '('
    # inside a value is written '\\(' and never swallowed silently.
    assert parse_bracketed("(01)09506000134352(21)A\\(B)(99)C\\(") == [
        ("01", GTIN),
        ("21", "A(B)"),
        ("99", "C("),
    ]
    with pytest.raises(GS1SyntaxError, match="expected an AI"):
        parse_bracketed("(01)09506000134352(21)A(B)")
    # An unknown "(AI)" is an error, not part of the previous value.
    with pytest.raises(GS1SyntaxError, match="unknown Application Identifier") as caught:
        parse_bracketed("(01)09506000134352(21)SER1(10)LOT(712)123456(9999)b")
    assert caught.value.ai == "9999"
    ais = [("01", GTIN), ("21", "X(10)Y(Z")]
    text = format_bracketed(ais)
    assert text == "(01)09506000134352(21)X\\(10)Y\\(Z"
    assert parse_bracketed(text) == ais


BAD_BRACKETED = [
    ("", "starts with '('", 0, None),
    ("01)09506000134352", "starts with '('", 0, None),
    ("(01)09506000134353", "check digit", 17, "01"),
    ("(01)09506000134352(21)", "empty", 22, "21"),
    ("(01)09506000134352(21)a b", "' ' is not allowed", 23, "21"),
    ("(01)09506000134352(7777)x", "unknown Application Identifier", 19, "7777"),
    ("(1)09506000134352", "expected an AI", 0, None),
    ("(01)09506000134352(21)X(10)", "empty", 27, "10"),
    ("(21)X", "requires", None, "21"),
    ("(01)09506000134352(21)A(21)B", "twice", None, "21"),
]


@pytest.mark.parametrize(("text", "words", "position", "ai"), BAD_BRACKETED)
def test_bad_bracketed(text: str, words: str | None, position: int | None, ai: str | None) -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        parse_bracketed(text)
    if words:
        assert words in caught.value.reason
    assert caught.value.position == position
    assert caught.value.ai == ai


BAD_FNC1 = [
    ("", "empty", None, None),
    (GS, "empty", None, None),
    ("0109506000134353", "check digit", 15, "01"),
    ("01095060001343", "too short", 14, "01"),
    (f"01095060001{GS}43521", "too short", 11, "01"),
    (f"0109506000134352{GS}{GS}21X", "expected an AI", 17, None),
    ("010950600013435221" + "X" * 21, "GS separator missing", 38, "21"),
    ("01095060001343527777X", "no known Application Identifier", 16, None),
    ("0109506000134352x", "expected an AI", 16, None),
    (f"0109506000134352{GS}21A{GS}21B", "twice", None, "21"),
]


@pytest.mark.parametrize(("text", "words", "position", "ai"), BAD_FNC1)
def test_bad_fnc1(text: str, words: str, position: int | None, ai: str | None) -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        parse_element_string(text)
    assert words in caught.value.reason
    assert caught.value.position == position
    assert caught.value.ai == ai


def test_associations_can_be_left_unchecked_for_a_partial_label() -> None:
    # One of several barcodes on a pack: GS1 applies req/ex over all of them.
    assert parse_element_string("1725010010L", check_associations=False) == [
        ("17", "250100"),
        ("10", "L"),
    ]
    with pytest.raises(GS1SyntaxError, match="requires"):
        parse_element_string("1725010010L")


def test_formatting_checks_values() -> None:
    with pytest.raises(GS1SyntaxError, match="check digit"):
        format_fnc1([("01", "09506000134353")])
    with pytest.raises(GS1SyntaxError, match="no AIs"):
        format_bracketed([])
