"""A consumer's scan drawn again (the page's language switch), as the code stands now.

The stored answer says what the scan's history showed when it was judged (and when a
location shared later re-judged it: :mod:`verifier.verification.rejudge` stores the
worse answer). Since then the code may have been flagged as cloned, recalled or
marked (stolen, destroyed, locked), or its key revoked: a fresh answer would say so,
and "every later answer to every role says so" covers the redraw too. So the redraw
keeps the scan's stored verdict for what its history showed, and lays the code's
current trust decision, flag and status over it with the very functions a fresh
answer is built with (:func:`genuine_outcome`, :func:`flag_finding`,
:func:`effective_status_of`, :func:`shape`). Nothing is written: no scan, no alert,
no flag; the code's history is not judged again (that is what a shared location does).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from authn.errors import SealtraceError
from detection import Finding
from verifier.db.models import Scan
from verifier.product_images import image_urls_for
from verifier.products import products_for
from verifier.schemas import VerifyOut
from verifier.verification.detect import genuine_outcome, untrusted_outcome
from verifier.verification.flags import flag_finding, flag_state
from verifier.verification.parse import parse_code
from verifier.verification.rules import effective_status_of, stored_reasons
from verifier.verification.service import Verifier
from verifier.verification.state import StateQuery, load_states, scan_facts
from verifier.verification.views import public_status, shape

STORED_WEIGHT = 1.0  # only the public answer is drawn: no score is shown


def _stored_judgement(row: Scan) -> list[Finding]:
    """A suspect scan's stored verdict, as the finding that keeps it suspect: its history
    is not judged again here, and a redraw is never better than what was answered."""
    if row.verdict != "suspect":
        return []
    reasons = stored_reasons(row.reasons)[1:]  # the trust decision's reason comes first
    message = "Judged suspect when it was scanned."
    return [Finding(reasons[0] if reasons else "SUSPECT", "critical", message, STORED_WEIGHT)]


def answer_now(session: Session, verifier: Verifier, row: Scan, *, now: datetime) -> VerifyOut:
    """The public answer of the anonymous scan ``row`` for a redraw at ``now``: the stored
    answer when nothing has changed, else the stored verdict under the code's current
    trust decision, flag and status. Raises ValueError for a damaged stored answer."""
    stored = VerifyOut.model_validate_json(row.answer)
    if row.verdict not in ("authentic", "suspect") or row.code is None:
        return stored  # the signature failed then; nothing since makes the code genuine
    try:
        code = parse_code(row.code)
    except SealtraceError:
        return stored
    # Only the code's row and its lot are needed: the history's verdict is the stored one.
    state = load_states(
        session, [StateQuery(code, since=now)], history_limit=verifier.history_limit
    )[code.identity()]
    state = replace(state, recent=())
    record = state.record
    decision = verifier.trust.current().evaluate(
        code, now=now, registered_at=record.registered_at if record else None, online=True
    )
    status = effective_status_of(record, state.lot_status, now)
    flag = flag_finding(record, None)
    if decision.outcome == "genuine" and not flag and public_status(status) == stored.status:
        return stored  # the common case: the page as it was, exactly
    if decision.outcome != "genuine":
        outcome = untrusted_outcome(decision)  # a key revoked since, say
    else:
        # Judged as a scan made now, so that a status set after the scan (locked,
        # destroyed) counts, as it would for a fresh answer.
        facts = replace(scan_facts(row), scanned_at=now, recorded_at=now)
        outcome = genuine_outcome(
            decision, code=code, state=state, scan=facts, status=status,
            extra=[*flag, *_stored_judgement(row)], settings=verifier.detection, now=now,
        )  # fmt: skip
    return shape(
        code=code, decision=decision, outcome=outcome, scanned_at=row.scanned_at,
        scan_id=row.scan_id, full=False, history=(),
        flagged=flag_state(record, None, now=now),
        product=products_for(session, [code.gtin]).get(code.gtin),
        image=image_urls_for(session, [code.gtin]).get(code.gtin),
    )  # fmt: skip
