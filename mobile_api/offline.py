"""The reference offline verifier: one code against an offline bundle, no network.

It reuses the server's pure pieces (``keys.trust`` for the signature and the
chain of trust, ``verifier.verification.rules`` for recalls and expiry,
``verifier.verification.verdict.judge`` for the verdict) so that, from the
same information, it reaches the verdict the server would. What it lacks is
the server's registry and scan history, which shows in three places:

* a revoked key cannot be confirmed (the server knows when the code was
  registered; offline nothing does) -> ``unverifiable``;
* a key the bundle does not know may be newer than the bundle -> ``unverifiable``;
* the decommissioned-code filter has false positives at its stated rate, so
  a hit says "suspect", never "counterfeit".

A bundle past its ``expires_at`` still tells counterfeits apart, but a code
that looks genuine cannot be confirmed with stale status data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from authn.code import ProductCode
from authn.errors import InvalidInput
from detection import expiry_date
from detection.flagging import CODE_FLAGGED
from detection.reasons import SCANNED_AFTER_DECOMMISSION
from keys.trust import TrustDecision
from mobile_api.bundle import BundleProduct, OfflineBundle
from verifier.verification.parse import parse_code
from verifier.verification.rules import (
    LOT_RECALLED_STATUS,
    Finding,
    RuleInput,
    ScanFacts,
    code_expired,
    lot_recalled,
)
from verifier.verification.verdict import Judgement, Verdict, judge

BUNDLE_STALE = "BUNDLE_STALE"
SAFETY_NOTES = frozenset({"LOT_RECALLED", "CODE_EXPIRED"})


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class OfflineVerdict:
    verdict: Verdict
    reasons: tuple[Reason, ...]
    code: ProductCode
    brand: str | None = None
    bundle_version: str = ""
    expiry: date | None = None
    findings: tuple[Reason, ...] = field(default=())
    product: BundleProduct | None = None

    @property
    def authentic(self) -> bool:
        return self.verdict == "authentic"

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
            "findings": [{"code": r.code, "message": r.message} for r in self.findings],
            "product": {
                "gtin": self.code.gtin,
                "serial": self.code.serial,
                "lot": self.code.lot,
                "expiry": self.expiry.isoformat() if self.expiry else None,
                "brand": self.brand,
                **(
                    {
                        "productName": self.product.name,
                        "availableStrength": self.product.strength,
                        "netContent": self.product.net_content,
                    }
                    if self.product is not None
                    else {}
                ),
            },
            "bundle_version": self.bundle_version,
        }


def _decommissioned(bundle: OfflineBundle, code: ProductCode) -> list[Finding]:
    if not bundle.decommissioned.might_contain(code.gtin, code.serial):
        return []
    rate = bundle.decommissioned.fp_per_million / 10_000
    return [
        Finding(
            SCANNED_AFTER_DECOMMISSION,
            "The brand marked this unit as taken out of circulation (sold, destroyed, exported "
            f"...); offline filter, false alarms about {rate:g} % of the time.",
            score=70,
        )
    ]


def _flagged(bundle: OfflineBundle, code: ProductCode, decision: TrustDecision) -> list[Finding]:
    """The service flagged this code as cloned: say since when, why and whom to tell."""
    flag = bundle.flagged.get((code.gtin, code.serial))
    if flag is None:
        return []
    whom = ""
    if decision.brand is not None:
        contact = ", ".join(str(v) for v in decision.brand.contact.to_json().values())
        whom = f" Right holder: {decision.brand.name}{', ' + contact if contact else ''}."
    why = ", ".join(flag.reasons) or "clone findings"
    return [
        Finding(
            CODE_FLAGGED,
            f"Reported cloned since {flag.since} ({why}): hold the goods and contact the "
            f"right holder.{whom}",
            score=100,
        )
    ]


def product_of(
    bundle: OfflineBundle, code: ProductCode, decision: TrustDecision
) -> BundleProduct | None:
    """The bundle's product for the code, only when the trust list vouches for the code and
    its brand is the one the product was stored for: a forged code must not borrow a real
    product's name (as online, :func:`verifier.verification.views.product_of`)."""
    product = bundle.products.get(code.gtin)
    if product is None or not decision.genuine or decision.brand is None:
        return None
    return product if product.brand_id == decision.brand.id else None


def verify_offline(bundle: OfflineBundle, text: str, *, now: datetime) -> OfflineVerdict:
    """Judge scanned ``text`` with ``bundle`` at ``now``; InvalidInput if it is not a code."""
    if now.tzinfo is None:
        raise InvalidInput("now must be a timezone-aware datetime")
    code = parse_code(text)
    decision = bundle.trust_list.evaluate(code, now=now, registered_at=None, online=False)
    brand = decision.brand.name if decision.brand is not None else None
    findings: list[Finding] = []
    lot_status = None
    if decision.genuine:
        if code.lot is not None and (code.gtin, code.lot) in bundle.recalled_lots:
            lot_status = LOT_RECALLED_STATUS
        rule_input = RuleInput(
            code=code,
            scan=ScanFacts(scanned_at=now, role="officer"),
            record=None,
            lot_status=lot_status,
            intended_markets=None,
            recent=(),
        )
        findings = [
            *_flagged(bundle, code, decision),
            *_decommissioned(bundle, code),
            *lot_recalled(rule_input),
            *code_expired(rule_input),
        ]
    status = "recalled" if lot_status else "unknown"
    judgement: Judgement = judge(decision, findings, status)
    reasons = tuple(Reason(f.code, f.message) for f in judgement.reasons)
    verdict = judgement.verdict
    safety = [f for f in findings if f.code in SAFETY_NOTES]
    if verdict == "authentic" and safety:
        # Genuine but not to be used: the server tells the same safety fact (docs/detection.md).
        reasons = tuple(Reason(f.code, f.message) for f in safety)
    # Stale status data cannot confirm a unit; it can still show one is suspect.
    if verdict == "authentic" and bundle.is_stale(now):
        verdict = "unverifiable"
        reasons = (
            Reason(
                BUNDLE_STALE,
                f"The offline bundle expired at {bundle.expires_at.isoformat()}; sync the "
                "handheld before relying on this answer.",
            ),
            *reasons,
        )
    return OfflineVerdict(
        verdict=verdict,
        reasons=reasons,
        code=code,
        brand=brand,
        bundle_version=bundle.version,
        expiry=expiry_date(code.expiry, now.date()) if code.expiry is not None else None,
        findings=tuple(Reason(f.code, f.message) for f in judgement.findings),
        product=product_of(bundle, code, decision),
    )
