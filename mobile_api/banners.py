"""What the consumer page's banner says: one state per verdict and safety status.

Each state has its own colour (mobile.css, ``.verdict-<state>``), its own icon shape and
its own heading, so that no two can be mistaken for each other by colour, by shape or
by a screen reader's words (WCAG 1.4.1): a recall is not "check advised", and a unit the
brand has flagged without saying why is not a pattern of odd scans.
"""

from __future__ import annotations

from dataclasses import dataclass

from mobile_api.i18n import N_
from verifier.schemas import VerifyOut
from verifier.verification.views import WITHHELD, public_status


@dataclass(frozen=True)
class Banner:
    state: str
    heading: str  # English msgid
    next_step: str  # English msgid: the first thing to do
    icon: str  # SVG path data, 24x24, drawn with the text colour


BANNERS: dict[str, Banner] = {
    b.state: b
    for b in (
        Banner(
            "authentic",
            N_("Authentic product"),
            N_("Nothing more to do. Keep the packaging until you have used the product."),
            "M5 12.5l4.5 4.5L19 7.5",
        ),
        Banner(
            "sample",
            N_("Genuine sample: not for sale"),
            N_(
                "Samples are given free of charge by doctors and pharmacists. If you paid for "
                "this one, tell the brand where you bought it."
            ),
            "M3 12V3h9l9 9-9 9zM7.5 7.5h.01",
        ),
        Banner(
            "suspect",
            N_("Check advised"),
            N_("Do not use the product until the seller or the brand has confirmed it."),
            "M12 3L2 20.5h20zM12 9.5v5M12 17.5v.01",
        ),
        Banner(
            "withheld",
            N_("On hold: ask the brand before use"),
            N_(
                "The brand has a note on this unit that is not shown here. Do not use the "
                "product; contact the brand and give it the serial number shown below."
            ),
            "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM9.5 8.5v7M14.5 8.5v7",
        ),
        Banner(
            "counterfeit",
            N_("Not genuine"),
            N_(
                "Do not use the product. Keep it with its packaging and the receipt, and "
                "report it below."
            ),
            "M8 3h8l5 5v8l-5 5H8l-5-5V8zM9 9l6 6M15 9l-6 6",
        ),
        Banner(
            "unverifiable",
            N_("Cannot confirm"),
            N_(
                "Try again later. If the product still cannot be confirmed, ask a pharmacist "
                "or the brand before using it."
            ),
            "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM9.5 9.5a2.5 2.5 0 1 1 3.5 2.3"
            "c-.7.3-1 .9-1 1.7v.5M12 17.5v.01",
        ),
        Banner(
            "recalled",
            N_("Recalled: do not use"),
            N_(
                "Do not use the product. Take it back to the pharmacy or the seller, or ask "
                "the brand what to do."
            ),
            "M9 14L4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11",
        ),
        Banner(
            "expired",
            N_("Expired: do not use"),
            N_(
                "Do not use the product. Ask a pharmacist or the seller how to dispose of it "
                "safely."
            ),
            "M6 3h12M6 21h12M7 3c0 6 10 5 10 9s-10 3-10 9M17 3c0 6-10 5-10 9s10 3 10 9",
        ),
    )
}

# The one sentence a consumer is told under each generic reason code (docs/api.md).
REASONS: dict[str, str] = {
    "GENUINE": N_("This is a genuine product, registered by its brand."),
    "CHECK_ADVISED": N_(
        "The code is genuine, but this unit is not where or as it should be. Ask the seller "
        "or contact the brand before using it."
    ),
    "NOT_GENUINE": N_(
        "This code is not genuine. The product may be a counterfeit: do not use it, and tell "
        "the seller or the brand."
    ),
    "CANNOT_CONFIRM": N_(
        "This code cannot be confirmed right now. Try again later or contact the brand."
    ),
    "LOT_RECALLED": N_("This lot has been recalled by the brand. Do not use the product."),
    "UNIT_RECALLED": N_("This unit has been recalled by the brand. Do not use the product."),
    "CODE_EXPIRED": N_("This product is past its expiry date."),
}
RECALL_REASONS = frozenset({"LOT_RECALLED", "UNIT_RECALLED"})


def banner_of(answer: VerifyOut) -> Banner:
    """The banner of an answer: a safety fact first, then the verdict and its status.

    Recall and expiry lead whenever the code is genuine (authentic or suspect), because
    they tell the reader exactly what to do; a code that is not genuine or cannot be
    confirmed shows only that.
    """
    verdict = answer.verdict
    if verdict in ("counterfeit", "unverifiable"):
        return BANNERS[verdict]
    codes = {reason.code for reason in answer.reasons}
    if answer.status == "recalled" or codes & RECALL_REASONS:
        return BANNERS["recalled"]
    if answer.status == "expired" or "CODE_EXPIRED" in codes:
        return BANNERS["expired"]
    if verdict == "suspect":
        # An officer's full view carries the real status; a consumer's says "withheld".
        return BANNERS["withheld" if public_status(answer.status) == WITHHELD else "suspect"]
    return BANNERS["sample" if answer.status == "sample" else "authentic"]
