"""The officer's handheld web app under /officer: shell, service worker, sign-in, inspections.

The app itself is static (``static/``): it verifies offline in the page and
talks to the API the handheld already uses (``/v1/offline-bundle``,
``/v1/scans:batch``). What it needs on top lives here:

- ``POST /officer/api/sign-in``: name and console password -> a bearer token
  for this device. The password is checked by the console's own sign-in (same
  scrypt, same per-name lockout); the console session it opens is closed at
  once, because a handheld must keep working for days offline, past any
  console session. Officers and admins only.
- ``POST /officer/api/sign-out``: revokes the device's token.
- ``GET /officer/api/keys``: the registry key and the bundle key to pin.
- ``POST /officer/api/inspections:batch``: inspections made offline; one per
  scan from the handheld, so a replay returns the stored one (idempotent).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import Session, col, select

from authn.errors import InvalidInput, NotFound, PermissionDenied, SealtraceError, Unauthenticated
from authn.signing import raw_public_key
from http_api.deps import NowDep, ServicesDep, SessionDep, TrustListDep
from http_api.problems import TYPE_BASE, status_of
from keys.canonical import b64
from keys.filestore import load_public_key
from keys.trust import TrustList
from mobile_api.pages import CONTENT_SECURITY_POLICY
from mobile_api.routes_officer import BundleServiceDep, OfficerDep
from verifier import accounts, console_auth, inspections
from verifier.accounts import Caller, Role
from verifier.db.models import Inspection, Scan

STATIC = Path(__file__).parent / "static"
MAX_INSPECTIONS = 500

# The project's policy, widened only where the app needs it: the decoder is WebAssembly
# ('wasm-unsafe-eval', no eval of JavaScript) and the shell is cached by a service worker.
APP_CSP = (
    CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
    + "; worker-src 'self'; manifest-src 'self'"
)

router = APIRouter(tags=["officer app"])


def app_headers(*, cache: str = "no-cache") -> dict[str, str]:
    return {
        "Content-Security-Policy": APP_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "geolocation=(self), camera=(self), microphone=()",
        "Cache-Control": cache,
    }


def _file(name: str, media_type: str, **extra: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=media_type, headers={**app_headers(), **extra})


@router.get("/officer", include_in_schema=False)
def shell_redirect() -> RedirectResponse:
    # The service worker's scope is /officer/: only a page under it works offline.
    return RedirectResponse("/officer/", status_code=308)


@router.get("/officer/", include_in_schema=False)
def shell() -> FileResponse:
    return _file("index.html", "text/html; charset=utf-8")


@router.get("/officer/help", include_in_schema=False)
def help_page() -> FileResponse:
    return _file("help.html", "text/html; charset=utf-8")


@router.get("/officer/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    # A worker's CSP is the one its script is served with.
    return _file("sw.js", "text/javascript", **{"Service-Worker-Allowed": "/officer/"})


@router.get("/officer/manifest.webmanifest", include_in_schema=False)
def manifest() -> FileResponse:
    return _file("manifest.webmanifest", "application/manifest+json")


@router.get("/officer/static/{name:path}", include_in_schema=False)
def static_file(name: str) -> Response:
    path = (STATIC / name).resolve()
    if not path.is_file() or STATIC.resolve() not in path.parents:
        return Response(status_code=404, headers=app_headers())
    types = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
             ".wasm": "application/wasm", ".png": "image/png", ".svg": "image/svg+xml",
             ".html": "text/html; charset=utf-8"}  # fmt: skip
    return FileResponse(path, media_type=types.get(path.suffix, "application/octet-stream"),
                        headers=app_headers())  # fmt: skip


class SignInIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


def _problem(status: int, slug: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": TYPE_BASE + slug, "status": status, "detail": detail},
        status_code=status, media_type="application/problem+json",
    )  # fmt: skip


def _keys(services: ServicesDep, bundles: BundleServiceDep) -> dict[str, str]:
    path = services.settings.registry_public_key
    if path is None:
        raise NotFound("this service has no registry public key configured")
    return {
        "registry_key": b64(raw_public_key(load_public_key(path))),
        "bundle_key": b64(raw_public_key(bundles.signer.public_key())),
    }


@router.post("/officer/api/sign-in", summary="Officer app: name + password -> a device token")
def sign_in(
    body: SignInIn,
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    bundles: BundleServiceDep,
    now: NowDep,
    content_type: Annotated[str, Header()] = "",
) -> JSONResponse:
    """Officers and admins only; the same answer for a wrong name, password or role, so
    that the form tells nobody which accounts exist or what they are."""
    if not content_type.startswith("application/json"):
        # A cross-site form cannot send JSON without a CORS preflight, which nothing allows.
        return _problem(415, "unsupported-media-type", "send the sign-in as application/json")
    client = request.client.host if request.client else "unknown"
    signed = console_auth.sign_in(session, body.name, body.password, client=client, now=now)
    assert signed.cookie is not None
    console_auth.sign_out(session, signed.cookie)  # the device gets a token, not a session
    if signed.caller.role not in (Role.OFFICER, Role.ADMIN):
        raise Unauthenticated("wrong name or password")
    pepper = services.settings.token_pepper.get_secret_value().encode("utf-8")
    token = accounts.issue_token(session, body.name, pepper=pepper, now=now)
    return JSONResponse(
        {"token": token, "name": signed.caller.name, "role": signed.caller.role.value,
         **_keys(services, bundles)},
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


@router.post("/officer/api/sign-out", status_code=204, summary="Officer app: revoke this token")
def sign_out(
    officer: OfficerDep,
    session: SessionDep,
    now: NowDep,
    authorization: Annotated[str, Header()] = "",
) -> Response:
    token = authorization.removeprefix("Bearer ").strip()
    accounts.revoke(session, token, now=now)
    return Response(status_code=204)


@router.get("/officer/api/keys", summary="Officer app: the registry and bundle keys to pin")
def pinned_keys(officer: OfficerDep, services: ServicesDep, bundles: BundleServiceDep) -> Any:
    return _keys(services, bundles)


class OfflineInspection(BaseModel):
    scan_id: UUID
    outcome: inspections.InspectionOutcome
    quantity: int | None = Field(default=None, ge=1, le=10_000_000)
    notes: str | None = Field(default=None, max_length=4000)
    inspected_at: AwareDatetime


class InspectionBatchIn(BaseModel):
    inspections: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_INSPECTIONS)


def _one_inspection(
    session: Session, officer: Caller, trust: TrustList, item: dict[str, Any], now: datetime
) -> dict[str, Any]:
    try:
        body = OfflineInspection.model_validate(item)
    except ValueError as exc:
        raise InvalidInput(str(exc).splitlines()[0]) from None
    scan_id = str(body.scan_id)
    scan = session.exec(select(Scan).where(Scan.scan_id == scan_id)).first()
    if scan is None:
        raise NotFound("no such scan: sync the scan first")
    if scan.account_id != officer.account_id and officer.role is not Role.ADMIN:
        raise PermissionDenied("this scan was recorded by another account")
    stored = session.exec(
        select(Inspection)
        .where(Inspection.scan_id == scan_id, Inspection.account_id == officer.account_id)
        .order_by(col(Inspection.id))
    ).first()
    if stored is None:
        # The officer's time, kept between the scan and the upload.
        at = min(max(body.inspected_at, scan.scanned_at), now)
        request = inspections.InspectionIn(
            outcome=body.outcome, quantity=body.quantity, notes=body.notes
        )
        return inspections.record_inspection(
            session, officer, trust, scan_id, request, now=at
        ).model_dump(mode="json")
    # The stored answer, in the one shape the inspections service gives.
    return inspections._out(stored, officer.name).model_dump(mode="json")


@router.post(
    "/officer/api/inspections:batch",
    summary="Officer app: upload inspections made offline; one per scan, replays are idempotent",
)
def inspections_batch(
    body: InspectionBatchIn,
    officer: OfficerDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> JSONResponse:
    results: list[dict[str, Any]] = []
    for index, item in enumerate(body.inspections):
        scan_id = item.get("scan_id") if isinstance(item, dict) else None
        try:
            answer = _one_inspection(session, officer, trust, item, now)
        except SealtraceError as exc:
            session.rollback()
            known = status_of(exc)
            status, slug = (known[0], known[1]) if known else (500, "internal")
            results.append({"index": index, "scan_id": scan_id, "status": status,
                            "error": {"type": TYPE_BASE + slug, "detail": str(exc)}})  # fmt: skip
            continue
        results.append({"index": index, "scan_id": scan_id, "status": 200, "inspection": answer})
    failed = sum(1 for r in results if r["status"] != 200)
    return JSONResponse({"accepted": len(results) - failed, "failed": failed, "results": results})
