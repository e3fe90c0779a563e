"""Compressed GS1 Digital Link URIs: the binary form of a Digital Link's AIs.

The GS1 Digital Link standard (URI syntax 1.2, compression) packs a Digital
Link's Application Identifiers into bits and writes them as one path segment in
a URI-safe base64 alphabet: ``https://id.example/DBHKVAdpQgowOQ`` is
``https://id.example/01/09780345418913/21/12345``. GS1's reference
implementation is GS1DigitalLinkToolkit.js; this module writes and reads the
same bits.

The bit stream is a sequence of entries, read until fewer than 9 bits are left
(the last character's padding):

- an AI, one 4-bit nibble per digit; its first two digits say how many digits
  follow (every AI starting with the same two digits has the same length);
- or an optimisation code, two nibbles outside 00-99 (``0C`` = (01) then (21)),
  standing for a fixed sequence of AIs whose values follow in that order;
- or ``F`` and 7 more bits: a non-GS1 ``key=value`` parameter (key length, key
  in 6-bit characters, then the value as a variable-length string).

Each AI's value is written part by part (:func:`value_parts`, derived from the
dictionary's components): a fixed-length numeric part as one binary number of
``ceil(n * log2(10))`` bits; a variable-length numeric part with a length field
first; an alphanumeric part with a 3-bit encoding (0 digits, 1 lower-case hex,
2 upper-case hex, 3 URI-safe base64, 4 seven-bit ASCII), a length field when
its length varies, then the characters.

Where this module differs from the toolkit, the toolkit is wrong and its own
round trip fails: it drops leading zeros from an all-digit alphanumeric value
(``/21/0012`` comes back as ``/21/12``), it writes the bits before an
alphanumeric part twice when a numeric part precedes it (GDTI (253), GRAI
(8003)), and its format table is older than the dictionary's for a few AIs
((235), (7040)). Digits here are exact at any length (the toolkit's JavaScript
numbers lose digits beyond 15).

Pure: no I/O. The caller validates what comes out (values, check digits,
associations) as for any Digital Link.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from authn.ai_table import AI_LENGTH_BY_PREFIX, AI_TABLE, AISpec
from authn.errors import GS1SyntaxError

AIPair = tuple[str, str]

SAFE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_HEX = "0123456789ABCDEF"
_SAFE64_RE = re.compile(r"[A-Za-z0-9_-]+")
_DIGITS = re.compile(r"[0-9]+")
_HEX_LOWER = re.compile(r"[0-9a-f]+")
_HEX_UPPER = re.compile(r"[0-9A-F]+")
_MAX_KEY = 127  # the key length field has 7 bits
_MAX_OTHER_VALUE = 127

# The standard's optimisation codes: a two-nibble code outside 00-99 stands for
# this sequence of AIs (values follow in this order). The dictionary does not
# hold them; they are part of the Digital Link standard. A-F in the first
# nibble other than these are unallocated; F is the non-GS1 parameter flag.
# fmt: off
OPTIMISATIONS: Mapping[str, tuple[str, ...]] = {
    "0A": ("01", "22"), "0B": ("01", "10"), "0C": ("01", "21"), "0D": ("01", "17"),
    "0E": ("01", "7003"), "0F": ("01", "30"),
    "1A": ("01", "10", "21", "17"), "1B": ("01", "15"), "1C": ("01", "11"),
    "1D": ("01", "16"), "1E": ("01", "91"), "1F": ("01", "10", "15"),
    "2A": ("01", "3100"), "2B": ("01", "3101"), "2C": ("01", "3102"),
    "2D": ("01", "3103"), "2E": ("01", "3104"), "2F": ("01", "3105"),
    "3A": ("01", "3200"), "3B": ("01", "3201"), "3C": ("01", "3202"),
    "3D": ("01", "3203"), "3E": ("01", "3204"), "3F": ("01", "3205"),
    "9A": ("8010", "8011"), "9B": ("8017", "8019"), "9C": ("8018", "8019"),
    "9D": ("414", "254"),
    "A0": ("01", "3920"), "A1": ("01", "3921"), "A2": ("01", "3922"),
    "A3": ("01", "3923"), "A4": ("01", "3924"), "A5": ("01", "3925"),
    "A6": ("01", "3926"), "A7": ("01", "3927"), "A8": ("01", "3928"),
    "A9": ("01", "3929"),
    "C0": ("255", "3900"), "C1": ("255", "3901"), "C2": ("255", "3902"),
    "C3": ("255", "3903"), "C4": ("255", "3904"), "C5": ("255", "3905"),
    "C6": ("255", "3906"), "C7": ("255", "3907"), "C8": ("255", "3908"),
    "C9": ("255", "3909"),
    "CA": ("255", "3940"), "CB": ("255", "3941"), "CC": ("255", "3942"),
    "CD": ("255", "3943"),
}
# fmt: on


@dataclass(frozen=True, slots=True)
class Part:
    """One part of an AI's value as the compression writes it."""

    numeric: bool
    length: int
    """The fixed length, or the maximum when ``variable``."""
    variable: bool


