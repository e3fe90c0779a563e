"""GS1 element strings: the bracketed human form and the FNC1 (GS) form.

- Bracketed: ``(01)09506000134352(10)ABC(21)123``, what is printed under a
  barcode and what people type.
- FNC1 form: ``0109506000134352`` ``10ABC`` GS ``21123``, what a GS1 barcode
  holds and what a scanner sends after its AIM symbology identifier. GS
  (0x1D) is how scanners transmit FNC1.

Both parsers follow GS1's syntax engine and return ``(AI, value)`` pairs in
input order, each value checked against the AI table and (unless
``check_associations=False``) the set checked against GS1's pairing rules.
Errors are :class:`GS1SyntaxError` with the 0-based ``position`` in the input.

Brackets: in the bracketed form every ``(`` starts the next ``(AI)``; a
``(`` that belongs to a value is written ``\\(`` (backslash never occurs in
a GS1 value). An unknown AI or a stray ``(`` is an error, never part of the
previous value. :func:`format_bracketed` escapes every ``(``, so
``parse_bracketed(format_bracketed(ais)) == ais`` always holds.

Separators: after an AI of predefined length (the dictionary's ``*`` flag:
00, 01, 11-17, 31nn...) the next AI follows at once; after every other AI
the value ends at a GS or at the end of the data, and a value that runs
past the AI's maximum length is an error, even for fixed-length AIs such as
8006 that are not of predefined length. One GS after a predefined-length
value and one at the very end are tolerated, as by GS1's engine.
"""

from __future__ import annotations

from collections.abc import Sequence

from authn.ai import MAX_AIS, validate_ais, validate_associations, validate_value
from authn.ai_table import AI_TABLE, AISpec, ai_at, ai_spec
from authn.errors import GS1SyntaxError

GS = "\x1d"
AIPair = tuple[str, str]


def _validate_at(ai: str, value: str, offsets: Sequence[int], end: int) -> None:
    """validate_value, with the error position mapped to the input offset."""
    try:
        validate_value(ai, value)
    except GS1SyntaxError as error:
        at = error.position or 0
        position = offsets[at] if at < len(offsets) else end
        raise GS1SyntaxError(error.reason, position=position, ai=ai) from None


def _bracketed_ai(text: str, pos: int) -> tuple[str, int]:
    """The AI of the ``(AI)`` at ``pos`` and where its value starts."""
    if text[pos] != "(":
        raise GS1SyntaxError("expected an AI in brackets such as (01)", position=pos)
    close = text.find(")", pos + 1)
    if close < 0:
        raise GS1SyntaxError("'(' without ')': expected an AI such as (01)", position=pos)
    ai = text[pos + 1 : close]
    if ai not in AI_TABLE:
        if ai.isascii() and ai.isdigit() and 2 <= len(ai) <= 4:
            raise GS1SyntaxError("unknown Application Identifier", position=pos + 1, ai=ai)
        raise GS1SyntaxError(
            f"expected an AI such as (01), found ({ai}); write a '(' inside a value as '\\('",
            position=pos,
        )
    if close + 1 == len(text):
        raise GS1SyntaxError("the AI has an empty value", position=close + 1, ai=ai)
    return ai, close + 1


def _unescaped_offsets(raw: str, start: int) -> list[int]:
    offsets: list[int] = []
    pos = 0
    while pos < len(raw):
        offsets.append(start + pos)
        pos += 2 if raw.startswith("\\(", pos) else 1
    return offsets


def parse_bracketed(text: str, *, check_associations: bool = True) -> list[AIPair]:
    """Parse ``(AI)value(AI)value...`` into (AI, value) pairs."""
    if not text.startswith("("):
        raise GS1SyntaxError("a bracketed element string starts with '(' and an AI", position=0)
    pairs: list[AIPair] = []
    pos = 0
    while pos < len(text):
        ai, start = _bracketed_ai(text, pos)
        pos = text.find("(", start)
        while pos > 0 and text[pos - 1] == "\\":  # an escaped '(' belongs to the value
            pos = text.find("(", pos + 1)
        if pos < 0:
            pos = len(text)
        raw = text[start:pos]
        value = raw.replace("\\(", "(")
        # Offsets of the value's characters in the input (an escape is two characters).
        offsets = range(start, pos) if len(value) == len(raw) else _unescaped_offsets(raw, start)
        _validate_at(ai, value, offsets, pos)
        pairs.append((ai, value))
        if len(pairs) > MAX_AIS:
            raise GS1SyntaxError(f"too many AIs: at most {MAX_AIS}", position=pos)
    if check_associations:
        validate_associations(pairs)
    return pairs


def _fnc1_value(text: str, spec: AISpec, start: int) -> tuple[str, int]:
    """The value of ``spec`` starting at ``start`` and where it ends."""
    separator = text.find(GS, start)
    stop = len(text) if separator < 0 else separator
    if spec.predefined_length:
        end = start + spec.max_length
        if end > stop:
            raise GS1SyntaxError(
                f"value is too short: {stop - start} characters, needs {spec.max_length}",
                position=stop,
                ai=spec.ai,
            )
        return text[start:end], end
    if stop - start > spec.max_length:
        raise GS1SyntaxError(
            f"value is too long: more than {spec.max_length} characters "
            "(is a GS separator missing after it?)",
            position=start + spec.max_length,
            ai=spec.ai,
        )
    return text[start:stop], stop


def parse_element_string(text: str, *, check_associations: bool = True) -> list[AIPair]:
    """Parse the FNC1 form (GS-separated, optional leading GS) into (AI, value) pairs."""
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
        value, end = _fnc1_value(text, spec, start)
        _validate_at(spec.ai, value, range(start, end), end)
        pairs.append((spec.ai, value))
        if len(pairs) > MAX_AIS:
            raise GS1SyntaxError(f"too many AIs: at most {MAX_AIS}", position=end)
        pos = end + 1 if text.startswith(GS, end) else end
    if check_associations:
        validate_associations(pairs)
    return pairs


def format_bracketed(ais: Sequence[AIPair], *, check_associations: bool = True) -> str:
    """``(AI)value...`` in the given order, every ``(`` in a value written ``\\(``."""
    validate_ais(ais, check_associations=check_associations)
    return "".join(f"({ai})" + value.replace("(", "\\(") for ai, value in ais)


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
