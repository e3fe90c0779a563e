"""Symbol layout per version, computed once and cached.

For a version this gives the function patterns (finders, separators, timing,
alignment, dark module, version information), the order in which data bits
fill the remaining modules (as flat indices), the eight data masks restricted
to those modules, and where the format information goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from issuer.qr.tables import alignment_positions, symbol_size, version_bits

BoolMatrix = npt.NDArray[np.bool_]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Layout:
    version: int
    size: int
    template: BoolMatrix  # function pattern modules, format information left light
    data_order: IndexArray  # flat indices of data modules in placement order
    masks: npt.NDArray[np.bool_]  # (8, size, size): the mask patterns on data modules only
    format_rows: IndexArray  # (2, 15): row of format bit i in each copy
    format_cols: IndexArray  # (2, 15): column of format bit i in each copy


def _mask_patterns(size: int) -> npt.NDArray[np.bool_]:
    i, j = np.indices((size, size))  # i = row, j = column, as in ISO/IEC 18004 Table 10
    return np.stack(
        [
            (i + j) % 2 == 0,
            i % 2 == 0,
            j % 3 == 0,
            (i + j) % 3 == 0,
            (i // 2 + j // 3) % 2 == 0,
            (i * j) % 2 + (i * j) % 3 == 0,
            ((i * j) % 2 + (i * j) % 3) % 2 == 0,
            ((i + j) % 2 + (i * j) % 3) % 2 == 0,
        ]
    )


def _format_positions(size: int) -> tuple[IndexArray, IndexArray]:
    """Positions of format bits 0 (least significant) to 14 in both copies."""
    near = [(8, 0), (8, 1), (8, 2), (8, 3), (8, 4), (8, 5), (8, 7), (8, 8), (7, 8)]
    near += [(5 - k, 8) for k in range(6)]  # bits 9..14 go left along row 8
    near_rc = [(col, row) for row, col in near]  # listed above as (column, row)
    far_rc = [(8, size - 1 - k) for k in range(8)] + [(size - 7 + k, 8) for k in range(7)]
    rows = np.array([[r for r, _ in near_rc], [r for r, _ in far_rc]], np.intp)
    cols = np.array([[c for _, c in near_rc], [c for _, c in far_rc]], np.intp)
    return rows, cols


@lru_cache(maxsize=40)
def layout(version: int) -> Layout:
    size = symbol_size(version)
    value = np.zeros((size, size), np.bool_)
    function = np.zeros((size, size), np.bool_)

    # Finder patterns with their separators: 7x7 rings, clipped at the symbol edge.
    ring = np.maximum(*np.abs(np.indices((9, 9)) - 4))
    finder = (ring != 2) & (ring != 4)
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        r0, c0 = max(top - 1, 0), max(left - 1, 0)
        r1, c1 = min(top + 8, size), min(left + 8, size)
        value[r0:r1, c0:c1] = finder[r0 - top + 1 : r1 - top + 1, c0 - left + 1 : c1 - left + 1]
        function[r0:r1, c0:c1] = True

    # Timing patterns.
    value[6, 8 : size - 8] = np.arange(8, size - 8) % 2 == 0
    value[8 : size - 8, 6] = np.arange(8, size - 8) % 2 == 0
    function[6, :] = True
    function[:, 6] = True

    # Alignment patterns, except where they would overlap a finder.
    centres = alignment_positions(version)
    small_ring = np.maximum(*np.abs(np.indices((5, 5)) - 2))
    alignment = small_ring != 1
    last = len(centres) - 1
    for a, row in enumerate(centres):
        for b, col in enumerate(centres):
            if (a, b) in ((0, 0), (0, last), (last, 0)):
                continue
            value[row - 2 : row + 3, col - 2 : col + 3] = alignment
            function[row - 2 : row + 3, col - 2 : col + 3] = True

    # Format information areas (filled per mask later) and the dark module.
    format_rows, format_cols = _format_positions(size)
    function[format_rows, format_cols] = True
    value[size - 8, 8] = True
    function[size - 8, 8] = True

    if version >= 7:
        bits = version_bits(version)
        for k in range(18):
            bit = bool((bits >> k) & 1)
            a, b = size - 11 + k % 3, k // 3
            value[b, a] = value[a, b] = bit
            function[b, a] = function[a, b] = True

    # Zigzag placement: column pairs from the right, alternately upwards and downwards,
    # skipping the vertical timing column.
    order: list[int] = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = ((right + 1) & 2) == 0
        for step in range(size):
            row = size - 1 - step if upward else step
            for col in (right, right - 1):
                if not function[row, col]:
                    order.append(row * size + col)
        right -= 2

    masks = _mask_patterns(size) & ~function
    for array in (value, masks):
        array.flags.writeable = False
    return Layout(
        version=version,
        size=size,
        template=value,
        data_order=np.array(order, np.intp),
        masks=masks,
        format_rows=format_rows,
        format_cols=format_cols,
    )


def total_codewords(version: int) -> int:
    """Codewords (data and error correction) that version holds; leftover bits stay unused."""
    return len(layout(version).data_order) // 8
