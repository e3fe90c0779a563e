"""Photo decode (POST /v1/decode) and the scanner page (GET and POST /scan)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartException

from authn.errors import InvalidInput, PayloadTooLarge
from http_api.deps import CallerDep, ServicesDep, SessionDep
from http_api.problems import problem
from mobile_api.decode import (
    Decoded,
    DecoderBusy,
    DecoderFailed,
    ImageUnusable,
    UnsupportedImage,
    check_header,
)
from mobile_api.decode_pool import DecodePool
from mobile_api.own_scan import shown_answer
from mobile_api.page_view import brand_contact
from mobile_api.pages import NO_CODE, NOT_A_PRODUCT_CODE, scan_result, scanner_page
from mobile_api.settings import MobileSettings
from mobile_api.web import (
    MobileSettingsDep,
    device_id_of,
    html_response,
    new_session_cookie,
    page_of,
    session_cookie,
    set_session_cookie,
)
from verifier.accounts import Caller, Role
from verifier.schemas import VerifyIn, VerifyOut

router = APIRouter(tags=["scan"])


async def _upload(request: Request, settings: MobileSettings) -> bytes | str:
    """The photo's bytes, or the text the camera read (the form field ``code``)."""
    body = await request.body()
    if len(body) > settings.decode_body_limit:
        raise PayloadTooLarge(f"a photo is at most {settings.decode_body_limit} bytes")
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return body  # a raw image body (Content-Type image/*) is accepted as well
    # Starlette's form parser (python-multipart) reads the body already cached above.
    try:
        async with request.form(max_files=1, max_fields=10) as form:
            code = form.get("code")
            if isinstance(code, str) and code:
                return code[:2048]
            upload = form.get("photo")
            if not isinstance(upload, StarletteUploadFile):
                raise InvalidInput("no file named 'photo' in the upload")
            return await upload.read()
    except MultiPartException as exc:
        raise InvalidInput(f"the multipart upload is malformed: {exc.message}") from None


async def _photo(request: Request, settings: MobileSettings) -> bytes:
    upload = await _upload(request, settings)
    if isinstance(upload, str):
        raise InvalidInput("no file named 'photo' in the upload")
    return upload


async def _decode(request: Request, data: bytes, mobile: MobileSettings) -> list[Decoded]:
    """Decode in a decode process (waited on from a thread), holding one decode slot."""
    # Too large is told before a slot is taken: the header costs microseconds.
    check_header(data, max_pixels=mobile.decode_max_pixels, max_bytes=mobile.decode_max_bytes)
    pool = request.app.state.decode_pool
    assert isinstance(pool, DecodePool)
    with request.app.state.decode_gate.slot():
        return await run_in_threadpool(
            pool.decode,
            data,
            max_pixels=mobile.decode_max_pixels,
            max_bytes=mobile.decode_max_bytes,
        )


def _verify_decoded(
    services: Any, session: Any, caller: Caller, codes: list[Decoded], device_id: str | None
) -> tuple[Decoded, VerifyOut]:
    """Verify the first decoded symbol that holds a product code."""
    last_error: InvalidInput | None = None
    for decoded in codes:
        try:
            answer = services.verifier.verify(
                session, caller, VerifyIn(code=decoded.scan[:2048], device_id=device_id)
            )
        except InvalidInput as exc:
            last_error = exc
            continue
        return decoded, answer
    raise ImageUnusable(f"the code in the image is not a product code ({last_error})")


def _device(request: Request, caller: Caller) -> tuple[str | None, str | None]:
    """(device id, new cookie to set) for anonymous browsers; officers name their own devices."""
    if caller.role is not Role.ANONYMOUS:
        return None, None
    cookie = session_cookie(request)
    if cookie is not None:
        return device_id_of(cookie), None
    fresh = new_session_cookie()
    return device_id_of(fresh), fresh


