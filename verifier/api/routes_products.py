"""Product master data per GTIN: the owning brand (and admins) write, officers read too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from verifier import products
from verifier.api.deps import CallerDep, NowDep, SessionDep, TrustListDep

router = APIRouter(prefix="/v1", tags=["products"])
IMPORT_PATH = "/v1/products:import"

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
