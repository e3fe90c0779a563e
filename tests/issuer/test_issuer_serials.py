"""Serials: form, randomness, uniqueness per GTIN across batches, collisions."""

from __future__ import annotations

import base64
import itertools
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from authn.ai import validate_value
from authn.errors import InvalidInput
from issuer.journal import SerialRegistry
from issuer.serials import (
    CROCKFORD_ALPHABET,
    SERIAL_CHARS,
    draw_serials,
    is_serial,
    new_serial,
    serial_to_int,
)

GTIN = "09506000134352"


def test_serial_is_13_crockford_characters_and_a_valid_ai_21() -> None:
    for serial in draw_serials(500):
        assert len(serial) == SERIAL_CHARS
        assert set(serial) <= set(CROCKFORD_ALPHABET)
        assert not set(serial) & set("ILOU")
        assert is_serial(serial)
        validate_value("21", serial)


def test_serials_carry_65_bits() -> None:
    # All-ones bytes give the largest serial: exactly 2**65 - 1.
    top = draw_serials(1, lambda n: b"\xff" * n)[0]
    assert top == "Z" * SERIAL_CHARS
    assert serial_to_int(top) == 2**65 - 1
    assert serial_to_int(draw_serials(1, lambda n: b"\x00" * n)[0]) == 0


def test_serials_use_every_bit_position() -> None:
    # Over 2,000 random serials every one of the 65 bits is seen both set and clear.
    values = [serial_to_int(s) for s in draw_serials(2000)]
    for bit in range(65):
        ones = sum((v >> bit) & 1 for v in values)
        assert 800 < ones < 1200, f"bit {bit} is set in {ones} of 2000 serials"


def test_new_serials_differ() -> None:
    serials = {new_serial() for _ in range(1000)}
    assert len(serials) == 1000


@pytest.mark.parametrize("text", ["", "ABC", "0123456789ABI", "0123456789abc", "0123456789ABCD"])
def test_is_serial_rejects_other_forms(text: str) -> None:
    assert not is_serial(text)


def test_registry_reserves_distinct_serials_and_records_them(tmp_path: Path) -> None:
    registry = SerialRegistry(tmp_path / "registry.sqlite")
    first = registry.reserve(GTIN, "batch-1", 3000)
    second = registry.reserve(GTIN, "batch-2", 3000)
    assert len(set(first) | set(second)) == 6000
    assert registry.count(GTIN) == 6000
    registry.close()
    rows = sqlite3.connect(tmp_path / "registry.sqlite").execute(
        "SELECT batch_id, count(*) FROM used_serials GROUP BY batch_id ORDER BY batch_id"
    )
    assert rows.fetchall() == [("batch-1", 3000), ("batch-2", 3000)]


def _replaying(streams: list[bytes]) -> Callable[[int], bytes]:
    """A random source that hands out the given byte strings, then real randomness."""
    queue = list(streams)

    def source(n: int) -> bytes:
        return queue.pop(0)[:n] if queue else secrets.token_bytes(n)

    return source


def test_a_collision_with_an_earlier_batch_draws_again(tmp_path: Path) -> None:
    registry = SerialRegistry(tmp_path / "registry.sqlite")
    fixed = bytes(range(10))
    taken = registry.reserve(GTIN, "old", 1, _replaying([fixed]))
    # The new batch's first draw repeats the old serial and one of its own.
    fresh = secrets.token_bytes(10)
    got = registry.reserve(GTIN, "new", 3, _replaying([fixed + fresh + fresh]))
    assert taken[0] not in got
    assert len(set(got)) == 3
    assert registry.count(GTIN) == 4


def test_same_serial_is_fine_for_another_gtin(tmp_path: Path) -> None:
    registry = SerialRegistry(tmp_path / "registry.sqlite")
    fixed = bytes(range(10))
    a = registry.reserve(GTIN, "a", 1, _replaying([fixed]))
    b = registry.reserve("04006381333931", "b", 1, _replaying([fixed]))
    assert a == b


def test_a_broken_random_source_is_refused_not_looped_on(tmp_path: Path) -> None:
    registry = SerialRegistry(tmp_path / "registry.sqlite")
    constant = itertools.repeat(b"\x42" * 10)
    registry.reserve(GTIN, "a", 1, lambda n: next(constant)[:n])
    with pytest.raises(InvalidInput, match="repeating"):
        registry.reserve(GTIN, "b", 1, lambda n: (b"\x42" * 10) * (n // 10))
    assert registry.count(GTIN) == 1  # the failed reservation left nothing behind


def test_serials_are_the_first_65_bits_in_crockford_base32() -> None:
    raw = secrets.token_bytes(10 * 300)
    rfc4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD_ALPHABET)
    expected = [
        base64.b32encode(raw[i : i + 10]).decode().translate(rfc4648)[:13]
        for i in range(0, len(raw), 10)
    ]
    assert draw_serials(300, lambda n: raw[:n]) == expected
    big = int.from_bytes(raw[:9], "big") >> 7  # the first 65 bits as a number
    assert serial_to_int(expected[0]) == big
