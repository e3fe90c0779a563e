"""Rules about the code's own record: its status, recall, expiry and registration.

Each rule is a pure function ``(record, history, scan, settings, *, now) ->
list[Finding]``; docs/detection.md explains every threshold and weight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from authn.errors import GS1SyntaxError
from authn.gs1 import yymmdd_to_date
from detection import reasons
from detection.common import earlier_scans, place, session_starts, when, who
from detection.independence import BROWSERS_NOTE, only_browsers_apart
from detection.model import (
    INTERNAL_ROLES,
    CodeRecord,
    DetectionSettings,
    Finding,
    Scan,
    Severity,
)

# Statuses after which the unit should no longer turn up, with the severity
# and base weight of a scan after them. "sold" is judged on its own below.
_DECOMMISSIONED: dict[str, tuple[Severity, float]] = {
    # A destroyed unit cannot be scanned; a stolen one is evidence for the police.
    "destroyed": ("critical", 0.9),
    "stolen": ("critical", 0.9),
    # The right holder froze the code, usually because it is investigating it:
    # nobody should treat the unit as fine until the brand says so.
    "locked": ("critical", 0.6),
    # Export is a legitimate move: the destination's customs will scan it.
    "exported": ("warning", 0.3),
}
_SOLD_MANY_SESSIONS_WEIGHT = 0.7
_SOLD_OFFICER_WEIGHT = 0.4
_NOT_REGISTERED_WEIGHT = 1.0
# The last local time zone ends a calendar day 12 hours after UTC does: a
# unit is expired only once its expiry day is over everywhere on Earth.
_LATEST_DAY_END = dt.timedelta(days=1, hours=12)


def scanned_after_decommission(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """SCANNED_AFTER_DECOMMISSION: the unit turned up after it left the market.

    A scan made before the status changed (an offline scan synced late) is
    not after it. A sold unit is its buyer's: the buyer's checks are normal,
    so only many sessions after the sale, or an officer finding it back in
    the supply chain, count.
    """
    changed = record.status_changed_at
    if record.status != "sold" and record.status not in _DECOMMISSIONED:
        return []
    if changed is not None and scan.effective_at < changed:
        return []
    settings = settings.for_record(record)
    after = [
        s for s in earlier_scans(history, scan) if changed is None or s.effective_at >= changed
    ]
    related = tuple(sorted(s.scan_id for s in after))
    since = f" on {when(changed)}" if changed is not None else ""
    if record.status == "sold":
        return [_after_sale(history, scan, after, related, since, settings)]
    severity, base = _DECOMMISSIONED[record.status]
    message = (
        f"Scanned by {who(scan)} in {place(scan)} at {when(scan.effective_at)}, "
        f"after the unit was marked {record.status}{since}."
    )
    weight = base * settings.role_weight(scan.role)
    return [Finding(reasons.SCANNED_AFTER_DECOMMISSION, severity, message, weight, related)]


def _after_sale(
    history: Sequence[Scan],
    scan: Scan,
    after: list[Scan],
    related: tuple[str, ...],
    since: str,
    settings: DetectionSettings,
) -> Finding:
    limit = settings.max_sessions_after_sale
    # The buyers' sessions: a shop taking a return and customs are judged on their own.
    buyers = [s for s in (*after, scan) if s.role == "consumer"]
    sessions = len(session_starts(buyers, settings, cap=limit + 1))
    if sessions > limit:
        message = (
            f"Scanned by more than {limit} different devices or sessions since it was "
            f"sold{since}; a sold unit is normally checked only by its buyer."
        )
        weight = _SOLD_MANY_SESSIONS_WEIGHT * settings.anonymous_weight
        # A household's phones and a second-hand buyer are distinct networks too.
        browsers_only = only_browsers_apart(history, buyers, scan, settings, limit=limit)
        if browsers_only:
            message += BROWSERS_NOTE
        return Finding(
            reasons.SCANNED_AFTER_DECOMMISSION, "warning", message, weight, related,
            browsers_only=browsers_only,
        )  # fmt: skip
    if scan.role == "officer":
        # Customs finding a pack dispensed to a consumer: it has no business back in a
        # shipment, and the EU medicines system raises an alert for exactly this case.
        message = (
            f"An officer found this unit in {place(scan)} at {when(scan.effective_at)}, "
            f"after it was sold to a consumer{since}."
        )
        weight = _SOLD_OFFICER_WEIGHT * settings.officer_weight
        return Finding(reasons.SCANNED_AFTER_DECOMMISSION, "critical", message, weight, related)
    if scan.role == "trade":
        # A return at the counter; one far from the shop is OUT_OF_SEQUENCE's business.
        message = (
            f"A trade partner scanned it in {place(scan)} at {when(scan.effective_at)}, after "
            f"it was sold{since}, as when a buyer returns a unit."
        )
        return Finding(reasons.SCANNED_AFTER_DECOMMISSION, "info", message, 0.0, related)
    message = f"Scanned after it was sold{since}, as a buyer checking a purchase would."
    return Finding(reasons.SCANNED_AFTER_DECOMMISSION, "info", message, 0.0, related)


def recalled(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """LOT_RECALLED / UNIT_RECALLED: a safety notice, not evidence of copying (weight 0).

    The verdict answers "is this genuine?"; the answer's ``status`` (recalled)
    carries the safety fact, and the consumer page shows it as "do not use".
    """
    findings: list[Finding] = []
    if record.lot_recalled:
        lot = f"Lot {record.lot}" if record.lot else "The lot of this unit"
        message = f"{lot} has been recalled by the right holder."
        findings.append(Finding(reasons.LOT_RECALLED, "warning", message, 0.0))
    if record.status == "recalled":
        since = f" on {when(record.status_changed_at)}" if record.status_changed_at else ""
        message = f"This unit was recalled by the right holder{since}."
        findings.append(Finding(reasons.UNIT_RECALLED, "warning", message, 0.0))
    return findings


def code_expired(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """CODE_EXPIRED: scanned after the AI (17) expiry date (DD=00 = end of month).

    A safety notice, not evidence of copying (weight 0); the answer's status
    (expired) carries it to the consumer page. The century is resolved on
    ``now``'s date, as the GS1 rule for reading YYMMDD says.
    """
    if record.expiry is None or not is_expired(record.expiry, scan.effective_at, today=now.date()):
        return []
    expiry = expiry_date(record.expiry, now.date())
    message = f"Scanned on {when(scan.effective_at)}, after its expiry date {expiry.isoformat()}."
    return [Finding(reasons.CODE_EXPIRED, "warning", message, 0.0)]


def is_expired(expiry: str, at: dt.datetime, *, today: dt.date | None = None) -> bool:
    """Whether a product with AI (17) ``expiry`` is past it at ``at``.

    Its last day must be over everywhere on Earth: a scan's time zone is not
    known, and calling a product expired on its last valid day is wrong for a
    buyer west of UTC. The service's status, detection's CODE_EXPIRED and the
    offline verifier all use this one rule. The century is resolved on
    ``today`` (default: ``at``'s date).
    """
    last_day = expiry_date(expiry, today or at.date())
    return at >= dt.datetime.combine(last_day, dt.time(), tzinfo=dt.UTC) + _LATEST_DAY_END


def expiry_date(expiry: str, today: dt.date) -> dt.date:
    """The date an AI (17) value stands for, read on ``today`` (GS1 century rule)."""
    try:
        return yymmdd_to_date(expiry, today)
    except GS1SyntaxError:
        # 29 February of a year that has none: read it as the end of February,
        # the later (kinder) of the two possible meanings.
        return yymmdd_to_date(expiry[:4] + "00", today)


def code_not_registered(
    record: CodeRecord,
    history: Sequence[Scan],
    scan: Scan,
    settings: DetectionSettings,
    *,
    now: dt.datetime,
) -> list[Finding]:
    """CODE_NOT_REGISTERED: a valid signature on a code the brand never registered.

    Only a holder of the signing key can make that signature, so either the
    brand's registration lags behind its line or the key has leaked: the
    finding asks for a key alert. The brand's own scans (line checks before
    registration) are only noted.
    """
    if record.registered:
        return []
    if scan.role in INTERNAL_ROLES:
        message = "This code carries a valid signature but is not registered yet."
        return [Finding(reasons.CODE_NOT_REGISTERED, "info", message, 0.0)]
    message = (
        f"This code carries a valid signature but was never registered by the right holder "
        f"(scanned in {place(scan)} at {when(scan.effective_at)}); its signing key may have leaked."
    )
    related = tuple(sorted(s.scan_id for s in earlier_scans(history, scan)))
    return [
        Finding(
            reasons.CODE_NOT_REGISTERED,
            "critical",
            message,
            _NOT_REGISTERED_WEIGHT,
            related,
            key_alert=True,
        )
    ]
