"""The QR encoder of issuer.qr: standard symbols, checked against qrcode and zxing-cpp."""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt
import pytest
import qrcode
import qrcode.util
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from authn.errors import InvalidInput
from issuer.qr import encode_qr
from issuer.qr.encoder import data_capacity
from issuer.qr.layout import total_codewords
from issuer.qr.penalty import penalties
from issuer.qr.segments import Segment, bit_length, split_optimally
from issuer.qr.tables import (
    EC_BLOCKS,
    EC_CODEWORDS_PER_BLOCK,
    EC_LEVELS,
    alignment_positions,
    symbol_size,
)

QRCODE_LEVEL = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}

EXAMPLE = (
    "https://id.sealtrace.example/01/04006381333931/10/LOT2026A/21/7KQ2M9XH4R0WT"
    "?17=271231&8030=iGIvkR9g2UCLcvaojDs9QjM6ICXqBG6fGvhhrlntENjTQiY3gP6MRW4d1rNWDQ"
    "_3w3TvpNdNsyRxH5pRt7ocP6-9BA"
)


def decode(matrix: npt.NDArray[np.bool_]) -> list[str]:
    image = np.pad(~matrix, 4, constant_values=True).repeat(3, 0).repeat(3, 1)
    results = zxingcpp.read_barcodes(
        image.astype(np.uint8) * 255, text_mode=zxingcpp.TextMode.Plain
    )
    return [r.text for r in results if r.format == zxingcpp.BarcodeFormat.QRCode]


