"""Canonical JSON and timestamps: one spelling per value, strict on the way in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authn.errors import TrustError
from keys.canonical import canonical_json, format_time, parse_json, parse_time, unb64

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_is_a_fixed_point(value: Any) -> None:
    data = canonical_json(value)
    assert canonical_json(parse_json(data, "value")) == data
    assert b"\n" not in data.replace(b"\\n", b"")


def test_canonical_json_spelling() -> None:
    assert (
        canonical_json({"b": 1, "a": ["é", None, True]}) == '{"a":["é",null,true],"b":1}'.encode()
    )
    with pytest.raises(TrustError, match="integers only"):
        canonical_json({"x": 1.5})


@pytest.mark.parametrize(
    "data", [b'{"a":1,"a":2}', b'{"a":1.0}', b'{"a":NaN}', b'{"a":Infinity}', b"\xff"]
)
def test_strict_parsing(data: bytes) -> None:
    with pytest.raises(TrustError):
        parse_json(data, "doc")


def test_timestamps_are_utc_whole_seconds_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 3, 1, 14, 0, 5, 999_999, tzinfo=plus_two)
    assert format_time(moment) == "2026-03-01T12:00:05Z"
    assert parse_time("2026-03-01T12:00:05Z", "t") == datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    with pytest.raises(TrustError, match="timezone-aware"):
        format_time(datetime(2026, 3, 1))


@pytest.mark.parametrize(
    "text",
    ["2026-03-01T12:00:05z", "2026-03-01T12:00:05+00:00", "2026-03-01T12:00:05.1Z",
     "2026-02-30T12:00:00Z", "2026-03-01 12:00:05Z", 20260301, None],
)  # fmt: skip
def test_non_canonical_timestamps_refused(text: object) -> None:
    with pytest.raises(TrustError):
        parse_time(text, "t")


@pytest.mark.parametrize("text", ["AA==", "AA=", "A+/=", "AB", "!!"])
def test_non_canonical_base64url_refused(text: str) -> None:
    # "AB" decodes to one byte, but with non-zero trailing bits: two spellings of one value.
    with pytest.raises(TrustError):
        unb64(text, "x")


def test_base64url_length_checked() -> None:
    assert unb64("AA", "x", length=1) == b"\x00"
    with pytest.raises(TrustError, match="must be 2 bytes"):
        unb64("AA", "x", length=2)