def value_parts(spec: AISpec) -> tuple[Part, ...]:
    """The parts of ``spec``'s value, from the dictionary's components.

    Adjacent components of one kind are written as one part, as the standard's
    format table has them: numeric components of fixed length join (8006's
    N14 N4 is one N18), optional or variable numeric ones join after them
    (423's N3 [N3 N3 N3 N3] is N3 then N..12), and adjacent alphanumeric ones
    join into one (7230's X2 X..28 is X..30), variable if any of them is.
    """
    parts: list[Part] = []
    for component in spec.components:
        numeric = component.charset == "N"
        variable = component.optional or not component.fixed
        last = parts[-1] if parts else None
        if (
            last is not None
            and last.numeric == numeric
            and (not numeric or last.variable == variable)
        ):
            parts[-1] = Part(numeric, last.length + component.max_length, last.variable or variable)
        else:
            parts.append(Part(numeric, component.max_length, variable))
    return tuple(parts)


ENCODING_TABLE: Mapping[str, tuple[Part, ...]] = {
    ai: value_parts(spec) for ai, spec in AI_TABLE.items()
}
"""Every dictionary AI -> how its value is written (the standard's "table F")."""


def length_bits(maximum: int) -> int:
    """Bits of the length field for a value of at most ``maximum`` characters.

    The toolkit's formula, kept exactly (floating point included) so that both
    agree on every length the dictionary has."""
    return math.ceil(math.log(maximum) / math.log(2) + 0.01)


def value_bits(digits: int) -> int:
    """Bits of a ``digits``-digit number written in binary (at least 1)."""
    return math.ceil(digits * math.log(10) / math.log(2) + 0.01)


# --- writing --------------------------------------------------------------------------


def _bin(number: int, width: int) -> str:
    return format(number, "b").zfill(width)


def _encoding(text: str) -> int:
    if _DIGITS.fullmatch(text):
        return 0
    if _HEX_UPPER.fullmatch(text):
        return 2
    if _HEX_LOWER.fullmatch(text):
        return 1
    if _SAFE64_RE.fullmatch(text):
        return 3
    return 4


def _characters(text: str, encoding: int) -> str:
    if encoding == 0:
        return _bin(int(text), value_bits(len(text)))
    if encoding in (1, 2):
        return "".join(_bin(_HEX.index(c), 4) for c in text.upper())
    if encoding == 3:
        return "".join(_bin(SAFE64.index(c), 6) for c in text)
    return "".join(_bin(ord(c), 7) for c in text)


def _string(text: str, size_field: str, ai: str) -> str:
    if not text.isascii():
        raise GS1SyntaxError("only ASCII characters can be compressed", ai=ai)
    encoding = _encoding(text)
    return _bin(encoding, 3) + size_field + _characters(text, encoding)


