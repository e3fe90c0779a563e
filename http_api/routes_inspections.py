"""Officers' inspection outcomes and seizure reports (JSON and printable HTML)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, JSONResponse

from http_api.deps import CallerDep, NowDep, ServicesDep, SessionDep, TrustListDep
from verifier import evidence, inspections
from verifier.inspections import InspectionIn, InspectionOut, SeizureReport

router = APIRouter(prefix="/v1", tags=["inspections"])

ScanIdPath = Annotated[str, Path(min_length=1, max_length=36)]
# Ids are 32-bit INTEGER columns: a larger number is simply not an id, never a 500.
SeizureId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("/scans/{scan_id}/inspection", response_model=InspectionOut, status_code=201)
def record_inspection(
    scan_id: ScanIdPath,
    body: InspectionIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> InspectionOut:
    """Record what an officer did with a scanned unit: released, detained or seized
    (officers and admins). Emits an EPCIS inspecting event."""
    return inspections.record_inspection(session, caller, trust, scan_id, body, now=now)


@router.get("/seizures/{seizure_id}", response_model=SeizureReport)
def get_seizure(
    seizure_id: SeizureId, caller: CallerDep, session: SessionDep, trust: TrustListDep, now: NowDep
) -> SeizureReport:
    """A seizure as data (officers, admins, and the brand owning the product)."""
    return inspections.get_seizure(session, caller, trust, seizure_id, now=now)


@router.get("/seizures/{seizure_id}/report", response_class=HTMLResponse)
def seizure_report(
    seizure_id: SeizureId, caller: CallerDep, session: SessionDep, trust: TrustListDep, now: NowDep
) -> HTMLResponse:
    """The seizure as a printable page: self-contained HTML with print CSS."""
    report = inspections.get_seizure(session, caller, trust, seizure_id, now=now)
    return HTMLResponse(
        inspections.render_seizure_html(report),
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


@router.get("/seizures/{seizure_id}/evidence")
def seizure_evidence(
    seizure_id: SeizureId,
    caller: CallerDep,
    services: ServicesDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> JSONResponse:
    """The seizure report with its log entries and inclusion proofs against a signed
    checkpoint, checkable offline with ``python -m transparency.checker`` (same roles)."""
    bundle = evidence.seizure_evidence(session, caller, trust, services.log, seizure_id, now=now)
    return JSONResponse(bundle, headers={"Cache-Control": "no-store"})