def qrcode_matrix(text: str, version: int, ec: str, mask: int) -> npt.NDArray[np.bool_]:
    reference = qrcode.QRCode(
        version=version, error_correction=QRCODE_LEVEL[ec], mask_pattern=mask, border=0
    )
    reference.add_data(qrcode.util.QRData(text.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
    reference.make(fit=False)
    return np.array(reference.modules, dtype=np.bool_)


def byte_capacity(version: int, ec: str) -> int:
    """Bytes that fit in one byte-mode segment (4-bit mode, count field, no ECI)."""
    count_bits = 8 if version <= 9 else 16
    return (data_capacity(version, ec) * 8 - 4 - count_bits) // 8


@pytest.mark.parametrize("ec", EC_LEVELS)
def test_block_tables_match_qrcode_library(ec: str) -> None:
    for version in range(1, 41):
        blocks = qrcode.base.rs_blocks(version, QRCODE_LEVEL[ec])
        assert len(blocks) == EC_BLOCKS[ec][version]
        assert {b.total_count - b.data_count for b in blocks} == {
            EC_CODEWORDS_PER_BLOCK[ec][version]
        }
        assert sum(b.total_count for b in blocks) == total_codewords(version)
        assert sum(b.data_count for b in blocks) == data_capacity(version, ec)


def test_alignment_positions_match_qrcode_library() -> None:
    for version in range(1, 41):
        assert alignment_positions(version) == qrcode.util.pattern_position(version)


@pytest.mark.parametrize("ec", EC_LEVELS)
@pytest.mark.parametrize("version", [1, 2, 5, 6, 7, 9, 10, 13, 18, 25, 27, 33, 40])
def test_matrix_equals_qrcode_at_fixed_version_and_mask(version: int, ec: str) -> None:
    rng = random.Random(f"{version}{ec}")
    # Full capacity: every block, pad codeword and the remainder bits are exercised.
    text = "".join(rng.choice("abcxyz0189/?=&_-") for _ in range(byte_capacity(version, ec)))
    mask = (version + EC_LEVELS.index(ec)) % 8
    ours = encode_qr(text, ec, version=version, mask=mask, segmentation="byte")
    assert ours.matrix.shape == (symbol_size(version),) * 2
    assert np.array_equal(ours.matrix, qrcode_matrix(text, version, ec, mask))


@pytest.mark.parametrize("mask", range(8))
def test_every_mask_gives_qrcodes_matrix_and_decodes(mask: int) -> None:
    ours = encode_qr(EXAMPLE, "M", version=10, mask=mask, segmentation="byte")
    assert ours.mask == mask
    assert np.array_equal(ours.matrix, qrcode_matrix(EXAMPLE, 10, "M", mask))
    assert decode(ours.matrix) == [EXAMPLE]


@pytest.mark.parametrize("ec", EC_LEVELS)
def test_random_payloads_over_versions_1_to_25_decode_exactly(ec: str) -> None:
    rng = random.Random(ec)
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789/:?&=-_.% "
    seen_versions = set()
    for version in range(1, 26):
        length = rng.randint(max(1, byte_capacity(version, ec) - 8), byte_capacity(version, ec))
        text = "".join(rng.choice(alphabet) for _ in range(length))
        if version % 5 == 0:
            text = text[: max(1, length // 2 - 2)] + "é€ü"  # UTF-8 behind an ECI
        symbol = encode_qr(text, ec)
        seen_versions.add(symbol.version)
        assert symbol.version <= version  # mixed segments never need a bigger symbol
        assert decode(symbol.matrix) == [text]
    assert len(seen_versions) >= 20


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(
        alphabet=st.characters(exclude_categories=["Cs"], min_codepoint=1),
        min_size=1,
        max_size=200,
    ),
    ec=st.sampled_from(EC_LEVELS),
)
def test_any_text_roundtrips_through_zxing(text: str, ec: str) -> None:
    assert decode(encode_qr(text, ec).matrix) == [text]


def test_example_payload_uses_mixed_segments_and_version_9() -> None:
    segments = split_optimally(EXAMPLE, 9)
    modes = [s.mode for s in segments]
    assert {"byte", "numeric", "alphanumeric"} <= set(modes)
    assert "".join(s.text for s in segments) == EXAMPLE
    assert bit_length(segments, 9) < bit_length([Segment("byte", EXAMPLE)], 9)
    symbol = encode_qr(EXAMPLE, "M")
    assert (symbol.version, symbol.matrix.shape) == (9, (53, 53))
    assert encode_qr(EXAMPLE, "M", segmentation="byte").version == 10


def test_chosen_mask_has_the_lowest_penalty() -> None:
    chosen = encode_qr(EXAMPLE, "Q")
    candidates = np.stack([encode_qr(EXAMPLE, "Q", mask=m).matrix for m in range(8)])
    scores = penalties(candidates)
    assert chosen.mask == int(np.argmin(scores))
    assert np.array_equal(chosen.matrix, candidates[chosen.mask])


def naive_penalty(symbol: npt.NDArray[np.bool_]) -> int:
    """ISO/IEC 18004 7.8.3 written out plainly, one module at a time."""
    grid = symbol.astype(int).tolist()
    size = len(grid)
    lines = grid + [list(col) for col in zip(*grid, strict=True)]
    score = 0
    for line in lines:
        run = 1
        for k in range(1, size + 1):
            if k < size and line[k] == line[k - 1]:
                run += 1
                continue
            if run >= 5:
                score += run - 2
            run = 1
        padded = [0] * 4 + line + [0] * 4  # the quiet zone is light
        core = [1, 0, 1, 1, 1, 0, 1]
        for k in range(4, size + 4 - 6):
            if padded[k : k + 7] == core:
                score += 40 * (padded[k - 4 : k] == [0] * 4)
                score += 40 * (padded[k + 7 : k + 11] == [0] * 4)
    for r in range(size - 1):
        for c in range(size - 1):
            if grid[r][c] == grid[r][c + 1] == grid[r + 1][c] == grid[r + 1][c + 1]:
                score += 3
    dark = sum(map(sum, grid))
    score += 10 * int(abs(dark * 100 / size**2 - 50) // 5)
    return score


def test_penalty_matches_a_plain_reading_of_the_standard() -> None:
    rng = np.random.default_rng(7)
    finder_rich = np.zeros((21, 21), np.bool_)
    finder_rich[3, 0:7] = finder_rich[9, 2:9] = finder_rich[15, 14:21] = [1, 0, 1, 1, 1, 0, 1]
    finder_rich[0:7, 20] = finder_rich[12:19, 5] = [1, 0, 1, 1, 1, 0, 1]
    samples = [
        np.zeros((21, 21), np.bool_),
        finder_rich,
        rng.random((25, 25)) < 0.5,
        rng.random((25, 25)) < 0.3,
        *[encode_qr(EXAMPLE, "M", mask=m).matrix for m in range(8)],
        *[encode_qr("HELLO 123", "H", mask=m).matrix for m in range(8)],
    ]
    # Finder-like sequences at random places, with margins of random width.
    motif = np.array([1, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1], np.bool_)
    for _ in range(20):
        tiled = np.resize(np.roll(motif, int(rng.integers(14))), (23, 23))
        noise = rng.random((23, 23)) < 0.08
        samples.append(np.roll(tiled ^ noise, int(rng.integers(23)), axis=1))
        samples.append((tiled ^ noise).T)
    for sample in samples:
        assert penalties(sample[None])[0] == naive_penalty(sample)


@pytest.mark.parametrize(
    ("payload", "ec", "message"),
    [
        ("", "M", "non-empty"),
        ("x", "X", "unknown error correction level"),
        ("ab\ud800", "M", "not valid Unicode text \\(character 3\\)"),
        ("x" * 2400, "M", "too long"),
        ("x" * 3000, "L", "too long"),
    ],
)
def test_bad_input_is_invalid_input(payload: str, ec: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        encode_qr(payload, ec)


def test_fixed_version_too_small_and_bad_mask_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="too long for version 1"):
        encode_qr(EXAMPLE, "M", version=1)
    with pytest.raises(InvalidInput, match="version must be 1 to 40"):
        encode_qr("x", "M", version=41)
    with pytest.raises(InvalidInput, match="mask pattern must be 0 to 7"):
        encode_qr("x", "M", mask=8)


def test_largest_byte_payload_fits_version_40() -> None:
    text = "x" * byte_capacity(40, "L")
    symbol = encode_qr(text, "L")
    assert symbol.version == 40
    assert decode(symbol.matrix) == [text]
