"""One rule says when a product is expired: its last day must be over everywhere on Earth.

The answer's status, detection's CODE_EXPIRED and the offline verifier's check all use
``detection.is_expired``; at the boundary they must agree.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from authn.code import ProductCode
from detection import is_expired
from verifier.verification.rules import RuleInput, ScanFacts, code_expired

if TYPE_CHECKING:
    from tests.verifier.conftest import Env

UTC = dt.UTC


@pytest.mark.parametrize(
    ("expiry", "at", "expired"),
    [
        ("261120", dt.datetime(2026, 11, 20, 23, 59, tzinfo=UTC), False),  # its last day
        ("261120", dt.datetime(2026, 11, 21, 6, 0, tzinfo=UTC), False),  # still the 20th in LA
        ("261120", dt.datetime(2026, 11, 21, 11, 59, tzinfo=UTC), False),  # UTC-12 still 20th
        ("261120", dt.datetime(2026, 11, 21, 12, 0, tzinfo=UTC), True),  # over everywhere
        ("261100", dt.datetime(2026, 11, 30, 23, 0, tzinfo=UTC), False),  # DD=00: month end
        ("261100", dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC), True),
        ("270229", dt.datetime(2027, 3, 1, 12, 0, tzinfo=UTC), True),  # no 29 Feb: month end
    ],
)
def test_is_expired(expiry: str, at: dt.datetime, expired: bool) -> None:
    assert is_expired(expiry, at) is expired


def test_offline_check_follows_the_same_rule() -> None:
    code = ProductCode(gtin="09506000134352", serial="S1", expiry="261120")

    def offline_findings(at: dt.datetime) -> list[str]:
        scan = ScanFacts(scanned_at=at, role="officer")
        rule_input = RuleInput(code, scan, None, None, None, ())
        return [f.code for f in code_expired(rule_input)]

    assert offline_findings(dt.datetime(2026, 11, 21, 6, 0, tzinfo=UTC)) == []
    assert offline_findings(dt.datetime(2026, 11, 21, 12, 0, tzinfo=UTC)) == ["CODE_EXPIRED"]


@pytest.mark.parametrize(
    ("at", "status", "reason"),
    [
        (dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC), "active", False),  # the 28th in LA
        (dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC), "expired", True),  # the service's now
    ],
)
def test_status_and_reason_agree_at_the_boundary(
    env: Env, at: dt.datetime, status: str, reason: bool
) -> None:
    serial = f"X{at.hour}"
    env.register([serial], expiry="260228")
    code = env.sign(serial, expiry="260228")
    answer = env.verify(code, "officer", scanned_at=at.isoformat()).json()
    assert answer["status"] == status
    assert ("CODE_EXPIRED" in {r["code"] for r in answer["reasons"]}) is reason
