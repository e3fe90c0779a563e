"""Per-version constants of ISO/IEC 18004 (QR code model 2).

The block tables are those of the standard's Table 9, in the compact form of
two numbers per (level, version): error correction codewords per block and the
number of blocks. Everything else (codeword counts, block lengths) follows from
the symbol layout, so the tests check these numbers against an independent
implementation's full tables.
"""

from __future__ import annotations

EC_LEVELS = ("L", "M", "Q", "H")
# Format information encodes the level with these two bits (not in L, M, Q, H order).
EC_FORMAT_BITS = {"L": 0b01, "M": 0b00, "Q": 0b11, "H": 0b10}

MIN_VERSION = 1
MAX_VERSION = 40

# Index 0 is unused so that a version indexes its own entry.
EC_CODEWORDS_PER_BLOCK = {
    "L": (0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
          28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "M": (0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
          26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28),
    "Q": (0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
          28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    "H": (0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
          30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
}  # fmt: skip

EC_BLOCKS = {
    "L": (0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
          8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25),
    "M": (0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
          17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49),
    "Q": (0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
          23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68),
    "H": (0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
          25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81),
}  # fmt: skip


def symbol_size(version: int) -> int:
    """Modules per side."""
    return 17 + 4 * version


def alignment_positions(version: int) -> list[int]:
    """Row/column centres of the alignment patterns (evenly spaced from the far side)."""
    if version == 1:
        return []
    count = version // 7 + 2
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    far = symbol_size(version) - 7
    return [6, *sorted(far - i * step for i in range(count - 1))]


def char_count_bits(mode: str, version: int) -> int:
    """Length of the character count field of a segment in ``mode``."""
    group = 0 if version <= 9 else 1 if version <= 26 else 2
    return {"numeric": (10, 12, 14), "alphanumeric": (9, 11, 13), "byte": (8, 16, 16)}[mode][group]


def _bch(value: int, poly: int, poly_degree: int) -> int:
    remainder = value << poly_degree
    top = poly.bit_length() - 1
    while remainder.bit_length() > top:
        remainder ^= poly << (remainder.bit_length() - 1 - top)
    return remainder


def format_bits(ec: str, mask: int) -> int:
    """The 15 format information bits, BCH(15,5) protected and XOR-masked."""
    data = (EC_FORMAT_BITS[ec] << 3) | mask
    return ((data << 10) | _bch(data, 0x537, 10)) ^ 0x5412


def version_bits(version: int) -> int:
    """The 18 version information bits (versions 7 and up), BCH(18,6) protected."""
    return (version << 12) | _bch(version, 0x1F25, 12)
