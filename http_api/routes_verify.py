"""POST /v1/verify and /v1/verify-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from http_api.deps import CallerDep, ServicesDep
from verifier.metrics import VERDICTS
from verifier.schemas import VerifyIn, VerifyOut

router = APIRouter(prefix="/v1", tags=["verify"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The code is not valid GS1 syntax (problem+json)."},
    401: {"description": "A bearer token was given but is not valid."},
    403: {"description": "record=false by a caller who is not an officer."},
    409: {"description": "scan_id already used for another scan."},
    413: {"description": "Body over 64 KiB."},
    422: {"description": "The JSON body does not match the schema (problem+json)."},
    503: {"description": "No trust list held yet, or the database is down."},
}

AUTHENTIC_EXAMPLE = {
    "verdict": "authentic",
    "status": "active",
    "reasons": [
        {"code": "GENUINE", "message": "This is a genuine product, registered by its brand."}
    ],
    "product": {
        "gtin": "09506000134352",
        "serial": "7F3KQ9XW2M8R4T",
        "lot": "L2611",
        "expiry": "2027-12-31",
        "brand": "Example Pharma",
    },
    "scan_id": "3f1c6a52-1d0b-4f7e-9a51-2d4a8c0e7b11",
    "scanned_at": "2026-11-20T09:30:00Z",
}
OFFICER_EXAMPLE = {
    **AUTHENTIC_EXAMPLE,
    "verdict": "suspect",
    "status": "sold",
    "reasons": [
        {
            "code": "SCANNED_AFTER_DECOMMISSION",
            "message": "An officer found this unit in DE at 2026-11-20 09:14 UTC, after it was "
            "sold to a consumer on 2026-11-19 16:00 UTC.",
        }
    ],
    "history": [
        {
            "scanned_at": "2026-11-19T16:02:11Z",
            "country": "FR",
            "location": {"lat": 48.9, "lon": 2.4},
            "role": "anonymous",
            "device_id": None,
            "verdict": "authentic",
        }
    ],
    "risk": {
        "score": 40,
        "findings": [
            {"code": "TRUST_OK", "message": "...", "severity": "info", "score": 0},
            {
                "code": "SCANNED_AFTER_DECOMMISSION",
                "message": "...",
                "severity": "critical",
                "score": 40,
                "related_scan_ids": ["0b4f1c52-6e44-4e0e-9a57-1d9c4a3f2b10"],
            },
        ],
    },
    "right_holder": {
        "brand_id": "example-pharma",
        "name": "Example Pharma",
        "contact": {"email": "security@example.com"},
    },
}


@router.post(
    "/verify",
    response_model=VerifyOut,
    summary="Verify a scanned code and record the scan",
    responses={
        **PROBLEMS,
        200: {
            "description": "The verdict; the sections shown depend on the caller's role.",
            "content": {
                "application/json": {
                    "examples": {
                        "consumer": {"summary": "Anonymous consumer", "value": AUTHENTIC_EXAMPLE},
                        "officer": {"summary": "Customs officer", "value": OFFICER_EXAMPLE},
                    }
                }
            },
        },
    },
)
async def verify(body: VerifyIn, caller: CallerDep, services: ServicesDep) -> Response:
    """One endpoint for every caller: consumers get the verdict, product facts and one plain
    sentence; officers, admins and the owning brand also get every reason, the recent history,
    the risk score and the right holder's contact."""
    # The scan joins the worker's next group commit; no thread or session is held meanwhile.
    answer = await services.recorder.judge(services.verifier.prepare(caller, body))
    VERDICTS.labels(answer.verdict).inc()
    return Response(answer.to_json_bytes(), media_type="application/json")


@router.post(
    "/verify-only",
    response_model=VerifyOut,
    summary="Signature and trust list only; records nothing",
    responses=PROBLEMS,
)
async def verify_only(body: VerifyIn, caller: CallerDep, services: ServicesDep) -> Response:
    """The comparison point for benchmarks: no registry, no history, no write. ``status`` is
    ``unknown`` and a genuine signature gives ``authentic``. Pure CPU (parse, Ed25519, the
    trust list), so it runs on the event loop like ``/v1/verify`` and without a thread hop."""
    answer = services.verifier.verify_only(caller, body)
    return Response(answer.to_json_bytes(), media_type="application/json")