def _value(ai: str, value: str) -> str:
    parts = ENCODING_TABLE[ai]
    bits: list[str] = []
    cursor = 0
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        piece = value[cursor:] if part.variable and last else value[cursor : cursor + part.length]
        cursor += len(piece)
        if (not part.variable and len(piece) != part.length) or len(piece) > part.length:
            raise GS1SyntaxError(
                f"value does not fit the AI's format ({len(value)} characters)", ai=ai
            )
        if part.numeric:
            if piece and not piece.isdigit():
                raise GS1SyntaxError("a numeric part holds a non-digit", ai=ai)
            size = _bin(len(piece), length_bits(part.length)) if part.variable else ""
            bits.append(size + (_bin(int(piece), value_bits(len(piece))) if piece else "0"))
        else:
            size = _bin(len(piece), length_bits(part.length)) if part.variable else ""
            bits.append(_string(piece, size, ai))
    if cursor != len(value):
        raise GS1SyntaxError("value is longer than the AI's format allows", ai=ai)
    return "".join(bits)


def _ai_nibbles(code: str) -> str:
    return "".join(_bin(int(c, 16), 4) for c in code)


def _optimisations(ais: list[str]) -> tuple[list[str], list[str]]:
    """The toolkit's greedy choice: the code covering the most AI digits first."""
    chosen: list[str] = []
    left = sorted(ais)
    while True:
        best, best_size = "", 0
        for code, sequence in OPTIMISATIONS.items():
            size = len("".join(sequence))
            if all(ai in left for ai in sequence) and size > best_size:
                best, best_size = code, size
        if not best:
            return chosen, left
        chosen.append(best)
        left = [ai for ai in left if ai not in OPTIMISATIONS[best]]


def compress_ais(
    ais: Sequence[AIPair], other_params: Sequence[AIPair] = (), *, optimise: bool = True
) -> str:
    """The compressed path segment for ``ais`` (and non-GS1 ``other_params``).

    AIs are written in the toolkit's order: optimisation codes first, then the
    rest sorted, then the other parameters. Values are not validated beyond what
    the bit format needs; validate the AIs first (as ``format_digital_link`` does).
    """
    values = dict(ais)
    if len(values) != len(ais):
        raise GS1SyntaxError("an AI is given twice")
    for ai in values:
        if ai not in ENCODING_TABLE:
            raise GS1SyntaxError("unknown Application Identifier", ai=ai)
    codes, rest = _optimisations(list(values)) if optimise else ([], sorted(values))
    bits: list[str] = []
    for code in codes:
        bits.append(_ai_nibbles(code))
        bits.extend(_value(ai, values[ai]) for ai in OPTIMISATIONS[code])
    for ai in rest:
        bits.append(_ai_nibbles(ai) + _value(ai, values[ai]))
    for key, value in other_params:
        if not _SAFE64_RE.fullmatch(key) or len(key) > _MAX_KEY or key.isdigit():
            raise GS1SyntaxError(f"parameter name {key!r} cannot be compressed")
        if len(value) > _MAX_OTHER_VALUE:
            raise GS1SyntaxError(f"parameter {key!r} is too long to compress")
        key_bits = "".join(_bin(SAFE64.index(c), 6) for c in key)
        bits.append(
            "1111" + _bin(len(key), 7) + key_bits + _string(value, _bin(len(value), 7), key)
        )
    stream = "".join(bits)
    stream += "0" * (-len(stream) % 6)
    return "".join(SAFE64[int(stream[i : i + 6], 2)] for i in range(0, len(stream), 6))


# --- reading --------------------------------------------------------------------------


class _Bits:
    def __init__(self, segment: str):
        self.data = "".join(_bin(SAFE64.index(c), 6) for c in segment)
        self.cursor = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.cursor

    def take(self, count: int, what: str) -> int:
        if count > self.left:
            raise GS1SyntaxError(f"the compressed data ends inside {what}")
        chunk = self.data[self.cursor : self.cursor + count]
        self.cursor += count
        return int(chunk, 2) if chunk else 0


def _read_number(bits: _Bits, digits: int, ai: str) -> str:
    number = bits.take(value_bits(digits), f"the value of ({ai})")
    if digits == 0:
        return ""
    if number >= 10**digits:
        raise GS1SyntaxError(f"a compressed number is longer than {digits} digits", ai=ai)
    return str(number).zfill(digits)


