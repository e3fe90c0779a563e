"""The officer app's compressed Digital Link reader (gs1-compression.js, gs1.js) and
authn.dl_compression / authn.digital_link must read the same AIs from the same bits:
every dictionary AI in every character encoding, every optimisation code, non-GS1
parameters, GS1's toolkit vectors, malformed and random segments, run in Debian's
chromium against Python."""

from __future__ import annotations

import random
from typing import Any

import pytest

from authn.ai_table import AI_TABLE
from authn.dl_compression import OPTIMISATIONS, SAFE64, compress_ais, decompress_ais
from authn.errors import SealtraceError
from authn.scan import parse_scan
from tests.authn.test_authn_dl_compression import (
    BAD_SEGMENTS,
    BAD_URIS,
    ISBN,
    TOOLKIT_EXAMPLE_AIS,
    TOOLKIT_VECTORS,
)
from tests.mobile.conftest import LiveServer
from tests.mobile.test_officer_vectors import run_in_officer_page

AIPairs = list[tuple[str, str]]

# Alphabets for an alphanumeric part, one per character encoding the bits can carry
# (digits, lower- and upper-case hex, base64url, 7-bit ASCII); numeric parts take digits.
ALPHABETS = ["0123456789", "0123456789abcdef", "0123456789ABCDEF", SAFE64, "a&+/%?#!~ B:"]


def _value(ai: str, alphabet: str, longest: bool) -> str:
    """A value with every component at its longest (or shortest, optional ones left out)."""
    value = ""
    for number, component in enumerate(AI_TABLE[ai].components):
        if not longest and component.optional:
            break
        size = component.max_length if longest else component.min_length
        chars = "0123456789" if component.charset == "N" else alphabet
        value += "".join(chars[(number + i) % len(chars)] for i in range(size))
    return value


def _segments() -> list[str]:
    segments = []
    for ai in sorted(AI_TABLE):
        for alphabet in ALPHABETS:
            for longest in (True, False):
                segments.append(compress_ais([(ai, _value(ai, alphabet, longest))], optimise=False))
    for sequence in OPTIMISATIONS.values():
        ais = [(ai, _value(ai, ALPHABETS[3], True)) for ai in sequence]
        segments.append(compress_ais(ais))
    segments.append(compress_ais([("01", ISBN)], [("linkType", "gs1:pip"), ("k1", "v 1")]))
    segments.append(compress_ais(TOOLKIT_EXAMPLE_AIS, [("expdt", "1903061658")], optimise=False))
    segments += [segment for segment, _ in BAD_SEGMENTS]
    rng = random.Random(16)  # fixed: the same segments on every run
    segments += ["".join(rng.choices(SAFE64, k=rng.randint(8, 60))) for _ in range(400)]
    return segments


SEGMENTS = _segments()


def _bits(stream: str) -> str:
    stream += "0" * (-len(stream) % 6)
    return "".join(SAFE64[int(stream[i : i + 6], 2)] for i in range(0, len(stream), 6))


# (01) then a non-GS1 parameter named "21" holding "7", which no writer makes: after
# decompression it reads as AI (21) in the query, and both readers refuse that alike.
DIGIT_NAMED = _bits(
    "00000001" + format(int(ISBN), "b").zfill(47)
    + "1111" + "0000010" + format(SAFE64.index("2"), "06b") + format(SAFE64.index("1"), "06b")
    + "000" + "0000001" + "0111"
)  # fmt: skip
URIS = [
    *(uri for pair in TOOLKIT_VECTORS for uri in pair[:2]),
    *(uri for uri, _ in BAD_URIS),
    f"https://id.example/01/{ISBN}/{compress_ais([('21', '12345'), ('17', '250100')])}",
    f"https://id.example/01/{ISBN}/{compress_ais([('21', '12345')])}?linkType=gs1:pip",
    f"https://id.example/01/{ISBN}/{compress_ais([('01', ISBN), ('21', '1')])}",
    f"https://id.example/01/{ISBN[:-1]}0/{compress_ais([('21', '12345')])}",
    f"https://id.example/01/{ISBN}/21/{compress_ais([('01', ISBN), ('21', '1')])}",
    f"https://id.example/{compress_ais([('21', '12345'), ('01', ISBN)])}",
    f"https://id.example/{DIGIT_NAMED}",
    f"https://id.example/{compress_ais([('00', '095060000000000016')])}",
    f"https://id.example/{compress_ais([('01', ISBN), ('21', 'A%2F1')])}",
    f"https://id.example/{compress_ais([('01', ISBN), ('21', 'A/1')])}",
    f"https://id.example/{compress_ais([('01', ISBN), ('21', 'A+1')])}",
    f"https://id.example/{compress_ais([('01', ISBN), ('21', 'AB'), ('8030', 'AAAA')])}",
    f"]Q1https://id.example/{compress_ais([('01', ISBN), ('21', '12345')])}",
    "https://id.example/0123456789",
    "https://id.example/ABCDEFG",
]


def _python_segment(segment: str) -> dict[str, Any]:
    try:
        ais, other = decompress_ais(segment)
    except SealtraceError:
        return {"ok": False, "ais": None}
    return {"ok": True, "ais": [[list(p) for p in ais], [list(p) for p in other]]}


def _python_uri(text: str) -> dict[str, Any]:
    try:
        return {"ok": True, "ais": [list(pair) for pair in parse_scan(text).ais]}
    except SealtraceError:
        return {"ok": False, "ais": None}


RUN_IN_PAGE = """async ([segments, uris]) => {
  const c = await import("/officer/static/gs1-compression.js");
  const gs1 = await import("/officer/static/gs1.js");
  const run = (f) => (text) => {
    try {
      return {ok: true, ais: f(text)};
    } catch (error) {
      if (error instanceof gs1.GS1Error) return {ok: false, ais: null};
      return {ok: "crash", ais: String(error)};
    }
  };
  return [segments.map(run(c.decompressAis)), uris.map(run(gs1.parseScan))];
}"""


def test_the_inputs_hold_accepted_and_refused_cases() -> None:
    segments = [_python_segment(s) for s in SEGMENTS]
    assert sum(r["ok"] for r in segments) > 5 * len(AI_TABLE)
    assert sum(not r["ok"] for r in segments) > 300
    uris = [_python_uri(u) for u in URIS]
    assert 10 <= sum(r["ok"] for r in uris) <= len(URIS) - 10


@pytest.mark.browser
def test_the_page_reads_every_compressed_input_as_python_does(
    browser: Any,
    live_server: LiveServer,
) -> None:
    segments, uris = run_in_officer_page(browser, live_server, RUN_IN_PAGE, [SEGMENTS, URIS])
    expected = [_python_segment(s) for s in SEGMENTS]
    mismatches: list[tuple[str, Any, Any]] = [
        (s, want, have) for s, want, have in zip(SEGMENTS, expected, segments, strict=True)
        if want != have
    ]  # fmt: skip
    assert mismatches[:5] == []  # the first few, should thousands differ
    expected = [_python_uri(u) for u in URIS]
    mismatches = [
        (u, want, have) for u, want, have in zip(URIS, expected, uris, strict=True)
        if want != have
    ]  # fmt: skip
    assert mismatches == []
