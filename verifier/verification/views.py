"""What each caller may see of a verification.

Officers, registry admins and the brand owning the GTIN get everything: every
finding (severity, sentence, related scans), the recent history (locations
coarse), the risk score and the right holder's contact. Everyone else gets the
verdict, the product facts and one plain sentence (detection's consumer
message) under a generic reason code; which check failed exactly is never told
to them (it would help a forger), only the safety facts a consumer must know
(recall, expiry).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import cast

from authn.code import ProductCode
from detection import Finding, expiry_date
from keys.trust import TrustDecision
from verifier.db.models import Product
from verifier.schemas import (
    CoarseLocation,
    FindingOut,
    FlagOut,
    HistoryEntry,
    ProductOut,
    ReasonOut,
    RightHolderOut,
    RiskOut,
    StatusName,
    VerdictName,
    VerifyOut,
)
from verifier.verification.detect import Outcome
from verifier.verification.rules import ScanFacts

# What a caller without the full view is told of a code's status (the table in docs/api.md).
# Safety facts (recalled, expired) and what a buyer may see on the pack (sold, sample) are
# told; statuses that would tell a thief or a forger what the brand knows (stolen, destroyed,
# locked, exported) are "withheld": the verdict and its sentence already say what to do.
TOLD_TO_EVERYONE = frozenset({"active", "sold", "recalled", "expired", "sample", "unknown"})
WITHHELD = "withheld"


def public_status(status: str) -> str:
    return status if status in TOLD_TO_EVERYONE else WITHHELD


COARSE_DEGREES = 1  # decimals kept: 0.1 degree, about 10 km
ANONYMOUS_ACCURACY_M = 10_000.0  # what a coarse location can claim at best


def coarse_position(lat: float, lon: float, accuracy_m: float | None) -> tuple[float, float, float]:
    """An anonymous caller's position as it is stored: about 10 km, never claimed finer."""
    return (
        round(lat, COARSE_DEGREES),
        round(lon, COARSE_DEGREES),
        max(accuracy_m or 0.0, ANONYMOUS_ACCURACY_M),
    )


def coarse(lat: float | None, lon: float | None) -> CoarseLocation | None:
    if lat is None or lon is None:
        return None
    return CoarseLocation(lat=round(lat, COARSE_DEGREES), lon=round(lon, COARSE_DEGREES))


def product_of(
    code: ProductCode,
    decision: TrustDecision | None,
    today: date,
    product: Product | None = None,
    image: str | None = None,
) -> ProductOut:
    """The code's facts, with the brand's product data only when the trust list vouches for
    the code: a forged code must not borrow a real product's name (nor let anyone read a
    brand's product data by inventing codes). ``image`` is the uploaded image's URL, shown
    instead of the product's image URL when there is one."""
    brand = decision.brand.name if decision is not None and decision.brand is not None else None
    vouched = product is not None and decision is not None and decision.outcome == "genuine"
    return ProductOut(
        gtin=code.gtin,
        serial=code.serial,
        lot=code.lot,
        expiry=expiry_date(code.expiry, today) if code.expiry is not None else None,
        brand=brand,
        **(
            {
                "productName": product.product_name, "brandName": product.brand_name,
                "availableStrength": product.strength, "netContent": product.net_content,
                "image": image or product.image_url,
            }
            if vouched and product is not None
            else {}
        ),
    )  # fmt: skip


def finding_out(finding: Finding) -> FindingOut:
    return FindingOut(
        code=finding.reason,
        message=finding.message,
        severity=finding.severity,
        score=round(finding.weight * 100),
        related_scan_ids=list(finding.related_scan_ids),
    )


def shape(
    *,
    code: ProductCode,
    decision: TrustDecision,
    outcome: Outcome,
    scanned_at: datetime,
    scan_id: str | None,
    full: bool,
    history: Sequence[ScanFacts] | None,
    flagged: FlagOut | None = None,
    product: Product | None = None,
    image: str | None = None,
) -> VerifyOut:
    """The answer ``full`` or public; ``product`` is the brand's data of the code's GTIN,
    ``image`` the URL of its uploaded image."""
    product_out = product_of(code, decision, scanned_at.date(), product, image)
    status = cast(StatusName, outcome.status)
    if not full:
        return VerifyOut(
            verdict=cast(VerdictName, outcome.verdict),
            status=cast(StatusName, public_status(outcome.status)),
            reasons=[ReasonOut(code=outcome.consumer_code, message=outcome.consumer_message)],
            product=product_out,
            scan_id=scan_id,
            scanned_at=scanned_at,
        )
    brand = decision.brand
    return VerifyOut(
        verdict=cast(VerdictName, outcome.verdict),
        status=status,
        reasons=[ReasonOut(code=f.reason, message=f.message) for f in outcome.reasons],
        product=product_out,
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
            score=round(outcome.score * 100),
            findings=[finding_out(f) for f in (outcome.trust, *outcome.findings)],
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
        flagged=flagged,
    )
