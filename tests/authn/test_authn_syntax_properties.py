"""Property tests: every syntax round-trips, and no input crashes the parsers."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from authn.ai import CSET64, CSET82
from authn.code import ProductCode
from authn.digital_link import format_digital_link, parse_digital_link
from authn.element_string import (
    GS,
    format_bracketed,
    format_fnc1,
    parse_bracketed,
    parse_element_string,
)
from authn.errors import InvalidInput
from authn.gs1 import check_digit
from authn.scan import parse_scan

AIPairs = list[tuple[str, str]]
BOUNDED = settings(max_examples=200, deadline=None)

cset82_text = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)
gtins = st.text(alphabet=string.digits, min_size=13, max_size=13).map(lambda d: d + check_digit(d))
expiries = st.builds(
    lambda yy, mm, dd: f"{yy:02d}{mm:02d}{dd:02d}",
    st.integers(0, 99),
    st.integers(1, 12),
    st.integers(0, 28),  # 00 = end of month; 28 exists in every month
)
signatures = st.text(alphabet=sorted(CSET64), min_size=90, max_size=90)
weights = st.tuples(
    st.sampled_from(["3100", "3102", "3103", "3200"]),
    st.text(alphabet=string.digits, min_size=6, max_size=6),
)


@st.composite
def product_ais(draw: st.DrawFn) -> AIPairs:
    """A valid product label: GTIN + serial, maybe lot, expiry, weight, signature."""
    ais: AIPairs = [("01", draw(gtins)), ("21", draw(cset82_text))]
    if draw(st.booleans()):
        ais.append(("10", draw(cset82_text)))
    if draw(st.booleans()):
        ais.append(("17", draw(expiries)))
    if draw(st.booleans()):
        ais.append(draw(weights))
    if draw(st.booleans()):
        ais.append(("240", draw(cset82_text)))
    if draw(st.booleans()):
        ais.append(("8030", draw(signatures)))
    return list(draw(st.permutations(ais)))


@BOUNDED
@given(product_ais())
def test_digital_link_roundtrip(ais: AIPairs) -> None:
    uri = format_digital_link(ais)
    parsed = parse_digital_link(uri).ais
    assert sorted(parsed) == sorted(ais)
    assert parsed[0][0] == "01"
    assert format_digital_link(parsed) == uri  # canonical: order of input does not matter


@BOUNDED
@given(product_ais())
def test_bracketed_roundtrip(ais: AIPairs) -> None:
    assert parse_bracketed(format_bracketed(ais)) == ais


@BOUNDED
@given(product_ais())
def test_a_product_codes_bracketed_form_is_format_bracketed(ais: AIPairs) -> None:
    # The verify path stores code.bracketed(), which skips checking the values again.
    code = ProductCode.from_ais(ais)
    assert code.bracketed() == format_bracketed(code.ais(), check_associations=False)
    assert ProductCode.from_ais(parse_bracketed(code.bracketed())) == code


@BOUNDED
@given(product_ais())
def test_fnc1_roundtrip(ais: AIPairs) -> None:
    assert parse_element_string(format_fnc1(ais)) == ais


@BOUNDED
@given(product_ais(), st.sampled_from(["", "\r\n", "\n", "  "]))
def test_scan_gives_the_same_ais_with_and_without_aim_prefix(ais: AIPairs, tail: str) -> None:
    uri = format_digital_link(ais)
    bracketed = format_bracketed(ais)
    fnc1 = format_fnc1(ais)
    for text in (uri, "]Q1" + uri, "]d1" + uri):
        assert sorted(parse_scan(text + tail).ais) == sorted(ais)
    for text in (bracketed, "]Q1" + bracketed):
        assert parse_scan(text + tail).ais == ais
    for text in (fnc1, GS + fnc1, "]d2" + fnc1, "]C1" + fnc1, "]Q3" + fnc1, "]e0" + fnc1):
        assert parse_scan(text + tail).ais == ais


# Text that looks enough like GS1 data to reach deep into the parsers.
_PIECES = st.sampled_from(
    ["]Q1", "]d2", "]C1", "https://e.example/", "01/", "/21/", "?17=", "&8030=", "%", "%4",
     "(", ")", "(01)", "(21)", "01", "10", "17", "21", "8030", "3103", GS, "\\(", "/", "?", "&",
     "=", "09506000134352", "250100", "\r\n", " "]
)  # fmt: skip
gs1ish = st.lists(st.one_of(_PIECES, st.text(max_size=4)), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), gs1ish))
def test_any_text_gives_a_result_or_a_clean_error(text: str) -> None:
    try:
        scan = parse_scan(text)
    except InvalidInput:  # GS1SyntaxError and PayloadTooLarge are InvalidInput
        return
    assert scan.ais
