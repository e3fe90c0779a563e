"""Product master data per GTIN: the owning brand (and admins) write, officers read too."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from http_api.deps import CallerDep, NowDep, ServicesDep, SessionDep, TrustListDep
from verifier import product_images, products

router = APIRouter(prefix="/v1", tags=["products"])
IMPORT_PATH = "/v1/products:import"
IMAGE_PATH = re.compile(r"/v1/products/[^/]+/image")
# The URL names the content: a changed image has a new URL, so this one never goes stale.
IMAGE_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}

GtinPath = Annotated[str, Path(pattern=r"^\d{14}$", description="14-digit GTIN")]


@router.put("/products/{gtin}", response_model=products.ProductOut)
def put_product(
    gtin: GtinPath,
    body: products.ProductIn,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    now: NowDep,
) -> products.ProductOut:
    """Create or replace a GTIN's product data (owning brand, admin)."""
    return products.put_product(session, caller, trust, gtin, body, now=now)


@router.get("/products/{gtin}", response_model=products.ProductOut)
def get_product(
    gtin: GtinPath, caller: CallerDep, session: SessionDep, trust: TrustListDep
) -> products.ProductOut:
    """A GTIN's product data (owning brand, officer, admin; another brand gets 404)."""
    return products.get_product(session, caller, trust, gtin)


@router.delete("/products/{gtin}", status_code=204)
def delete_product(
    gtin: GtinPath, caller: CallerDep, session: SessionDep, trust: TrustListDep, now: NowDep
) -> Response:
    """Remove a GTIN's product data; pages then show the GTIN alone again."""
    products.delete_product(session, caller, trust, gtin, now=now)
    return Response(status_code=204)


@router.get("/products", response_model=list[products.ProductOut])
def list_products(
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[products.ProductOut]:
    """Products by GTIN: a brand account its own, officers and admins all."""
    return products.list_products(session, caller, trust, limit=limit)


@router.post(
    "/products:import",
    response_model=products.ImportOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_products(
    request: Request, caller: CallerDep, session: SessionDep, trust: TrustListDep, now: NowDep
) -> products.ImportOut:
    """Up to 10,000 products from a JSON list or a CSV file (header: gtin and the field names);
    one result per item, a bad item does not fail its neighbours. Idempotent."""
    items = products.parse_import(await request.body(), request.headers.get("content-type", ""))
    # The database work runs off the event loop, as every sync route's does.
    return await run_in_threadpool(products.import_products, session, caller, trust, items, now=now)


@router.put(
    "/products/{gtin}/image",
    response_model=product_images.ImageOut,
    responses={
        413: {"description": "Over the byte or pixel cap."},
        415: {"description": "Not a PNG, JPEG or WebP file (by its bytes)."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                m: {"schema": {"type": "string", "format": "binary"}}
                for m in ("image/png", "image/jpeg", "image/webp")
            },
        }
    },
)
async def put_image(
    gtin: GtinPath,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    trust: TrustListDep,
    services: ServicesDep,
    now: NowDep,
) -> product_images.ImageOut:
    """Upload the pack's picture as the request body (owning brand, admin). It is checked,
    re-encoded without metadata and served at the answer's ``url``, for anyone."""
    data = await request.body()
    settings = services.settings
    return await run_in_threadpool(
        product_images.put_image, session, caller, trust, gtin, data, now=now,
        max_bytes=settings.product_image_max_bytes, max_pixels=settings.product_image_max_pixels,
    )  # fmt: skip


@router.get("/products/{gtin}/image", response_model=product_images.ImageOut)
def get_image(
    gtin: GtinPath, caller: CallerDep, session: SessionDep, trust: TrustListDep
) -> product_images.ImageOut:
    """Where the GTIN's uploaded image is served, and its size (owning brand, officer, admin)."""
    return product_images.get_image_info(session, caller, trust, gtin)


@router.delete("/products/{gtin}/image", status_code=204)
def delete_image(
    gtin: GtinPath, caller: CallerDep, session: SessionDep, trust: TrustListDep, now: NowDep
) -> Response:
    """Remove the uploaded image (owning brand, admin)."""
    product_images.delete_image(session, caller, trust, gtin, now=now)
    return Response(status_code=204)


@router.get(
    "/product-images/{name}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}},
)
def public_image(
    name: Annotated[str, Path(max_length=80, description="<sha256>.<png|jpg|webp>")],
    request: Request,
    session: SessionDep,
) -> Response:
    """An uploaded product image, for anyone (rate limited as every anonymous route)."""
    data, media_type, digest = product_images.public_image(session, name)
    etag = f'"{digest}"'
    headers = {**IMAGE_HEADERS, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)
