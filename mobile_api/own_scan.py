"""A browser's own recent scan, read back: for the report, its receipt, and
drawing the same answer again in another language.

A consumer's browser is known only by its session cookie (``st_session``, HttpOnly); the
scan stores a hash of it as its device id. A scan id is honoured only for the browser
whose cookie recorded it, only for an anonymous scan and only within a window: any other
caller gets the same :class:`NotFound`, whether the scan exists or not, so a guessed or
copied id reads nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import Request
from sqlmodel import Session

from authn.errors import NotFound
from mobile_api.pages import SHOWN
from mobile_api.web import device_id_of, session_cookie
from verifier.db.models import Scan
from verifier.schemas import VerifyOut
from verifier.statuses import own_recent_scan as scan_of_device
from verifier.verification.redraw import answer_now
from verifier.verification.service import Verifier


def own_recent_scan(
    session: Session, request: Request, scan_id: str, window: timedelta, now: datetime
) -> Scan:
    """The scan ``scan_id`` if this browser recorded it within ``window``, else NotFound."""
    cookie = session_cookie(request)
    if cookie is None:
        raise NotFound("no such scan of this browser session")
    return scan_of_device(session, scan_id, device_id_of(cookie), window=window, now=now)


def shown_answer(
    session: Session,
    verifier: Verifier,
    request: Request,
    window: timedelta,
    now: datetime,
    *,
    code: tuple[str, str] | None = None,
) -> VerifyOut | None:
    """The answer of the scan named by the ``shown`` parameter (and, on a label's page, of
    that label's ``code``), to draw again without recording a scan: its stored verdict,
    with the code's flag and status as they are now (:func:`answer_now`); None when there
    is no such reference, it is not this browser's or it is old."""
    scan_id = request.query_params.get(SHOWN)
    if not scan_id:
        return None
    try:
        scan = own_recent_scan(session, request, scan_id, window, now)
    except NotFound:
        return None
    if code is not None and (scan.gtin, scan.serial) != code:
        return None
    try:
        return answer_now(session, verifier, scan, now=now)
    except ValueError:  # a damaged stored answer: record afresh rather than fail the page
        return None