@router.post(
    "/v1/decode",
    summary="Decode a photo of a label (QR or DataMatrix) and verify the code",
    responses={
        413: {"description": "Over 8 MB, or more pixels or decoded bytes than the caps."},
        415: {"description": "Not a JPEG, PNG or WebP file (by its bytes)."},
        422: {"description": "No code found, or the image is unusable."},
        503: {
            "description": "Every decode slot is busy, or the decoder stopped on this photo "
            "(Retry-After)."
        },
    },
)
async def decode(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    caller: CallerDep,
    mobile: MobileSettingsDep,
) -> Response:
    """multipart/form-data with a ``photo`` file (or a raw image body). Answers the decoded
    ``text``, its ``format`` and ``verify``: the POST /v1/verify answer for the caller's role
    (the scan is recorded)."""
    try:
        data = await _photo(request, mobile)
        codes = await _decode(request, data, mobile)
        device_id, fresh = _device(request, caller)
        decoded, answer = await run_in_threadpool(
            _verify_decoded, services, session, caller, codes, device_id
        )
    except UnsupportedImage as exc:
        return problem(415, "unsupported-media-type", "Unsupported image type", str(exc))
    except ImageUnusable as exc:
        return problem(422, "no-code-found", "No code found", str(exc))
    response = JSONResponse(
        {"text": decoded.text, "format": decoded.format, "verify": answer.to_json()},
        headers={"Cache-Control": "no-store"},
    )
    if fresh is not None:
        set_session_cookie(response, request, fresh)
    return response


@router.get("/scan", summary="The scanner page (camera or photo upload)", include_in_schema=True)
def scan_page(
    request: Request, services: ServicesDep, session: SessionDep, mobile: MobileSettingsDep
) -> Response:
    """A blank scanner; with ``shown`` (the language switcher of a result), the result this
    browser was just shown, drawn again in the page's language without a new scan."""
    page = page_of(request)
    window = timedelta(minutes=mobile.location_window_minutes)
    answer = shown_answer(session, services.verifier, request, window, services.clock())
    if answer is None:
        return html_response(scanner_page(page), lang=page.lang)
    page = replace(page, shown=answer.scan_id)
    result = scan_result(page, answer, brand_contact(services, answer.product.gtin))
    return html_response(scanner_page(page, result), lang=page.lang)


@router.post("/scan", summary="The scanner page's form without JavaScript", include_in_schema=False)
async def scan_form(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    caller: CallerDep,
    mobile: MobileSettingsDep,
) -> Response:
    """A photo (``photo``) or the camera's text (``code``): the scanner page with the result,
    which scan.js shows in place when JavaScript is on."""
    page = page_of(request)
    device_id, fresh = _device(request, caller)
    from_camera = False
    try:
        upload = await _upload(request, mobile)
        if isinstance(upload, str):
            from_camera = True
            codes = [Decoded(text=upload, scan=upload, format="camera")]
        else:
            codes = await _decode(request, upload, mobile)
        _decoded, answer = await run_in_threadpool(
            _verify_decoded, services, session, caller, codes, device_id
        )
    except (DecoderBusy, DecoderFailed):
        busy = html_response(scanner_page(page, error=NO_CODE), status_code=503, lang=page.lang)
        busy.headers["Retry-After"] = "5"
        return busy
    except InvalidInput as exc:
        status = 415 if isinstance(exc, UnsupportedImage) else 422
        if isinstance(exc, PayloadTooLarge):
            status = 413
        error = NOT_A_PRODUCT_CODE if from_camera else NO_CODE
        return html_response(scanner_page(page, error=error), status_code=status, lang=page.lang)
    if caller.role is Role.ANONYMOUS and answer.scan_id is not None:
        # The language links name this scan, so switching shows this result again.
        page = replace(page, shown=answer.scan_id)
    contact = brand_contact(services, answer.product.gtin)
    response = html_response(scanner_page(page, scan_result(page, answer, contact)), lang=page.lang)
    if fresh is not None:
        set_session_cookie(response, request, fresh)
    return response
