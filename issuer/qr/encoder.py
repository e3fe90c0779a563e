"""Encoding a payload into a QR code module matrix.

The steps follow ISO/IEC 18004: segments and bit stream, smallest version that
fits at the error correction level, Reed-Solomon blocks, interleaving,
placement, then all eight masks are applied at once and scored, and the
lowest penalty wins (ties to the lowest mask number).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from authn.errors import InvalidInput
from issuer.qr.layout import layout, total_codewords
from issuer.qr.penalty import penalties
from issuer.qr.reed_solomon import parity
from issuer.qr.segments import (
    Segment,
    bit_length,
    data_codewords,
    single_byte_segment,
    split_optimally,
)
from issuer.qr.tables import (
    EC_BLOCKS,
    EC_CODEWORDS_PER_BLOCK,
    EC_LEVELS,
    MAX_VERSION,
    MIN_VERSION,
    format_bits,
)

Segmentation = Literal["optimal", "byte"]

# Versions sharing the sizes of the character count fields.
_VERSION_GROUPS = ((1, 9), (10, 26), (27, 40))


@dataclass(frozen=True)
class QRCode:
    """An encoded symbol: ``matrix`` is True for dark modules, without quiet zone."""

    matrix: npt.NDArray[np.bool_]
    version: int
    ec: str
    mask: int

    @property
    def size(self) -> int:
        return self.version * 4 + 17


@dataclass(frozen=True)
class _BlockPlan:
    data_capacity: int  # data codewords in the symbol
    ec_length: int  # error correction codewords per block
    gather: npt.NDArray[np.intp]  # data codewords -> (blocks, long length), -1 pads
    interleave: npt.NDArray[np.intp]  # [data..., parity (block-major)...] -> final order


@lru_cache(maxsize=160)
def _block_plan(version: int, ec: str) -> _BlockPlan:
    blocks = EC_BLOCKS[ec][version]
    ec_length = EC_CODEWORDS_PER_BLOCK[ec][version]
    total = total_codewords(version)
    short_count = blocks - total % blocks
    short_data = total // blocks - ec_length
    lengths = [short_data if b < short_count else short_data + 1 for b in range(blocks)]
    long_data = short_data + 1
    data_capacity = sum(lengths)

    # Short blocks get a leading zero codeword, which adds nothing to their parity.
    gather = np.full((blocks, long_data), -1, np.intp)
    offset = 0
    for b, n in enumerate(lengths):
        gather[b, long_data - n :] = np.arange(offset, offset + n)
        offset += n

    # Interleaving takes the i-th data codeword of every block that has one.
    starts = np.cumsum([0, *lengths])
    interleave: list[int] = []
    for position in range(long_data):
        interleave.extend(int(starts[b]) + position for b in range(blocks) if position < lengths[b])
    for position in range(ec_length):
        interleave.extend(data_capacity + b * ec_length + position for b in range(blocks))
    return _BlockPlan(data_capacity, ec_length, gather, np.array(interleave, np.intp))


def data_capacity(version: int, ec: str) -> int:
    """Data codewords of ``version`` at level ``ec``."""
    return _block_plan(version, ec).data_capacity


def _check_level(ec: str) -> None:
    if ec not in EC_LEVELS:
        raise InvalidInput(f"unknown error correction level {ec!r}: use L, M, Q or H")


def _choose(
    payload: str, ec: str, version: int | None, segmentation: Segmentation
) -> tuple[int, list[Segment]]:
    groups = _VERSION_GROUPS if version is None else ((version, version),)
    needed = 0
    for first, last in groups:
        if segmentation == "byte":
            segments = single_byte_segment(payload)
        else:
            segments = split_optimally(payload, last)
        needed = bit_length(segments, last)
        for candidate in range(first, last + 1):
            if needed <= data_capacity(candidate, ec) * 8:
                return candidate, segments
    where = f"version {version}" if version is not None else "any QR version (max 40)"
    raise InvalidInput(
        f"the payload is too long for {where} at error correction level {ec}: "
        f"it needs {needed} bits, the limit is {data_capacity(groups[-1][1], ec) * 8}"
    )


def _codewords(data: bytes, version: int, ec: str) -> npt.NDArray[np.uint8]:
    plan = _block_plan(version, ec)
    data_array = np.frombuffer(data, np.uint8)
    padded = np.append(data_array, np.uint8(0))  # index -1 reads this zero
    blocks = padded[plan.gather]
    ec_codewords = parity(blocks, plan.ec_length)
    return np.concatenate([data_array, ec_codewords.reshape(-1)])[plan.interleave]


def encode_qr(
    payload: str,
    ec: str = "M",
    *,
    version: int | None = None,
    mask: int | None = None,
    segmentation: Segmentation = "optimal",
) -> QRCode:
    """Encode ``payload`` (UTF-8 text) as a QR code.

    ``version`` and ``mask`` fix the symbol version and the mask pattern instead
    of choosing the smallest version and the lowest-penalty mask;
    ``segmentation="byte"`` puts the whole payload in one byte-mode segment.
    """
    _check_level(ec)
    if not isinstance(payload, str) or not payload:
        raise InvalidInput("the QR payload must be a non-empty string")
    if not payload.isascii():
        try:
            payload.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"the QR payload is not valid Unicode text (character {exc.start + 1})"
            ) from exc
    if version is not None and not MIN_VERSION <= version <= MAX_VERSION:
        raise InvalidInput(f"QR version must be 1 to 40, got {version!r}")
    if mask is not None and mask not in range(8):
        raise InvalidInput(f"QR mask pattern must be 0 to 7, got {mask!r}")

    chosen, segments = _choose(payload, ec, version, segmentation)
    symbol = layout(chosen)
    data = data_codewords(segments, chosen, data_capacity(chosen, ec))
    bits = np.unpackbits(_codewords(data, chosen, ec))

    unmasked = symbol.template.copy()
    unmasked.reshape(-1)[symbol.data_order[: bits.size]] = bits.view(np.bool_)

    masks = symbol.masks if mask is None else symbol.masks[mask : mask + 1]
    numbers = list(range(8)) if mask is None else [mask]
    candidates = unmasked[None, :, :] ^ masks
    format_words = np.array([format_bits(ec, m) for m in numbers], np.int64)
    format_values = ((format_words[:, None] >> np.arange(15)) & 1).astype(np.bool_)
    for copy in range(2):
        candidates[:, symbol.format_rows[copy], symbol.format_cols[copy]] = format_values

    best = 0 if mask is not None else int(np.argmin(penalties(candidates)))
    # A copy, so that the other seven candidates can be freed.
    return QRCode(candidates[best].copy(), chosen, ec, numbers[best])
