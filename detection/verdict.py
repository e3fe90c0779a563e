"""Combining the rules into one assessment of a scan.

The risk score is a noisy-OR of the findings' weights,
``score = 1 - prod(1 - weight)``: each finding is read as an independent
chance that the code is copied, so the score stays in [0, 1], never falls
when a finding is added, and several weak signs add up to a strong one.
Findings that rest on anonymous browser views alone (distinct networks and
cookies) count together as one sign capped at ``settings.browser_evidence_cap``
(:func:`combined_score`). The verdict is "suspect" when the score reaches
``settings.suspect_score``
or any finding is critical, "authentic" otherwise; signature failures
("counterfeit", "unverifiable") are decided before detection runs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from detection import reasons
from detection.model import CodeRecord, DetectionSettings, Finding, Scan
from detection.rules_custody import out_of_sequence
from detection.rules_sites import repeated_at_site, too_many_trade_sites
from detection.rules_spread import (
    consumers_far_apart,
    outside_intended_market,
    too_many_devices,
)
from detection.rules_state import (
    code_expired,
    code_not_registered,
    recalled,
    scanned_after_decommission,
)
from detection.rules_travel import concurrent_scans, impossible_travel


class Rule(Protocol):
    """The shape every rule has: pure, judging ``scan`` against ``history``."""

    def __call__(
        self,
        record: CodeRecord,
        history: Sequence[Scan],
        scan: Scan,
        settings: DetectionSettings,
        /,
        *,
        now: dt.datetime,
    ) -> list[Finding]: ...


DetectionVerdict = Literal["authentic", "suspect"]

# Every rule, in the order their findings are listed for an officer.
RULES: tuple[Rule, ...] = (
    code_not_registered,
    scanned_after_decommission,
    concurrent_scans,
    impossible_travel,
    out_of_sequence,
    repeated_at_site,
    too_many_trade_sites,
    consumers_far_apart,
    too_many_devices,
    outside_intended_market,
    recalled,
    code_expired,
)

# One sentence each, deliberately vague: a forger learns nothing from them.
CONSUMER_SUSPECT = (
    "This code has been scanned in ways that suggest it may have been copied. "
    "Do not use the product and contact the seller."
)
CONSUMER_RECALLED = (
    "This product has been recalled by its maker. Do not use it and contact the seller."
)
CONSUMER_EXPIRED = "This product is past its expiry date. Do not use it."
CONSUMER_AUTHENTIC = "This code is genuine and nothing unusual has been seen about it."

_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Assessment:
    """What detection concludes about one scan.

    ``findings`` is the officer's view: every finding, most serious first.
    ``consumer_message`` is the one sentence a consumer sees.
    """

    verdict: DetectionVerdict
    score: float
    findings: tuple[Finding, ...]
    consumer_message: str

    @property
    def key_alert(self) -> bool:
        """Whether the service should raise an alert about the signing key."""
        return any(f.key_alert for f in self.findings)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f.reason for f in self.findings)


def risk_score(findings: Sequence[Finding]) -> float:
    """``1 - prod(1 - weight)`` over the findings, in [0, 1]."""
    return 1.0 - math.prod(1.0 - f.weight for f in findings)


def combined_score(findings: Sequence[Finding], settings: DetectionSettings) -> float:
    """The noisy-OR of the findings, with those resting on anonymous browser views alone
    counted together as one sign of at most ``settings.browser_evidence_cap``.

    Distinct networks and cookies are what one household's phones, a traveller and a
    second-hand buyer make in ordinary life, so alone they only warn; another sign
    (an accountable scan, a shared location, a stable device) still adds up with them.
    """
    browsers = [f for f in findings if f.browsers_only]
    others = [f for f in findings if not f.browsers_only]
    capped = min(risk_score(browsers), settings.browser_evidence_cap)
    return 1.0 - (1.0 - risk_score(others)) * (1.0 - capped)


def assess(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
    rules: Sequence[Rule] = RULES,
) -> Assessment:
    """Run the rules (every one unless told) on ``scan`` and combine the findings.

    ``rules`` exists for evaluations that leave a rule out to measure what it adds.
    """
    settings = settings.for_record(record)
    findings: list[Finding] = []
    for rule in rules:
        findings.extend(rule(record, history, scan, settings, now=now))
    findings.sort(key=lambda f: (_SEVERITY_RANK[f.severity], -f.weight))
    score = combined_score(findings, settings)
    suspect = score >= settings.suspect_score or any(f.severity == "critical" for f in findings)
    verdict: DetectionVerdict = "suspect" if suspect else "authentic"
    return Assessment(verdict, score, tuple(findings), _consumer_message(verdict, findings))


SAFETY_MESSAGES = frozenset({CONSUMER_RECALLED, CONSUMER_EXPIRED})


def _consumer_message(verdict: DetectionVerdict, findings: Sequence[Finding]) -> str:
    # Recall and expiry are public safety facts and tell the consumer exactly
    # what to do, so they come first; they help no forger.
    found = {f.reason for f in findings}
    if found & {reasons.LOT_RECALLED, reasons.UNIT_RECALLED}:
        return CONSUMER_RECALLED
    if reasons.CODE_EXPIRED in found:
        return CONSUMER_EXPIRED
    if verdict == "suspect":
        return CONSUMER_SUSPECT
    return CONSUMER_AUTHENTIC
