"""Which banner an answer gets: safety facts first, then the verdict and its status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mobile_api.banners import BANNERS, banner_of
from verifier.schemas import ProductOut, ReasonOut, VerifyOut


def answer(verdict: str, status: str, *codes: str) -> VerifyOut:
    data: dict[str, Any] = {
        "verdict": verdict,
        "status": status,
        "reasons": [ReasonOut(code=code, message="-") for code in codes],
        "product": ProductOut(gtin="09506000000428", serial="S1"),
        "scanned_at": datetime(2026, 3, 1, tzinfo=UTC),
    }
    return VerifyOut(**data)


@pytest.mark.parametrize(
    ("verdict", "status", "codes", "state"),
    [
        ("authentic", "active", ("GENUINE",), "authentic"),
        ("authentic", "sold", ("GENUINE",), "authentic"),
        ("authentic", "sample", ("GENUINE",), "sample"),
        ("authentic", "recalled", ("LOT_RECALLED",), "recalled"),
        ("authentic", "expired", ("CODE_EXPIRED",), "expired"),
        ("suspect", "active", ("CHECK_ADVISED",), "suspect"),
        ("suspect", "unknown", ("CHECK_ADVISED",), "suspect"),
        ("suspect", "withheld", ("CHECK_ADVISED",), "withheld"),
        ("suspect", "stolen", ("SCANNED_AFTER_DECOMMISSION",), "withheld"),  # officer's view
        # A recall is told even when the scans look odd too: never "check advised".
        ("suspect", "recalled", ("UNIT_RECALLED",), "recalled"),
        ("suspect", "active", ("IMPOSSIBLE_TRAVEL", "LOT_RECALLED"), "recalled"),
        ("suspect", "expired", ("CODE_EXPIRED",), "expired"),
        # A code that is not genuine shows only that, whatever status it claims.
        ("counterfeit", "unknown", ("NOT_GENUINE",), "counterfeit"),
        ("counterfeit", "recalled", ("NOT_GENUINE",), "counterfeit"),
        ("unverifiable", "unknown", ("CANNOT_CONFIRM",), "unverifiable"),
    ],
)
def test_banner_of(verdict: str, status: str, codes: tuple[str, ...], state: str) -> None:
    assert banner_of(answer(verdict, status, *codes)).state == state


def test_no_two_banners_share_a_heading_step_or_icon() -> None:
    for field in ("heading", "next_step", "icon"):
        values = [getattr(b, field) for b in BANNERS.values()]
        assert len(set(values)) == len(values), field
