"""What each caller may see of a verification.

Officers, registry admins and the brand owning the GTIN get everything: every
reason, the recent history (locations coarse), the risk score and the right
holder's contact. Everyone else gets the verdict, the product facts and one
plain sentence; which check failed exactly is never told to them (it would
help a forger), only the safety facts a consumer must know (recall, expiry).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import cast

from authn.code import ProductCode
from keys.trust import TrustDecision
from verifier.api.schemas import (
    CoarseLocation,
    FindingOut,
    HistoryEntry,
    ProductOut,
    ReasonOut,
    RightHolderOut,
    RiskOut,
    StatusName,
    VerifyOut,
)
from verifier.verification.rules import ScanFacts, expiry_date
from verifier.verification.verdict import Judgement

COARSE_DEGREES = 1  # decimals kept: 0.1 degree, about 10 km

CONSUMER_REASONS = {
    "authentic": ("GENUINE", "This is a genuine product, registered by its brand."),
    "suspect": (
        "CHECK_ADVISED",
        "This code is genuine, but this unit is not where or as it should be. Ask the seller or "
        "contact the brand before using it.",
    ),
    "counterfeit": (
        "NOT_GENUINE",
        "This code is not genuine. The product may be a counterfeit: do not use it, and tell "
        "the seller or the brand.",
    ),
    "unverifiable": (
        "CANNOT_CONFIRM",
        "This code cannot be confirmed right now. Try again later or contact the brand.",
    ),
}
# Facts a consumer needs for safety; telling them helps no forger.
CONSUMER_VISIBLE = frozenset({"LOT_RECALLED", "CODE_EXPIRED"})


def coarse(lat: float | None, lon: float | None) -> CoarseLocation | None:
    if lat is None or lon is None:
        return None
    return CoarseLocation(lat=round(lat, COARSE_DEGREES), lon=round(lon, COARSE_DEGREES))


def product_of(code: ProductCode, decision: TrustDecision | None, today: date) -> ProductOut:
    brand = decision.brand.name if decision is not None and decision.brand is not None else None
    return ProductOut(
        gtin=code.gtin,
        serial=code.serial,
        lot=code.lot,
        expiry=expiry_date(code.expiry, today),
        brand=brand,
    )


def shape(
    *,
    code: ProductCode,
    decision: TrustDecision,
    judgement: Judgement,
    scanned_at: datetime,
    scan_id: str | None,
    full: bool,
    history: Sequence[ScanFacts] | None,
) -> VerifyOut:
    product = product_of(code, decision, scanned_at.date())
    if not full:
        visible = [f for f in judgement.reasons if f.code in CONSUMER_VISIBLE]
        if visible:
            reasons = [ReasonOut(code=f.code, message=f.message) for f in visible]
        else:
            generic_code, generic_message = CONSUMER_REASONS[judgement.verdict]
            reasons = [ReasonOut(code=generic_code, message=generic_message)]
        return VerifyOut(
            verdict=judgement.verdict,
            status=cast(StatusName, judgement.status),
            reasons=reasons,
            product=product,
            scan_id=scan_id,
            scanned_at=scanned_at,
        )
    brand = decision.brand
    return VerifyOut(
        verdict=judgement.verdict,
        status=cast(StatusName, judgement.status),
        reasons=[ReasonOut(code=f.code, message=f.message) for f in judgement.reasons],
        product=product,
        scan_id=scan_id,
        scanned_at=scanned_at,
        history=[
            HistoryEntry(
                scanned_at=s.scanned_at,
                country=s.country,
                location=coarse(s.lat, s.lon),
                role=s.role,
                device_id=s.device_id,
                verdict=s.verdict,
            )
            for s in history or ()
        ],
        risk=RiskOut(
            score=judgement.risk_score,
            findings=[
                FindingOut(code=f.code, message=f.message, severity=f.severity, score=f.score)
                for f in judgement.findings
            ],
        ),
        right_holder=(
            RightHolderOut(
                brand_id=brand.id,
                name=brand.name,
                contact={k: str(v) for k, v in brand.contact.to_json().items()},
            )
            if brand is not None
            else None
        ),
    )
