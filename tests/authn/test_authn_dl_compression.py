"""Compressed GS1 Digital Links: GS1's reference vectors, the format table the
dictionary gives, round trips over every AI, and malformed data refused."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authn.ai import CSET39, CSET64, CSET82
from authn.ai_table import AI_TABLE
from authn.digital_link import compress_digital_link, parse_digital_link
from authn.dl_compression import (
    ENCODING_TABLE,
    SAFE64,
    Part,
    compress_ais,
    decompress_ais,
)
from authn.errors import GS1SyntaxError
from tests.authn.test_authn_syntax_properties import product_ais

AIPairs = list[tuple[str, str]]
BOUNDED = settings(max_examples=300, deadline=None)
ISBN = "09780345418913"

# digital-link.js tests/index.js, "Compression" (which calls GS1DigitalLinkToolkit.js):
# uncompressed URI, its compressed form, and whether optimisation codes were used.
TOOLKIT_VECTORS = [
    (
        "https://dlnkd.tn.gg/01/09780345418913/10/231/21/345345?15=120820",
        "https://dlnkd.tn.gg/HxHKVAdpQgZzjr-hCDKigI",
        True,
    ),
    (
        "https://example.com/some/other/path/info/01/09780345418913/21/12345",
        "https://example.com/some/other/path/info/DBHKVAdpQgowOQ",
        True,
    ),
    (
        "https://dlnkd.tn.gg/01/09780345418913/21/43786?foo=bar",
        "https://dlnkd.tn.gg/DBHKVAdpQgqrCvBv0UMG21W",
        True,
    ),
    # The same without optimisation codes and with foo=bar left in the query.
    (
        "https://dlnkd.tn.gg/01/09780345418913/21/43786?foo=bar",
        "https://dlnkd.tn.gg/ARHKVAdpQkIKqwo?foo=bar",
        False,
    ),
    # "should transparently validate a valid compressed URI"
    ("https://dlnkd.tn.gg/01/09780345418913", "https://dlnkd.tn.gg/ARHKVAdpQg", True),
]


@pytest.mark.parametrize(("uncompressed", "compressed", "optimise"), TOOLKIT_VECTORS)
def test_toolkit_vectors_decompress(uncompressed: str, compressed: str, optimise: bool) -> None:
    link = parse_digital_link(compressed)
    plain = parse_digital_link(uncompressed)
    assert sorted(link.ais) == sorted(plain.ais)
    assert link.other_params == plain.other_params
    assert link.base == plain.base
    assert link.compressed == compressed.rsplit("/", 1)[1].split("?")[0]
    assert plain.compressed is None


@pytest.mark.parametrize(("uncompressed", "compressed", "optimise"), TOOLKIT_VECTORS)
def test_toolkit_vectors_compress(uncompressed: str, compressed: str, optimise: bool) -> None:
    plain = parse_digital_link(uncompressed)
    query = "?" + compressed.split("?")[1] if "?" in compressed else ""
    written = compress_digital_link(
        plain.ais,
        plain.base,
        other_params=[] if query else plain.other_params,
        optimise=optimise,
    )
    assert written + query == compressed


# The compressed examples in GS1DigitalLinkToolkit.js's own comments: GTIN, a lot
# with '&' and '+' (7-bit ASCII), expiry date and time (7003, "expdt"), and in the
# second two non-GS1 parameters compressed too.
TOOLKIT_EXAMPLE_AIS = [("01", "05412345000013"), ("10", "ABC&+123"), ("7003", "1903061658")]


@pytest.mark.parametrize(
    ("segment", "other"),
    [
        ("AQnYUc1gmiERBhQ0ytiyZuAGOLc1TQ", []),
        (
            "AQnYUc1gmiERBhQ0ytiyZuAGOLc1TXhXsaXbQKHFuaprwUmrBX6g",
            [("expdt", "1903061658"), ("k1", "v1")],
        ),
    ],
)
def test_toolkit_examples(segment: str, other: AIPairs) -> None:
    assert decompress_ais(segment) == (TOOLKIT_EXAMPLE_AIS, other)
    assert compress_ais(TOOLKIT_EXAMPLE_AIS, other, optimise=False) == segment


def test_partly_compressed_keeps_the_primary_key_in_the_path() -> None:
    segment = compress_ais([("21", "12345"), ("17", "250100")])
    link = parse_digital_link(f"https://e.example/01/{ISBN}/{segment}?linkType=gs1:pip")
    assert link.ais == [("01", ISBN), ("21", "12345"), ("17", "250100")]
    assert link.other_params == [("linkType", "gs1:pip")]
    assert link.compressed == segment


def test_leading_zeros_survive() -> None:
    # The toolkit's decoder loses them ("0012" comes back as "12"); the length is known.
    ais = [("01", ISBN), ("21", "0012"), ("10", "007")]
    assert sorted(decompress_ais(compress_ais(ais))[0]) == sorted(ais)


def test_format_table_derived_from_the_dictionary() -> None:
    """The standard's format table, as the toolkit has it, for AIs whose dictionary
    components have to be joined to give it."""
    n, x = True, False
    expected = {
        "01": (Part(n, 14, False),),
        "21": (Part(x, 20, True),),
        "8006": (Part(n, 18, False),),
        "8003": (Part(n, 14, False), Part(x, 16, True)),
        "7007": (Part(n, 6, False), Part(n, 6, True)),
        "423": (Part(n, 3, False), Part(n, 12, True)),
        "3910": (Part(n, 3, False), Part(n, 15, True)),
        "7230": (Part(x, 30, True),),
        "253": (Part(n, 13, False), Part(x, 17, True)),
        "8008": (Part(n, 8, False), Part(n, 4, True)),
    }
    assert {ai: ENCODING_TABLE[ai] for ai in expected} == expected
    assert set(ENCODING_TABLE) == set(AI_TABLE)


_ALPHABETS = {"N": string.digits, "X": "".join(sorted(CSET82))}
_ALPHABETS |= {"Y": "".join(sorted(CSET39)), "Z": "".join(sorted(CSET64))}


@st.composite
def any_ai_value(draw: st.DrawFn) -> tuple[str, str]:
    """Any dictionary AI with a value of its components' characters and lengths
    (the bit format only; linters such as check digits are not its concern)."""
    spec = AI_TABLE[draw(st.sampled_from(sorted(AI_TABLE)))]
    value = ""
    for component in spec.components:
        if component.optional and draw(st.booleans()):
            break
        size = draw(st.integers(component.min_length, component.max_length))
        value += draw(st.text(alphabet=_ALPHABETS[component.charset], min_size=size, max_size=size))
    return spec.ai, value


@BOUNDED
@given(st.lists(any_ai_value(), min_size=1, max_size=6, unique_by=lambda p: p[0]), st.booleans())
def test_every_ai_roundtrips(ais: AIPairs, optimise: bool) -> None:
    got, other = decompress_ais(compress_ais(ais, optimise=optimise))
    assert sorted(got) == sorted(ais)
    assert other == []


@BOUNDED
@given(product_ais(), st.booleans())
def test_digital_link_roundtrip(ais: AIPairs, optimise: bool) -> None:
    uri = compress_digital_link(ais, "https://id.example/r", optimise=optimise)
    link = parse_digital_link(uri)
    assert sorted(link.ais) == sorted(ais)
    assert link.base == "https://id.example/r"


@BOUNDED
@given(
    st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=20),
    st.text(alphabet=[chr(c) for c in range(32, 127)], max_size=40),
)
def test_other_parameters_roundtrip(key: str, value: str) -> None:
    if key.isdigit():
        key = "k" + key
    ais = [("01", ISBN)]
    assert decompress_ais(compress_ais(ais, [(key, value)])) == (ais, [(key, value)])


@BOUNDED
@given(st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=8, max_size=60))
def test_random_segments_never_crash(segment: str) -> None:
    with contextlib.suppress(GS1SyntaxError):
        parse_digital_link("https://id.example/" + segment)


_GOOD = compress_ais([("01", ISBN), ("21", "12345")])


def _segment(bits: str) -> str:
    bits += "0" * (-len(bits) % 6)
    return "".join(SAFE64[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


BAD_SEGMENTS = [
    (_GOOD[:-3], "ends inside"),  # truncated inside the serial
    (_segment("10110000" + "0" * 60), "unallocated code B0"),
    (_segment("11101111" + "0" * 60), "unallocated code EF"),
    (_GOOD[:-1] + "B", "padding"),  # non-zero padding bits
    (_segment("00000001" + format(10**14, "b").zfill(47)), "longer than 14 digits"),
    (compress_ais([("01", ISBN)]) + "AAAAA", "ends inside"),  # then a bare (00) header
    (_segment("00010100" + "0" * 60), "no Application Identifier starts with 14"),
    (_segment("001000111010" + "0" * 60), "not all digits"),  # (23x) with x = A
    (_segment("001000110000" + "0" * 60), "unknown Application Identifier"),  # (230)
    (_segment("0010000110011111" + "0" * 60), "length exceeds"),  # (21) of 31 chars
    (_segment("0010000110100001" + "0" * 60), "unknown character encoding 5"),
    ("A" * 10 + "*", "outside"),
    (_segment("11110000000" + "0" * 60), "empty name"),
]


@pytest.mark.parametrize(("segment", "words"), BAD_SEGMENTS)
def test_malformed_compressed_data(segment: str, words: str) -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        decompress_ais(segment)
    assert words in caught.value.reason


BAD_URIS = [
    ("https://id.example/" + compress_ais([("21", "12345"), ("17", "250100")]), "primary key"),
    ("https://id.example/" + compress_ais([("01", "09780345418914")]), "check digit"),
    ("https://id.example/" + compress_ais([("01", ISBN), ("17", "251301")]), "month"),
    (f"https://id.example/{_GOOD}?21=12345", "query attribute"),
    (
        "https://id.example/" + compress_ais([("01", ISBN), ("17", "250100")]) + "?17=250101",
        "given",
    ),
    ("https://id.example/" + compress_ais([("01", ISBN), ("21", "a\x01")]), "not allowed"),
]


@pytest.mark.parametrize(("uri", "words"), BAD_URIS)
def test_invalid_after_decompression(uri: str, words: str) -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        parse_digital_link(uri)
    assert caught.value.reason.startswith("compressed Digital Link")
    assert words in caught.value.reason


def test_compress_refuses_what_it_cannot_write() -> None:
    with pytest.raises(GS1SyntaxError, match="cannot be compressed"):
        compress_ais([("01", ISBN)], [("foo bar", "x")])
    with pytest.raises(GS1SyntaxError, match="ASCII"):
        compress_ais([("01", ISBN), ("21", "é")])
    with pytest.raises(GS1SyntaxError, match="unknown"):
        compress_ais([("7777", "x")])
