"""Unguessable serial numbers (GS1 AI 21).

A serial is 65 bits from the operating system's CSPRNG written as 13 Crockford
base32 characters (``0-9`` and ``A-Z`` without ``I L O U``), upper case. The
alphabet survives every scanner and keyboard, cannot be misread between ``0``/``O``
or ``1``/``I``/``L``, and is a subset of GS1's CSET 82, so a serial is always a
valid AI 21 value. 65 bits puts the chance of guessing one valid serial of a
GTIN with a million units issued at about 1 in 3.7 * 10^13, far below the
1 in 10,000 that the EU Falsified Medicines Directive asks for.

Uniqueness per GTIN is not left to chance: :mod:`issuer.journal` records every
serial in a registry with ``UNIQUE(gtin, serial)`` and draws again on a
collision.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import numpy as np

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SERIAL_BITS = 65
SERIAL_CHARS = 13

_ALPHABET_BYTES = np.frombuffer(CROCKFORD_ALPHABET.encode("ascii"), dtype=np.uint8)
_CROCKFORD_SET = frozenset(CROCKFORD_ALPHABET)
# 65 bits need 9 bytes; 10 are drawn so each serial is one aligned slice.
_BYTES_PER_DRAW = 10

RandomBytes = Callable[[int], bytes]


def draw_serials(count: int, random_bytes: RandomBytes = secrets.token_bytes) -> list[str]:
    """``count`` fresh random serials (not yet checked against any registry).

    ``random_bytes`` is the entropy source; tests pass a deterministic one to
    force collisions, production always uses :func:`secrets.token_bytes`.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    raw = random_bytes(_BYTES_PER_DRAW * count)
    if len(raw) != _BYTES_PER_DRAW * count:
        raise ValueError("the random source returned the wrong number of bytes")
    # The serial is the first 65 bits of each 10-byte draw, in 13 groups of 5
    # bits, as base64.b32encode would cut them; done with numpy because
    # b32encode is a Python loop (this is about 20 times faster).
    data = np.frombuffer(raw, dtype=np.uint8).reshape(count, _BYTES_PER_DRAW).astype(np.uint64)
    top = data[:, 0]  # bits 1..8
    low = np.zeros(count, dtype=np.uint64)
    for column in range(1, 9):
        low = (low << np.uint64(8)) | data[:, column]
    bottom = low >> np.uint64(7)  # bits 9..65: value = top * 2**57 + bottom
    symbols = np.empty((count, SERIAL_CHARS), dtype=np.uint64)
    for index in range(SERIAL_CHARS):
        shift = 60 - 5 * index  # this group's lowest bit in the 65-bit value
        if shift >= 57:
            group = top >> np.uint64(shift - 57)
        else:
            # Bits of ``top`` shifted past 64 wrap away, but they land above
            # the 5 bits kept, so the mask removes them either way.
            group = (top << np.uint64(57 - shift)) | (bottom >> np.uint64(shift))
        symbols[:, index] = group & np.uint64(31)
    text = _ALPHABET_BYTES[symbols].tobytes().decode("ascii")
    return [text[start : start + SERIAL_CHARS] for start in range(0, len(text), SERIAL_CHARS)]


def new_serial() -> str:
    """One fresh random serial."""
    return draw_serials(1)[0]


def is_serial(text: str) -> bool:
    """Whether ``text`` has the exact form of a serial this issuer draws."""
    return len(text) == SERIAL_CHARS and _CROCKFORD_SET.issuperset(text)


def serial_to_int(serial: str) -> int:
    """The 65-bit number a serial encodes (for tests and statistics)."""
    if not is_serial(serial):
        raise ValueError(f"{serial!r} is not a 13-character Crockford base32 serial")
    value = 0
    for ch in serial:
        value = value * 32 + CROCKFORD_ALPHABET.index(ch)
    return value
