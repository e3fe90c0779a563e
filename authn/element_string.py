"""GS1 element strings: the bracketed human form and the FNC1 (GS) form.

- Bracketed: ``(01)09506000134352(10)ABC(21)123``, what is printed under a
  barcode and what people type.
- FNC1 form: ``0109506000134352`` ``10ABC`` GS ``21123``, what a GS1 barcode
  holds and what a scanner sends after its AIM symbology identifier. GS
  (0x1D) is how scanners transmit FNC1. A separator is needed only after an AI
  whose value is not of predefined length (GS1 General Specifications, the
  predefined-length table), and not after the last one.

Both parsers return ``(AI, value)`` pairs in input order, each value checked
against the AI table, and (unless ``check_associations=False``) the set
checked against GS1's req/ex pairing rules. Errors are
:class:`GS1SyntaxError` with the 0-based ``position`` in the input.

Parentheses inside values: CSET 82 allows ``(`` in a value, which makes the
bracketed form ambiguous. Here, a ``(`` followed by a *known* AI and ``)``
always starts the next element; any other ``(`` belongs to the value. A value
that really contains such a sequence is written with ``\\(`` (backslash never
occurs in a GS1 value), and :func:`format_bracketed` does exactly that, so
``parse_bracketed(format_bracketed(ais)) == ais`` always holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from authn.ai import validate_ais, validate_associations, validate_value
from authn.ai_table import AI_TABLE, ai_at, ai_spec
from authn.errors import GS1SyntaxError

GS = "\x1d"
AIPair = tuple[str, str]

_BRACKETED_AI = re.compile(r"\((\d{2,4})\)")


def _starts_element(text: str, pos: int) -> bool:
    match = _BRACKETED_AI.match(text, pos)
    return match is not None and match[1] in AI_TABLE


def _validate_at(ai: str, value: str, offsets: Sequence[int], end: int) -> None:
    """validate_value, with the error position mapped to the input offset."""
    try:
        validate_value(ai, value)
    except GS1SyntaxError as error:
        at = error.position or 0
        position = offsets[at] if at < len(offsets) else end
        raise GS1SyntaxError(error.reason, position=position, ai=ai) from None


def _raise_if_unknown_ai_inside(text: str, offsets: Sequence[int]) -> None:
    """Name an unknown "(AI)" inside a bad value: likelier a typo than data."""
    if not offsets:
        return
    for match in _BRACKETED_AI.finditer(text, offsets[0], offsets[-1] + 1):
        raise GS1SyntaxError(
            "unknown Application Identifier", position=match.start() + 1, ai=match[1]
        )


def parse_bracketed(text: str, *, check_associations: bool = True) -> list[AIPair]:
    """Parse ``(AI)value(AI)value...`` into (AI, value) pairs."""
    if not text.startswith("("):
        raise GS1SyntaxError("a bracketed element string starts with '(' and an AI", position=0)
    pairs: list[AIPair] = []
    pos = 0
    while pos < len(text):
        match = _BRACKETED_AI.match(text, pos)
        if match is None:
            raise GS1SyntaxError("expected an AI in brackets such as (01)", position=pos)
        ai = match[1]
        if ai not in AI_TABLE:
            raise GS1SyntaxError("unknown Application Identifier", position=pos + 1, ai=ai)
        chars: list[str] = []
        offsets: list[int] = []
        pos = match.end()
        while pos < len(text) and not _starts_element(text, pos):
            if text.startswith("\\(", pos):
                chars.append("(")
                offsets.append(pos)
                pos += 2
            else:
                chars.append(text[pos])
                offsets.append(pos)
                pos += 1
        try:
            _validate_at(ai, "".join(chars), offsets, pos)
        except GS1SyntaxError:
            _raise_if_unknown_ai_inside(text, offsets)
            raise
        pairs.append((ai, "".join(chars)))
    if check_associations:
        validate_associations(pairs)
    return pairs


def _hint_missing_separator(error: GS1SyntaxError) -> GS1SyntaxError:
    if error.reason.startswith("value is too long"):
        return GS1SyntaxError(
            error.reason + " (is a GS separator missing after it?)",
            position=error.position,
            ai=error.ai,
        )
    return error


def parse_element_string(text: str, *, check_associations: bool = True) -> list[AIPair]:
    """Parse the FNC1 form (GS-separated, optional leading GS) into (AI, value) pairs.

    Fixed-length values are taken by their length even where GS1 asks for a
    separator after them (e.g. 8006): that is unambiguous, and scanners that
    drop separators still give a usable result. A GS right after a
    fixed-length value and one trailing GS are tolerated.
    """
    pos = 1 if text.startswith(GS) else 0
    if pos >= len(text):
        raise GS1SyntaxError("element string is empty")
    pairs: list[AIPair] = []
    while pos < len(text):
        spec = ai_at(text, pos)
        if spec is None:
            found = text[pos : pos + 4]
            if not found[:2].isdigit() or not found.isascii():
                raise GS1SyntaxError(f"expected an AI (digits), found {found[:1]!r}", position=pos)
            raise GS1SyntaxError(f"no known Application Identifier at {found!r}", position=pos)
        start = pos + len(spec.ai)
        if spec.fixed_length:
            end = start + spec.max_length
            value = text[start:end]
            if len(value) < spec.max_length or GS in value:
                short = value.split(GS)[0]
                raise GS1SyntaxError(
                    f"value is too short: {len(short)} characters, needs {spec.max_length}",
                    position=start + len(short),
                    ai=spec.ai,
                )
        else:
            separator = text.find(GS, start)
            end = len(text) if separator < 0 else separator
            value = text[start:end]
        try:
            _validate_at(spec.ai, value, range(start, end), end)
        except GS1SyntaxError as error:
            raise _hint_missing_separator(error) from None
        pairs.append((spec.ai, value))
        pos = end + 1 if text.startswith(GS, end) else end
    if check_associations:
        validate_associations(pairs)
    return pairs


def _escape_parentheses(value: str) -> str:
    out: list[str] = []
    for pos, char in enumerate(value):
        out.append("\\(" if char == "(" and _starts_element(value, pos) else char)
    return "".join(out)


def format_bracketed(ais: Sequence[AIPair], *, check_associations: bool = True) -> str:
    """``(AI)value...`` in the given order; see the module notes on ``\\(``."""
    validate_ais(ais, check_associations=check_associations)
    return "".join(f"({ai}){_escape_parentheses(value)}" for ai, value in ais)


def format_fnc1(ais: Sequence[AIPair], *, check_associations: bool = True) -> str:
    """The FNC1 form in the given order: GS only after non-predefined-length AIs not last.

    No leading FNC1: the symbology marks GS1 data itself (``]d2``, ``]Q3``, ``]C1``).
    """
    validate_ais(ais, check_associations=check_associations)
    parts: list[str] = []
    for index, (ai, value) in enumerate(ais):
        parts.append(ai + value)
        if index < len(ais) - 1 and not ai_spec(ai).predefined_length:
            parts.append(GS)
    return "".join(parts)
