"""Combining the trust decision and the findings into one verdict and status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from keys.trust import TrustDecision
from verifier.verification.rules import Finding

Verdict = Literal["authentic", "suspect", "counterfeit", "unverifiable"]
TRUST_SCORES = {"genuine": 0, "cannot_confirm": 50, "counterfeit": 100}


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    status: str
    reasons: tuple[Finding, ...]  # what decided the verdict, most important first
    findings: tuple[Finding, ...]  # every observation, the trust decision included
    risk_score: int


def judge(decision: TrustDecision, findings: Sequence[Finding], status: str) -> Judgement:
    trust_finding = Finding(
        decision.reason,
        decision.message,
        severity="info" if decision.outcome == "genuine" else "suspect",
        score=TRUST_SCORES[decision.outcome],
    )
    everything = (trust_finding, *findings)
    if decision.outcome != "genuine":
        verdict: Verdict = "counterfeit" if decision.outcome == "counterfeit" else "unverifiable"
        return Judgement(verdict, "unknown", (trust_finding,), everything, trust_finding.score)
    suspicious = tuple(f for f in findings if f.severity == "suspect")
    score = min(100, sum(f.score for f in findings))
    if suspicious:
        return Judgement("suspect", status, suspicious, everything, score)
    return Judgement("authentic", status, (trust_finding,), everything, score)
