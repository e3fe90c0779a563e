"""Splitting a payload into numeric, alphanumeric and byte segments, and the bit stream.

A Digital Link URI mixes lowercase (byte mode only) with long runs of digits
and of uppercase, digits and ``/`` (alphanumeric mode); switching modes where
it saves bits can make the symbol a version smaller. The split is the
minimum-bit one found by dynamic programming over characters (the method of
Nayuki's QR Code generator), costed in sixths of a bit so that numeric (10
bits per 3 digits) and alphanumeric (11 bits per 2 characters) stay integral.

Non-ASCII text is written as UTF-8 in byte mode behind an ECI 26 (UTF-8)
designator, so readers do not have to guess the character set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from issuer.qr.tables import char_count_bits

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALNUM_VALUE = {c: i for i, c in enumerate(ALPHANUMERIC)}
_DIGITS = frozenset("0123456789")
# Runs of one class: byte-only text (absorbing alphanumeric stretches of at most
# 5 characters between byte-only text: leaving byte mode and coming back costs at
# least 26 bits, which 5 characters in numeric mode, saving 4.7 bits each, do not
# repay), digits, other alphanumerics. Signatures in base64url are mostly the
# first kind, which keeps the run count low.
_RUNS = re.compile(
    r"[^0-9A-Z $%*+\-./:]+(?:[0-9A-Z $%*+\-./:]{1,5}[^0-9A-Z $%*+\-./:]+)*"
    r"|[0-9]+|[A-Z $%*+\-./:]+"
)

MODES = ("byte", "alphanumeric", "numeric")
_MODE_INDICATOR = {"numeric": 0b0001, "alphanumeric": 0b0010, "byte": 0b0100}
_ECI_UTF8 = (0b0111 << 8) | 26  # ECI mode indicator and the 8-bit designator 26
_ECI_BITS = 12

# Cost per character in sixths of a bit.
_NUMERIC_COST = 20
_ALNUM_COST = 33


@dataclass(frozen=True)
class Segment:
    mode: str
    text: str


def split_optimally(text: str, version: int) -> list[Segment]:
    """The segmentation of ``text`` with the fewest bits at ``version``'s count field sizes.

    Characters are taken in runs of one class (digits, other alphanumerics, the
    rest): within a run every mode costs the same per character, so a mode
    switch only ever pays off at a run boundary, and the dynamic programme
    steps run by run rather than character by character.
    """
    headers = [(4 + char_count_bits(mode, version)) * 6 for mode in MODES]
    runs = [match.group() for match in _RUNS.finditer(text)]
    previous = headers[:]
    # came_from[r][m]: mode of run r on the cheapest path that is in mode m after it.
    came_from: list[tuple[int, int, int]] = []
    for run in runs:
        n = len(run)
        # A run's class is that of its first character: byte-only runs may
        # contain absorbed alphanumerics, but never start with one.
        first = run[0]
        byte_cost = previous[0] + (n if run.isascii() else len(run.encode("utf-8"))) * 48
        alnum_cost = previous[1] + _ALNUM_COST * n if first in _ALNUM_VALUE else -1
        numeric_cost = previous[2] + _NUMERIC_COST * n if first in _DIGITS else -1
        costs = [byte_cost, alnum_cost, numeric_cost]
        origin = [0, 1, 2]
        # Ending a segment after this run rounds it up to whole bits.
        for target in range(3):
            for source in range(3):
                if costs[source] < 0 or source == target:
                    continue
                switched = (costs[source] + 5) // 6 * 6 + headers[target]
                if costs[target] < 0 or switched < costs[target]:
                    costs[target] = switched
                    origin[target] = source
        came_from.append((origin[0], origin[1], origin[2]))
        previous = costs
    mode = min((m for m in range(3) if previous[m] >= 0), key=lambda m: previous[m])
    run_modes = [0] * len(runs)
    for r in range(len(runs) - 1, -1, -1):
        mode = came_from[r][mode]
        run_modes[r] = mode
    segments: list[Segment] = []
    for run, mode in zip(runs, run_modes, strict=True):
        if segments and segments[-1].mode == MODES[mode]:
            segments[-1] = Segment(MODES[mode], segments[-1].text + run)
        else:
            segments.append(Segment(MODES[mode], run))
    return segments


def single_byte_segment(text: str) -> list[Segment]:
    return [Segment("byte", text)]


def bit_length(segments: list[Segment], version: int) -> int:
    """Bits the segments take at ``version``, including the ECI header when needed."""
    total = _ECI_BITS if _needs_eci(segments) else 0
    for seg in segments:
        n = len(seg.text)
        total += 4 + char_count_bits(seg.mode, version)
        if seg.mode == "numeric":
            total += 10 * (n // 3) + (0, 4, 7)[n % 3]
        elif seg.mode == "alphanumeric":
            total += 11 * (n // 2) + 6 * (n % 2)
        else:
            total += 8 * len(seg.text.encode("utf-8"))
    return total


def _needs_eci(segments: list[Segment]) -> bool:
    return any(seg.mode == "byte" and not seg.text.isascii() for seg in segments)


def data_codewords(segments: list[Segment], version: int, capacity: int) -> bytes:
    """The data codewords: segments, terminator, zero bits to a byte, pad codewords."""
    acc = _ECI_UTF8 if _needs_eci(segments) else 0
    nbits = _ECI_BITS if _needs_eci(segments) else 0
    for seg in segments:
        count = len(seg.text)
        header_bits = 4 + char_count_bits(seg.mode, version)
        if seg.mode == "byte":
            raw = seg.text.encode("utf-8")
            count = len(raw)
        acc = (acc << header_bits) | (_MODE_INDICATOR[seg.mode] << (header_bits - 4)) | count
        nbits += header_bits
        if seg.mode == "byte":
            acc = (acc << (8 * len(raw))) | int.from_bytes(raw, "big")
            nbits += 8 * len(raw)
        elif seg.mode == "numeric":
            text = seg.text
            for k in range(0, count, 3):
                group = text[k : k + 3]
                width = (0, 4, 7, 10)[len(group)]
                acc = (acc << width) | int(group)
                nbits += width
        else:
            text = seg.text
            for k in range(0, count - 1, 2):
                acc = (acc << 11) | (_ALNUM_VALUE[text[k]] * 45 + _ALNUM_VALUE[text[k + 1]])
                nbits += 11
            if count % 2:
                acc = (acc << 6) | _ALNUM_VALUE[text[-1]]
                nbits += 6
    capacity_bits = capacity * 8
    terminator = min(4, capacity_bits - nbits)
    nbits += terminator
    acc <<= terminator
    pad_to_byte = -nbits % 8
    acc <<= pad_to_byte
    nbits += pad_to_byte
    used = nbits // 8
    padding = bytes((0xEC, 0x11)) * ((capacity - used + 1) // 2)
    return acc.to_bytes(used, "big") + padding[: capacity - used]
