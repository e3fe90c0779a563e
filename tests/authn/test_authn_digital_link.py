"""GS1 Digital Link URIs: own vectors everywhere, digital-link.js vectors where ../shared is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from authn.digital_link import DEFAULT_BASE, DigitalLink, format_digital_link, parse_digital_link
from authn.errors import GS1SyntaxError
from authn.gs1 import has_valid_check_digit, normalise_gtin

GTIN = "09506000134352"
SIG = "Ab0-_" * 18


def test_parse_product_uri() -> None:
    link = parse_digital_link(
        f"https://id.example/01/{GTIN}/10/L%2F1/21/S1?17=250100&8030={SIG}&linkType=gs1:pip"
    )
    assert link == DigitalLink(
        ais=[("01", GTIN), ("10", "L/1"), ("21", "S1"), ("17", "250100"), ("8030", SIG)],
        base="https://id.example",
        other_params=[("linkType", "gs1:pip")],
    )


def test_parse_keeps_uri_order_and_decodes() -> None:
    link = parse_digital_link(
        f"https://example.com/some/path/01/{GTIN}/22/V/10/L%2F1/21/S%21?8030={SIG}&17=250100"
    )
    assert link.ais == [
        ("01", GTIN),
        ("22", "V"),
        ("10", "L/1"),
        ("21", "S!"),
        ("8030", SIG),
        ("17", "250100"),
    ]
    assert link.base == "https://example.com/some/path"
    assert link.primary_key == ("01", GTIN)
    assert link.other_params == []


def test_format_canonical_uri() -> None:
    ais = [("8030", SIG), ("17", "250100"), ("21", "S/1(x)"), ("01", GTIN), ("10", "L1")]
    uri = format_digital_link(ais)
    assert uri == (f"{DEFAULT_BASE}/01/{GTIN}/10/L1/21/S%2F1%28x%29?17=250100&8030={SIG}")
    assert sorted(parse_digital_link(uri).ais) == sorted(ais)


def test_format_with_base_and_other_params() -> None:
    uri = format_digital_link(
        [("01", GTIN)], "http://resolver.example/prefix/", other_params=[("linkType", "gs1:pip")]
    )
    assert uri == f"http://resolver.example/prefix/01/{GTIN}?linkType=gs1%3Apip"
    assert parse_digital_link(uri).base == "http://resolver.example/prefix"


def test_short_gtins_in_the_path_are_refused_unless_permitted() -> None:
    # GS1's current rule: 14 digits in the path; the legacy padding is an option.
    for short in ("12345670", "012345678905", "9780345418913"):
        with pytest.raises(GS1SyntaxError, match="14 digits"):
            parse_digital_link(f"https://e.example/01/{short}/21/1")
        link = parse_digital_link(
            f"https://e.example/01/{short}/21/1", permit_zero_suppressed_gtin=True
        )
        assert link.ais[0] == ("01", short.rjust(14, "0"))


def test_other_primary_keys() -> None:
    sscc = "106141411234567897"
    assert parse_digital_link(f"https://e.example/00/{sscc}?02={GTIN}&37=10").ais == [
        ("00", sscc),
        ("02", GTIN),
        ("37", "10"),
    ]
    gln = "9506000134376"
    assert parse_digital_link(f"https://e.example/414/{gln}/254/A1").ais == [
        ("414", gln),
        ("254", "A1"),
    ]
    itip = "095060001343520102"
    assert parse_digital_link(f"https://e.example/8006/{itip}/21/X").ais == [
        ("8006", itip),
        ("21", "X"),
    ]


BAD_URIS = [
    ("ftp://e.example/01/09506000134352", "https://"),
    ("https:///01/09506000134352", "no host"),
    ("https://e.example/01/09506000134353", "check digit"),
    ("https://e.example/01/09506000134352/21/S/10/L", "out of order"),
    ("https://e.example/01/09506000134352/10/L/10/L", "twice"),
    ("https://e.example/01/09506000134352/10/L/235/T", "mixed"),
    ("https://e.example/01/09506000134352/254/X", "not a key qualifier"),
    ("https://e.example/01/09506000134352/7777/X", "unknown Application Identifier"),
    ("https://e.example/01/09506000134352?7777=X", "unknown Application Identifier"),
    ("https://e.example/01/09506000134352/21/S?21=S", "query attribute"),
    ("https://e.example/01/09506000134352/10/A?10=B", "with another value"),
    ("https://e.example/01/09506000134352?17=250100&17=250100", "twice"),
    ("https://e.example/01/09506000134352?17=251301", "month 13"),
    ("https://e.example/01/09506000134352?17", "no value"),
    ("https://e.example/01/09506000134352?8030=" + "A" * 91, "too long"),
    ("https://e.example/01/09506000134352?8030=A", "requires"),
    ("https://e.example/01/09506000134352/21/%7E", "'~' is not allowed"),
    ("https://e.example/01/09506000134352/21/%C3%A4", "non-ASCII"),
    ("https://e.example/01/09506000134352/21/a%2", "two hex digits"),
    ("https://e.example/01/09506000134352/21/a b", "not allowed in a URI"),
    ("https://e.example/products/123", "no GS1 primary key"),
    ("https://e.example/", "no GS1 primary key"),
    ("https://e.example/products/somethinglong", "no compressed Digital Link"),
    ("https://e.example/01/09780345418913/DBHKVAdpQgowOQ", "given twice"),
    ("https://e.example/gtin/09506000134352", "alphabetic key names"),
    ("https://e.example/21/S", "no GS1 primary key"),
]


@pytest.mark.parametrize(("uri", "words"), BAD_URIS)
def test_bad_uris(uri: str, words: str) -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        parse_digital_link(uri)
    assert words in caught.value.reason


def test_error_names_the_ai_and_where() -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        parse_digital_link("https://e.example/01/09506000134352?17=251301")
    assert caught.value.ai == "17"
    assert caught.value.position == len("https://e.example/01/09506000134352?17=")


BAD_FORMAT = [
    ([("21", "S")], "requires"),
    ([("400", "PO")], "primary key"),
    ([("414", "9506000134376"), ("8030", "A")], "requires"),
    ([("01", GTIN), ("21", "S"), ("7040", "1ABC")], "neither a key qualifier"),
    ([], "no AIs"),
]


@pytest.mark.parametrize(("ais", "words"), BAD_FORMAT)
def test_bad_format(ais: list[tuple[str, str]], words: str) -> None:
    with pytest.raises(GS1SyntaxError, match=words):
        format_digital_link(ais)


@pytest.mark.parametrize("base", ["ftp://x", "https://x/?q", "https://x/#f", "x"])
def test_bad_base(base: str) -> None:
    with pytest.raises(GS1SyntaxError, match="base"):
        format_digital_link([("01", GTIN)], base)


# --- digital-link.js vectors (../shared/gs1) ---------------------------------------

# Where digital-link.js (Digital Link 1.1/1.2 grammar) and the current GS1 rules
# disagree, the current rules win. Each case, by URI (and options), with why.
_SHORT = (
    "the current rules want a 14-digit GTIN in the path: zero-suppressed GTIN-8/12/13 are"
    " refused by default (parse_digital_link(permit_zero_suppressed_gtin=True) pads them)"
)
_ALPHA = "alphabetic key names (/gtin/, /sscc/, ...) are not part of the current standard"
KNOWN_DIFFERENCES: dict[str, str] = {
    "https://example.com/01/01234565/21/12345/10/4512 sortKeyQualifiers": (
        "no option to sort qualifiers: out-of-order qualifiers are always rejected"
    ),
    "https://example.com/gtin/012345678905": _ALPHA,
    "https://example.com/grai/050606547800290002": _ALPHA,
    "https://example.com/gln/0123456789128": _ALPHA,
    "https://example.com/sscc/012345678912345675": _ALPHA,
    "https://example.com/gsrn/012345678912345675": _ALPHA,
    "https://example.com/gdti/012345178912345667": _ALPHA,
    "https://example.com/gsin/01234367891244565": _ALPHA,
    "https://example.com/gcn/01234567891284569": _ALPHA,
    "https://example.com/01/01234565/": (
        "GS1's current engine refuses a trailing '/' after the last path value"
    ),
    "https://example.com/01/01234565/10/12345/21/4512": _SHORT,
    "https://example.com/01/12345670/10/4512?240=ABCD": _SHORT,
    "https://example.com/01/012345678905": _SHORT,
    "https://example.com/01/12345670/10/4512?linkType=ABCD": _SHORT,
}


def _vectors(shared_dir: Path) -> dict[str, Any]:
    path = shared_dir / "gs1" / "digital-link-js-vectors.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _accepts(uri: str) -> bool:
    try:
        parse_digital_link(uri)
    except GS1SyntaxError:
        return False
    return True


def test_digital_link_js_uri_validity(shared_dir: Path) -> None:
    cases = _vectors(shared_dir)["uri_validity"]
    assert len(cases) > 20
    differences_seen = set()
    for case in cases:
        key = case["dl_uri"] + "".join(f" {opt}" for opt in case.get("options", {}))
        verdict = _accepts(case["dl_uri"])
        if key in KNOWN_DIFFERENCES:
            assert verdict != case["expected"], f"{key} now agrees; drop it from the list"
            differences_seen.add(key)
        else:
            assert verdict == case["expected"], (case["source_line"], case["dl_uri"])
    assert differences_seen == set(KNOWN_DIFFERENCES)


def test_digital_link_js_grammar_rules(shared_dir: Path) -> None:
    from authn.ai import validate_value

    rule_ai = {"gtin": "01", "ser": "21", "cpv": "22"}
    for case in _vectors(shared_dir)["grammar_rule_tests"]:
        rule, text = case["rule"], case["input"]
        if rule == "extensionParameter":
            # Accepted and kept as a non-AI parameter, or rejected as an unknown AI.
            try:
                link = parse_digital_link(f"https://e.example/01/{GTIN}?{text}")
                verdict = link.other_params == [tuple(text.split("=", 1))]
            except GS1SyntaxError:
                verdict = False
        else:
            value = text
            try:
                if rule == "gtin" and value.isdigit():
                    value = normalise_gtin(value)
                validate_value(rule_ai[rule], value)
                verdict = True
            except GS1SyntaxError:
                verdict = False
        assert verdict == case["expected"], case


def test_digital_link_js_check_digits(shared_dir: Path) -> None:
    for case in _vectors(shared_dir)["check_digit"]:
        digits = case["input"]
        if case["key_length_arg"] > 0:
            digits = digits[: case["key_length_arg"]]
        assert has_valid_check_digit(digits) == case["expected"], case


def test_digital_link_js_roundtrip(shared_dir: Path) -> None:
    for case in _vectors(shared_dir)["roundtrip"]:
        parsed = case["parsed"]
        # The one roundtrip vector carries a GTIN-13 in its path (see _SHORT above).
        link = parse_digital_link(case["dl_uri"], permit_zero_suppressed_gtin=True)
        assert link.base == parsed["domain"]
        expected = {
            ai: v for part in ("identifier", "keyQualifiers") for ai, v in parsed[part].items()
        }
        expected.update({k: v for k, v in parsed["attributes"].items() if k.isdigit()})
        expected["01"] = normalise_gtin(expected["01"])
        assert dict(link.ais) == expected
        others = {k: v for k, v in parsed["attributes"].items() if not k.isdigit()}
        others["linkType"] = parsed["linkType"]
        assert dict(link.other_params) == others
        again = format_digital_link(link.ais, link.base, other_params=link.other_params)
        assert parse_digital_link(again) == link
