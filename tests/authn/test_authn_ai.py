"""The AI table and the value / association rules it drives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from authn.ai import validate_associations, validate_value
from authn.ai_table import (
    AI_TABLE,
    LINTERS,
    PREDEFINED_LENGTH_PREFIXES,
    AISpec,
    ai_at,
    ai_spec,
    matches,
)
from authn.errors import GS1SyntaxError

SSCC = "106141411234567897"
GTIN = "09506000134352"
GLN = "9506000134376"


# --- values -----------------------------------------------------------------

VALID_VALUES = [
    ("00", SSCC),
    ("01", GTIN),
    ("10", "ABC-123/x"),
    ("10", "!\"%&'()*+,-./:;<=>?_"),
    ("11", "250131"),
    ("17", "250100"),  # DD=00: end of month
    ("17", "240229"),
    ("20", "07"),
    ("21", "A" * 20),
    ("235", "T" * 28),
    ("253", GLN.replace("76", "76")),
    ("253", "9506000134376ABC"),
    ("255", "9506000134376"),
    ("255", "9506000134376123456789012"),
    ("3103", "001250"),
    ("3922", "123"),
    ("37", "12345678"),
    ("410", GLN),
    ("421", "528ABC12345"),
    ("422", "528"),
    ("7003", "2501312359"),
    ("7040", "1A_-"),
    ("8003", "095060001343520ABC"),
    ("8004", "9506000134CHAIR-1"),
    ("8006", "095060001343520102"),
    ("8010", "9506000#-/AB"),
    ("8011", "0"),
    ("8011", "123456789012"),
    ("8030", "A" * 90),
    ("8030", "ab-_09"),
    ("8030", "ABCDEFGH="),
    ("90", "x" * 30),
    ("91", "y" * 90),
    ("99", "internal data"[:8]),
]


@pytest.mark.parametrize(("ai", "value"), [v for v in VALID_VALUES if v[0] in AI_TABLE])
def test_valid_values_pass(ai: str, value: str) -> None:
    validate_value(ai, value)


INVALID_VALUES = [
    # (ai, value, words in the message, position)
    ("01", "09506000134353", "check digit 3 (expected 2)", 13),
    ("01", "0950600013435", "too short", 13),
    ("01", "095060001343520", "too long", 14),
    ("01", "0950600013435X", "'X' is not allowed", 13),
    ("00", "106141411234567890", "check digit", 17),
    ("10", "", "empty", 0),
    ("10", "A" * 21, "too long: 21 characters, at most 20", 20),
    ("10", "AB C", "' ' is not allowed", 2),
    ("10", "ÄB", "'Ä' is not allowed", 0),
    ("21", "a~b", "'~' is not allowed", 1),
    ("17", "251300", "month 13 is not 01-12", 2),
    ("17", "250230", "day 30 does not exist in month 02", 4),
    ("17", "2501", "too short", 4),
    ("7003", "2501312460", "time 2460", 6),
    ("7003", "2501002359", "day 00 is not allowed", 4),
    ("3103", "12345", "too short", 5),
    ("8003", "195060001343520ABC", "must be 0", 0),
    ("8006", "095060001343520300", "piece 03 of total 00", 14),
    ("8006", "095060001343520302", "piece 03 of total 02", 14),
    ("8010", "abc", "'a' is not allowed here (GS1 CSET 39)", 0),
    ("8011", "0123", "must not start with 0", 0),
    ("8030", "A" * 91, "too long", 90),
    ("8030", "ab+/", "'+' is not allowed", 2),
    ("8030", "ABCD=", "padding", 4),
    ("8030", "AB===", "padding", 2),
    ("7040", "1AB=", "importer index", 3),
    ("253", "9506000134376" + "X" * 18, "too long", 30),
]


@pytest.mark.parametrize(("ai", "value", "words", "position"), INVALID_VALUES)
def test_invalid_values_say_what_and_where(ai: str, value: str, words: str, position: int) -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        validate_value(ai, value)
    assert words in caught.value.reason
    assert caught.value.ai == ai
    assert caught.value.position == position


def test_message_names_the_ai() -> None:
    with pytest.raises(GS1SyntaxError, match=r"month 13 is not 01-12 \[AI \(17\)"):
        validate_value("17", "251300")


@pytest.mark.parametrize("ai", ["19", "23", "7777", "9", "abc", "01234"])
def test_unknown_ai_is_a_syntax_error(ai: str) -> None:
    with pytest.raises(GS1SyntaxError, match="Application Identifier"):
        validate_value(ai, "1")


# --- associations -------------------------------------------------------------

VALID_SETS = [
    [("01", GTIN), ("21", "S1")],
    [("01", GTIN), ("10", "L1"), ("17", "250100"), ("21", "S1"), ("8030", "A" * 90)],
    [("00", SSCC), ("02", GTIN), ("37", "12"), ("3300", "000100")],
    [("00", SSCC), ("8030", "A")],
    [("8006", "095060001343520102"), ("21", "S"), ("8030", "A")],
    [("01", GTIN), ("3103", "000500"), ("3922", "199")],
    [("414", GLN), ("254", "EXT")],
    [("01", GTIN), ("21", "S"), ("250", "X"), ("7240", "P")],
    [("400", "PO-1")],
    [("01", GTIN), ("21", "S"), ("01", GTIN)],  # a repeat with the same value is tolerated
]


@pytest.mark.parametrize("ais", VALID_SETS)
def test_valid_associations(ais: list[tuple[str, str]]) -> None:
    validate_associations(ais)


INVALID_SETS = [
    ([("21", "S")], "21", "requires (01) or (03) or (8006)"),
    ([("10", "L")], "10", "requires"),
    ([("01", GTIN), ("8030", "A")], "8030", "(01)+(21)"),
    ([("8006", "095060001343520102"), ("8030", "A")], "8030", "requires"),
    ([("01", GTIN), ("02", GTIN), ("37", "1")], "01", "may not appear together"),
    ([("01", GTIN), ("21", "S"), ("235", "T")], "21", "(235)"),
    ([("01", GTIN), ("3100", "000100"), ("3102", "000100")], "3100", "(3102)"),
    ([("01", GTIN), ("3922", "1")], "3922", "(30) or (31nn)"),
    ([("01", GTIN), ("250", "X")], "250", "(21)"),
    ([("254", "X")], "254", "(414)"),
    ([("01", GTIN), ("21", "A"), ("21", "B")], "21", "twice with different values"),
]


@pytest.mark.parametrize(("ais", "ai", "words"), INVALID_SETS)
def test_invalid_associations(ais: list[tuple[str, str]], ai: str, words: str) -> None:
    with pytest.raises(GS1SyntaxError) as caught:
        validate_associations(ais)
    assert caught.value.ai == ai
    assert words in caught.value.reason


# --- the table itself -------------------------------------------------------


def test_table_covers_product_and_logistics_labels() -> None:
    wanted = [
        *("00", "01", "02", "10", "11", "12", "13", "15", "16", "17", "20", "21", "22"),
        *("235", "240", "241", "250", "251", "253", "254", "255", "30", "37"),
        *("400", "401", "402", "403", "410", "411", "412", "413", "414", "415", "416"),
        *("417", "421", "422", "7003", "7240", "8003", "8004", "8006", "8010", "8011"),
        *("8017", "8018", "8020", "8030", "90", "91", "95", "99"),
    ]
    measures = [f"3{mid:02d}{d}" for mid in range(10, 70) for d in range(6)]
    known_measures = [ai for ai in measures if ai in AI_TABLE]
    assert not [ai for ai in wanted if ai not in AI_TABLE]
    assert "3100" in known_measures
    assert "3695" in known_measures
    assert len(known_measures) == 6 * 53  # 317-319, 338-339, 358-359 are not allocated


def test_ais_are_prefix_free() -> None:
    # Parsing an element string relies on it: at most one AI starts any position.
    codes = list(AI_TABLE)
    clashes = [(a, b) for a in codes for b in codes if a != b and b.startswith(a)]
    assert clashes == []


def test_predefined_length_flag_matches_the_gs1_prefix_table() -> None:
    for spec in AI_TABLE.values():
        total = PREDEFINED_LENGTH_PREFIXES.get(spec.ai[:2])
        assert spec.predefined_length == (total is not None), spec.ai
        if total is not None:
            assert spec.fixed_length, spec.ai
            assert len(spec.ai) + spec.max_length == total, spec.ai


def test_lookup_helpers() -> None:
    assert ai_spec("17").title == "USE BY or EXPIRY"  # the dictionary's title
    assert ai_at("x3103000500", 1) == AI_TABLE["3103"]
    assert ai_at("8030AAA", 0) == AI_TABLE["8030"]
    assert ai_at("2399", 0) is None
    assert matches("310n", "3105")
    assert matches("31nn", "3199")
    assert not matches("310n", "3110")
    assert not matches("310n", "31")
    assert AI_TABLE["01"].dl_qualifiers == (("22", "10", "21"), ("235",))
    assert AI_TABLE["00"].dl_qualifiers == ((),)
    assert AI_TABLE["10"].dl_qualifiers is None


# --- cross-check with GS1's syntax dictionary (../shared) ------------------------

# Linters the dictionary names that sealtrace does not enforce: none since the
# table is generated from the dictionary and authn.linters implements each.
NOT_ENFORCED_LINTERS: set[str] = set()

# AIs whose entry in our table intentionally differs from the dictionary, with
# the reason. Empty today: every AI we know agrees on every checked property.
INTENTIONAL_DIFFERENCES: dict[str, str] = {}

_DICT_COMPONENT = re.compile(r"(\[)?([NXYZ])(\.\.)?(\d+)(\])?((?:,\w+)*)")


def _dictionary(path: Path) -> dict[str, dict[str, object]]:
    entries: dict[str, dict[str, object]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        body = line.split("#", 1)[0]
        words = body.split()
        first, _, last = words[0].partition("-")
        flags = ""
        rest = words[1:]
        if rest and not _DICT_COMPONENT.fullmatch(rest[0]):
            flags, rest = rest[0], rest[1:]
        components = []
        requires = []
        excludes: list[str] = []
        dl: tuple[tuple[str, ...], ...] | None = None
        for word in rest:
            component = _DICT_COMPONENT.fullmatch(word)
            if component:
                length = int(component[4])
                components.append(
                    (
                        component[2],
                        1 if component[3] else length,
                        length,
                        bool(component[1]),
                        tuple(x for x in component[6].split(",") if x),
                    )
                )
            elif word.startswith("req="):
                requires.append(tuple(tuple(a.split("+")) for a in word[4:].split(",")))
            elif word.startswith("ex="):
                excludes.extend(word[3:].split(","))
            elif word == "dlpkey":
                dl = ((),)
            elif word.startswith("dlpkey="):
                dl = tuple(tuple(s.split(",")) for s in word[7:].split("|"))
        for number in range(int(first), int(last or first) + 1):
            entries[str(number).zfill(len(first))] = {
                "components": components,
                "predefined": "*" in flags,
                "dl_attribute": "?" in flags,
                "dl": dl,
                "requires": tuple(requires),
                "excludes": tuple(excludes),
            }
    return entries


def _ours(spec: AISpec) -> dict[str, object]:
    return {
        "components": [
            (c.charset, c.min_length, c.max_length, c.optional, c.linters) for c in spec.components
        ],
        "predefined": spec.predefined_length,
        "dl_attribute": spec.dl_attribute,
        "dl": spec.dl_qualifiers,
        "requires": spec.requires,
        "excludes": spec.excludes,
    }


def test_table_agrees_with_gs1_syntax_dictionary(shared_dir: Path) -> None:
    dictionary = _dictionary(shared_dir / "gs1" / "gs1-syntax-dictionary.txt")
    assert len(dictionary) > 400, "the dictionary did not parse"
    disagreements = {}
    for ai, spec in AI_TABLE.items():
        assert ai in dictionary, f"AI {ai} is not in GS1's dictionary"
        theirs = dictionary[ai]
        linters = set()
        enforced = []
        for charset, low, high, optional, names in theirs["components"]:  # type: ignore[attr-defined]
            linters |= set(names)
            kept = tuple(n for n in names if n in LINTERS)
            enforced.append((charset, low, high, optional, kept))
        assert linters <= LINTERS | NOT_ENFORCED_LINTERS, (ai, linters)
        theirs = {**theirs, "components": enforced}
        ours = _ours(spec)
        diff = {k: (ours[k], theirs[k]) for k in ours if ours[k] != theirs[k]}
        if diff:
            disagreements[ai] = diff
    assert set(disagreements) == set(INTENTIONAL_DIFFERENCES), disagreements
