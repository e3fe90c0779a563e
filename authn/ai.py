"""Validation of GS1 AI values and AI combinations, driven by :mod:`authn.ai_table`.

- :func:`validate_value` checks one value as GS1's syntax engine does: its
  length against the AI's minimum and maximum, then each component in turn
  (each takes up to its maximum length of what is left; an optional component
  may be absent at the end) for its character set and its linters
  (:mod:`authn.linters`).
- :func:`validate_associations` checks a whole set of AIs: no AI given twice
  with different values, GS1's ``ex`` (never together) and ``req`` (needs)
  rules, and the DIGSIG rule that a signature (8030) over a GDTI (253), GCN
  (255) or GRAI (8003) needs that key's serial component.

Error positions are 0-based offsets in the value; parsers shift them to the
offset in their input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from authn.ai_table import AISpec, ai_spec, matches
from authn.errors import GS1SyntaxError
from authn.linters import LINTERS, fail

MAX_AIS = 64
"""At most this many AIs in one message, as in GS1's syntax engine."""

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

# Keys whose DIGSIG (8030) must come with their optional serial component.
_SERIALISED_BY_COMPONENT = ("253", "255", "8003")


# One C-level match per component; the per-character loop below runs only to
# say where a bad value goes wrong.
_WHOLE = {
    name: re.compile("[" + re.escape("".join(sorted(chars))) + "]*")
    for name, (chars, _) in _CHARSETS.items()
}


def _check_charset(charset: str, part: str, start: int) -> None:
    if charset != "Z" and _WHOLE[charset].fullmatch(part):
        return
    allowed, name = _CHARSETS[charset]
    body = part
    if charset == "Z":
        # CSET 64 allows up to two '=' of padding at the end, as GS1's linter does.
        body = part.rstrip("=")
        pads = len(part) - len(body)
        if pads > 2 or (pads and len(part) % 3):
            raise fail("bad base64url padding", start + len(body))
    for offset, char in enumerate(body):
        if char not in allowed:
            raise fail(f"character {char!r} is not allowed here ({name})", start + offset)


def _check_components(spec: AISpec, value: str) -> None:
    if len(value) < spec.min_length:
        raise fail(
            f"value is too short: {len(value)} characters, needs at least {spec.min_length}",
            len(value),
        )
    if len(value) > spec.max_length:
        raise fail(
            f"value is too long: {len(value)} characters, at most {spec.max_length}",
            spec.max_length,
        )
    pos = 0
    for component in spec.components:
        part = value[pos : pos + component.max_length]
        if not part and component.optional:
            continue
        if len(part) < component.min_length:
            raise fail(f"value has an incorrect length: {len(value)} characters", len(value))
        _check_charset(component.charset, part, pos)
        for name in component.linters:
            try:
                LINTERS[name](part)
            except GS1SyntaxError as error:
                raise fail(error.reason, pos + (error.position or 0)) from None
        pos += len(part)


def validate_value(ai: str, value: str) -> None:
    """Raise :class:`GS1SyntaxError` unless ``value`` is a valid value of ``ai``."""
    spec = ai_spec(ai)
    if not value:
        raise GS1SyntaxError("value is empty", ai=ai, position=0)
    try:
        _check_components(spec, value)
    except GS1SyntaxError as error:
        raise GS1SyntaxError(error.reason, position=error.position, ai=ai) from None


def _present(pattern: str, ais: set[str], ignore: str) -> bool:
    if "n" not in pattern:
        return pattern != ignore and pattern in ais
    return any(matches(pattern, ai) for ai in ais if ai != ignore)


def validate_associations(ais: Sequence[tuple[str, str]]) -> None:
    """Raise :class:`GS1SyntaxError` unless the AIs may appear together.

    Rejects an AI given twice with different values (GS1 tolerates a repeat
    with the same value: reads of several carriers on one label are joined),
    then applies every ``ex`` and ``req`` rule over the whole set and the
    DIGSIG serialised-key rule.
    """
    if len(ais) > MAX_AIS:
        raise GS1SyntaxError(f"too many AIs: {len(ais)}, at most {MAX_AIS}")
    values: dict[str, str] = {}
    for ai, value in ais:
        if ai in values and values[ai] != value:
            raise GS1SyntaxError("AI is given twice with different values", ai=ai)
        values[ai] = value
    present = set(values)
    for ai in sorted(present):
        for pattern in ai_spec(ai).excludes:
            if not _present(pattern, present, ai):
                continue
            clash = sorted(other for other in present if other != ai and matches(pattern, other))
            raise GS1SyntaxError(f"may not appear together with AI ({clash[0]})", ai=ai)
    for ai in sorted(present):
        for alternatives in ai_spec(ai).requires:
            if not any(all(_present(p, present, ai) for p in alt) for alt in alternatives):
                wanted = " or ".join("+".join(f"({p})" for p in alt) for alt in alternatives)
                raise GS1SyntaxError(f"requires {wanted}", ai=ai)
    if "8030" in values:
        for key in _SERIALISED_BY_COMPONENT:
            if key in values and len(values[key]) == ai_spec(key).min_length:
                raise GS1SyntaxError(
                    "a digital signature (8030) needs this key with its serial component",
                    ai=key,
                )


def validate_ais(ais: Sequence[tuple[str, str]], *, check_associations: bool = True) -> None:
    """Every value valid and, unless told otherwise, the AI set obeys req/ex rules."""
    if not ais:
        raise GS1SyntaxError("no AIs to write")
    for ai, value in ais:
        validate_value(ai, value)
    if check_associations:
        validate_associations(ais)