def _read_string(bits: _Bits, count: int, encoding: int, ai: str) -> str:
    what = f"the value of ({ai})"
    if encoding == 0:
        return _read_number(bits, count, ai)
    if encoding == 1:
        return "".join(_HEX[bits.take(4, what)] for _ in range(count)).lower()
    if encoding == 2:
        return "".join(_HEX[bits.take(4, what)] for _ in range(count))
    if encoding == 3:
        return "".join(SAFE64[bits.take(6, what)] for _ in range(count))
    if encoding == 4:
        return "".join(chr(bits.take(7, what)) for _ in range(count))
    raise GS1SyntaxError(f"unknown character encoding {encoding} in compressed data", ai=ai)


def _read_value(bits: _Bits, ai: str) -> str:
    pieces: list[str] = []
    for part in ENCODING_TABLE[ai]:
        if part.numeric:
            size = part.length
            if part.variable:
                size = bits.take(length_bits(part.length), f"the length of ({ai})")
                if size > part.length:
                    raise GS1SyntaxError("a compressed length exceeds the AI's format", ai=ai)
            pieces.append(_read_number(bits, size, ai))
        else:
            encoding = bits.take(3, f"the value of ({ai})")
            size = part.length
            if part.variable:
                size = bits.take(length_bits(part.length), f"the length of ({ai})")
                if size > part.length:
                    raise GS1SyntaxError("a compressed length exceeds the AI's format", ai=ai)
            pieces.append(_read_string(bits, size, encoding, ai))
    return "".join(pieces)


def _read_ai(bits: _Bits, prefix: str) -> str:
    length = AI_LENGTH_BY_PREFIX.get(prefix)
    if length is None:
        raise GS1SyntaxError(f"no Application Identifier starts with {prefix} (compressed data)")
    digits = [bits.take(4, "an Application Identifier") for _ in range(length - 2)]
    if any(d > 9 for d in digits):
        raise GS1SyntaxError("an Application Identifier in compressed data is not all digits")
    ai = prefix + "".join(map(str, digits))
    if ai not in AI_TABLE:
        raise GS1SyntaxError("unknown Application Identifier in compressed data", ai=ai)
    return ai


def decompress_ais(segment: str) -> tuple[list[AIPair], list[AIPair]]:
    """The AIs and the non-GS1 parameters a compressed path segment holds, in
    the order written. :class:`GS1SyntaxError` if it is not well-formed."""
    if not _SAFE64_RE.fullmatch(segment):
        raise GS1SyntaxError("compressed data holds a character outside A-Z a-z 0-9 - _")
    bits = _Bits(segment)
    ais: list[AIPair] = []
    other: list[AIPair] = []
    while bits.left > 8:
        h1, h2 = bits.take(4, "an entry"), bits.take(4, "an entry")
        code = _HEX[h1] + _HEX[h2]
        if h1 <= 9 and h2 <= 9:
            ai = _read_ai(bits, code)
            ais.append((ai, _read_value(bits, ai)))
        elif code in OPTIMISATIONS:
            ais.extend((ai, _read_value(bits, ai)) for ai in OPTIMISATIONS[code])
        elif h1 == 15:
            size = h2 << 3 | bits.take(3, "a parameter name's length")
            if size == 0:
                raise GS1SyntaxError("a compressed parameter has an empty name")
            key = "".join(SAFE64[bits.take(6, "a parameter name")] for _ in range(size))
            encoding = bits.take(3, f"parameter {key!r}")
            count = bits.take(7, f"parameter {key!r}")
            other.append((key, _read_string(bits, count, encoding, key)))
        else:
            raise GS1SyntaxError(f"unallocated code {code} in compressed data")
    if bits.take(bits.left, "the padding"):
        raise GS1SyntaxError("compressed data ends with non-zero padding bits")
    seen = [ai for ai, _ in ais]
    twice = next((ai for i, ai in enumerate(seen) if ai in seen[:i]), None)
    if twice is not None:
        raise GS1SyntaxError("AI is given twice in compressed data", ai=twice)
    if not ais:
        raise GS1SyntaxError("compressed data holds no Application Identifier")
    return ais, other
