"""Officers' handhelds: the offline bundle and the upload of scans made offline."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from authn.errors import PermissionDenied, SealtraceError, Unauthenticated
from http_api.deps import (
    CallerDep,
    NowDep,
    ReadSessionDep,
    Services,
    ServicesDep,
    TrustListDep,
)
from http_api.problems import TYPE_BASE, status_of
from keys.filestore import export_public_key
from mobile_api.bundle_service import BundleService
from mobile_api.web import MobileSettingsDep
from verifier.accounts import Caller, Role
from verifier.schemas import VerifyIn
from verifier.verification.recorder import judge_batch
from verifier.verification.service import ScanJob

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["officer"])

UPLOAD_CHUNK = 200  # scans judged in one transaction; bounds the locks one upload holds
BUNDLE_MEDIA = "application/vnd.sealtrace.offline-bundle+json"


async def get_officer(caller: CallerDep) -> Caller:
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("this needs a customs officer's bearer token")
    if caller.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("only customs officers and registry admins may do this")
    return caller


OfficerDep = Annotated[Caller, Depends(get_officer)]


async def bundle_service(request: Request) -> BundleService:
    service = request.app.state.bundle_service
    assert isinstance(service, BundleService)
    return service


BundleServiceDep = Annotated[BundleService, Depends(bundle_service)]


def _etag(version: str, service: BundleService) -> str:
    return f'W/"{version}-{service.key_id}"'


@router.get(
    "/offline-bundle",
    summary="The signed offline bundle (trust list, recalled lots, decommissioned-code filter)",
    responses={
        200: {"content": {BUNDLE_MEDIA: {}}, "description": "A full bundle or a delta."},
        304: {"description": "If-None-Match names the current version."},
    },
)
def offline_bundle(
    request: Request,
    officer: OfficerDep,
    services: ServicesDep,
    session: ReadSessionDep,
    trust: TrustListDep,
    now: NowDep,
    bundles: BundleServiceDep,
    since: Annotated[
        str | None, Query(max_length=64, description="Version held; answer a delta if possible.")
    ] = None,
) -> Response:
    """ETag is the version; ``?since=VERSION`` answers a delta (``X-Bundle-Kind: delta``)
    when one can be made, else the full bundle. See docs/mobile.md."""
    version = bundles.current_version(session, trust)
    etag = _etag(version, bundles)
    given = request.headers.get("if-none-match", "")
    if etag in [tag.strip() for tag in given.split(",")]:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "private"})
    held = services.trust.held
    assert held is not None  # TrustListDep raised 503 otherwise
    answer = bundles.answer(session, trust, held.data, now, since)
    headers = {
        "ETag": _etag(answer.version, bundles),
        "X-Bundle-Version": answer.version,
        "X-Bundle-Kind": answer.kind,
        "Cache-Control": "private, no-cache",
    }
    return Response(answer.data, media_type=BUNDLE_MEDIA, headers=headers)


@router.get(
    "/offline-bundle/key",
    summary="The public key that signs offline bundles (PEM), to pin on a handheld",
)
def offline_bundle_key(officer: OfficerDep, bundles: BundleServiceDep) -> Response:
    return Response(
        export_public_key(bundles.signer.public_key()), media_type="application/x-pem-file"
    )


class BatchIn(BaseModel):
    # Items are checked one by one (_prepared): one bad item, even one that is not an
    # object, fails alone and never its neighbours.
    scans: list[Any] = Field(
        min_length=1,
        description="Offline scans: each a VerifyIn (an object) with scan_id and scanned_at "
        "required.",
    )


def _item_error(index: int, scan_id: Any, status: int, slug: str, detail: str) -> dict[str, Any]:
    return {
        "index": index,
        "scan_id": scan_id if isinstance(scan_id, str) else None,
        "status": status,
        "error": {"type": TYPE_BASE + slug, "detail": detail},
    }


def _status_of(error: Exception) -> tuple[int, str]:
    """HTTP status and problem slug of an item's error, from the verifier's one mapping."""
    known = status_of(error)
    return (known[0], known[1]) if known is not None else (500, "internal")


def _prepared(
    services: Services, officer: Caller, index: int, item: Any
) -> ScanJob | dict[str, Any]:
    """The item as a job ready to judge, or its error."""
    if not isinstance(item, dict):
        return _item_error(index, None, 422, "validation", "each scan is a JSON object")
    scan_id = item.get("scan_id")
    if "scan_id" not in item or "scanned_at" not in item:
        return _item_error(index, scan_id, 422, "validation", "scan_id and scanned_at are needed")
    try:
        request = VerifyIn.model_validate({**item, "record": True})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return _item_error(index, scan_id, 422, "validation", f"{where}: {first.get('msg')}")
    try:
        return services.verifier.prepare(officer, request)
    except SealtraceError as exc:
        status, slug = _status_of(exc)
        return _item_error(index, scan_id, status, slug, str(exc))


def _judged(
    services: Services, chunk: list[tuple[int, ScanJob]]
) -> list[tuple[int, dict[str, Any]]]:
    """One transaction for a chunk of the upload; a database failure fails that chunk only."""
    try:
        results = judge_batch(services.engine, services.verifier, [job for _, job in chunk])
    except SQLAlchemyError as exc:
        log.error("a chunk of %d uploaded scans failed in the database: %s",
                  len(chunk), type(exc).__name__)  # fmt: skip
        return [
            (i, _item_error(i, job.scan.scan_id, 503, "unavailable", "database error; retry it"))
            for i, job in chunk
        ]
    judged: list[tuple[int, dict[str, Any]]] = []
    for (index, job), result in zip(chunk, results, strict=True):
        if isinstance(result, Exception):
            status, slug = _status_of(result)
            judged.append((index, _item_error(index, job.scan.scan_id, status, slug, str(result))))
        else:
            judged.append((index, {"index": index, "scan_id": job.scan.scan_id, "status": 200,
                                   "answer": result.to_json()}))  # fmt: skip
    return judged


@router.post(
    "/scans:batch",
    summary="Upload scans made offline; idempotent per scan_id, results per item",
)
def scans_batch(
    body: BatchIn, officer: OfficerDep, services: ServicesDep, mobile: MobileSettingsDep
) -> JSONResponse:
    """Each item is verified and recorded by the same service as POST /v1/verify, in the order
    given (``scanned_at`` may be out of order), in transactions of up to ``UPLOAD_CHUNK``
    items: an invalid item fails alone, a database failure fails its chunk. Replaying an item
    (same ``scan_id``) returns its stored answer and records nothing new."""
    if len(body.scans) > mobile.batch_max_items:
        return JSONResponse(
            {"type": TYPE_BASE + "payload-too-large", "title": "Payload too large",
             "status": 413, "detail": f"at most {mobile.batch_max_items} scans per batch"},
            status_code=413, media_type="application/problem+json",
        )  # fmt: skip
    results: dict[int, dict[str, Any]] = {}
    jobs: list[tuple[int, ScanJob]] = []
    for index, item in enumerate(body.scans):
        prepared = _prepared(services, officer, index, item)
        if isinstance(prepared, dict):
            results[index] = prepared
        else:
            jobs.append((index, prepared))
    for start in range(0, len(jobs), UPLOAD_CHUNK):
        results.update(_judged(services, jobs[start : start + UPLOAD_CHUNK]))
    ordered = [results[index] for index in range(len(body.scans))]
    failed = sum(1 for r in ordered if r["status"] != 200)
    return JSONResponse({"accepted": len(ordered) - failed, "failed": failed, "results": ordered})
