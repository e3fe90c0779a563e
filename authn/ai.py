"""Validation of GS1 AI values and AI combinations, driven by :mod:`authn.ai_table`.

- :func:`validate_value` checks one value: character set, length of each
  component, and the component's linters (check digit, dates, ...).
- :func:`validate_associations` checks a whole set of AIs against the GS1
  rules of mandatory (``req``) and invalid (``ex``) pairings, and that no AI is
  given twice with different values.

Error positions are 0-based offsets in the value; parsers shift them to the
offset in their input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from authn.ai_table import AISpec, Component, ai_spec, matches
from authn.errors import GS1SyntaxError
from authn.gs1 import check_digit, check_yymmdd

CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
CSET39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CSET64 = frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
DIGITS = frozenset("0123456789")

_CHARSETS: dict[str, tuple[frozenset[str], str]] = {
    "N": (DIGITS, "digits"),
    "X": (CSET82, "GS1 CSET 82"),
    "Y": (CSET39, "GS1 CSET 39"),
    "Z": (CSET64, "GS1 CSET 64 (base64url)"),
}

_HHMI = re.compile(r"(?:[01]\d|2[0-3])[0-5]\d")


def _fail(message: str, position: int) -> GS1SyntaxError:
    # The AI is filled in by validate_value, which knows it.
    return GS1SyntaxError(message, position=position)


def _lint_csum(part: str, start: int) -> None:
    expected = check_digit(part[:-1])
    if part[-1] != expected:
        raise _fail(f"wrong check digit {part[-1]} (expected {expected})", start + len(part) - 1)


def _lint_date(part: str, start: int, *, zero_day: bool) -> None:
    try:
        check_yymmdd(part, zero_day=zero_day)
    except GS1SyntaxError as error:
        raise _fail(error.reason, start + (error.position or 0)) from None


def _lint_hhmi(part: str, start: int) -> None:
    if not _HHMI.fullmatch(part):
        raise _fail(f"time {part} is not HHMI (00-23 hours, 00-59 minutes)", start)


def _lint_zero(part: str, start: int) -> None:
    if part != "0":
        raise _fail(f"digit must be 0, got {part}", start)


def _lint_piece_of_total(part: str, start: int) -> None:
    piece, total = int(part[:2]), int(part[2:])
    if piece == 0 or total == 0 or piece > total:
        raise _fail(f"piece {part[:2]} of total {part[2:]} is not a valid piece number", start)


def _lint_no_zero_prefix(part: str, start: int) -> None:
    if len(part) > 1 and part[0] == "0":
        raise _fail("value must not start with 0", start)


def _lint_importer_index(part: str, start: int) -> None:
    if part not in CSET64:
        raise _fail(f"importer index {part!r} must be a base64url character", start)


_LINTERS: dict[str, Callable[[str, int], None]] = {
    "csum": _lint_csum,
    "yymmdd": lambda part, start: _lint_date(part, start, zero_day=False),
    "yymmd0": lambda part, start: _lint_date(part, start, zero_day=True),
    "hhmi": _lint_hhmi,
    "zero": _lint_zero,
    "pieceoftotal": _lint_piece_of_total,
    "nozeroprefix": _lint_no_zero_prefix,
    "importeridx": _lint_importer_index,
}


def _check_charset(component: Component, part: str, start: int) -> None:
    allowed, name = _CHARSETS[component.charset]
    body = part
    if component.charset == "Z":
        # CSET 64 allows up to two '=' of padding at the end, as GS1's linter does.
        body = part.rstrip("=")
        pads = len(part) - len(body)
        if pads > 2 or (pads and len(part) % 3):
            raise _fail("bad base64url padding", start + len(body))
    for offset, char in enumerate(body):
        if char not in allowed:
            raise _fail(f"character {char!r} is not allowed here ({name})", start + offset)


def _check_components(spec: AISpec, value: str) -> None:
    pos = 0
    for component in spec.components:
        if pos == len(value) and component.optional:
            break
        if component.fixed:
            part = value[pos : pos + component.max_length]
            if len(part) < component.max_length:
                raise _fail(
                    f"value is too short: {len(value)} characters, needs at least "
                    f"{pos + component.max_length}",
                    len(value),
                )
        else:
            part = value[pos:]
            if not part:
                raise _fail("value is empty", pos)
            if len(part) > component.max_length:
                raise _fail(
                    f"value is too long: {len(value)} characters, at most {spec.max_length}",
                    pos + component.max_length,
                )
        _check_charset(component, part, pos)
        for linter in component.linters:
            _LINTERS[linter](part, pos)
        pos += len(part)
    if pos < len(value):
        raise _fail(f"value is too long: {len(value)} characters, at most {spec.max_length}", pos)


def validate_value(ai: str, value: str) -> None:
    """Raise :class:`GS1SyntaxError` unless ``value`` is a valid value of ``ai``."""
    spec = ai_spec(ai)
    if not value:
        raise GS1SyntaxError("value is empty", ai=ai, position=0)
    try:
        _check_components(spec, value)
    except GS1SyntaxError as error:
        raise GS1SyntaxError(error.reason, position=error.position, ai=ai) from None


def _present(pattern: str, ais: set[str]) -> bool:
    return any(matches(pattern, ai) for ai in ais)


def validate_associations(ais: Sequence[tuple[str, str]]) -> None:
    """Raise :class:`GS1SyntaxError` unless the AIs may appear together.

    Applies every ``req`` and ``ex`` rule of the AI table over the whole set,
    and rejects an AI given twice with different values (GS1 tolerates a
    repeat with the same value).
    """
    values: dict[str, str] = {}
    for ai, value in ais:
        if ai in values and values[ai] != value:
            raise GS1SyntaxError("AI is given twice with different values", ai=ai)
        values[ai] = value
    present = set(values)
    for ai in sorted(present):
        spec = ai_spec(ai)
        for pattern in spec.excludes:
            clash = sorted(other for other in present if other != ai and matches(pattern, other))
            if clash:
                raise GS1SyntaxError(f"may not appear together with AI ({clash[0]})", ai=ai)
        for alternatives in spec.requires:
            if not any(all(_present(p, present) for p in alt) for alt in alternatives):
                wanted = " or ".join("+".join(f"({p})" for p in alt) for alt in alternatives)
                raise GS1SyntaxError(f"requires {wanted}", ai=ai)


def validate_ais(ais: Sequence[tuple[str, str]], *, check_associations: bool = True) -> None:
    """Every value valid and, unless told otherwise, the AI set obeys req/ex rules."""
    if not ais:
        raise GS1SyntaxError("no AIs to write")
    for ai, value in ais:
        validate_value(ai, value)
    if check_associations:
        validate_associations(ais)
