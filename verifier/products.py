"""Product master data: what a brand says about each of its GTINs (name, strength, pack size,
image, markets), so that the people who judge a code can tell whether it belongs to the pack
in their hand.

The API speaks the GS1 Web Vocabulary's terms (``productName``, ``brandName``,
``productDescription``, ``netContent``, ``image``, ``targetMarket``); the strength has no GS1
term and takes schema.org's ``availableStrength`` (as text). Access follows the registry's
rules: the owning brand and admins write, officers read too, another brand is told "not
found". Verification shows the product only for codes the trust list vouches for
(see :func:`verifier.verification.views.product_of`).
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, ValidationError
from sqlalchemy import Select, Table
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from authn.errors import InvalidInput, NotFound, PermissionDenied, SealtraceError, Unauthenticated
from epcis.documents import product_attributes
from keys.trust import TrustList
from storage.pipeline import Step, any_of
from verifier.accounts import Caller, Role
from verifier.db.models import AuditEvent, Product
from verifier.producer import ItemError, error_status
from verifier.product_images import image_urls_for
from verifier.registry import account_id_of, caller_owns, gtin14, require_reader, require_writer
from verifier.schemas import Country, Strict
from verifier.text import Line, Text

MAX_ITEMS = 10_000
PRODUCT_SET, PRODUCT_DELETE = "product.set", "product.delete"


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL")
    return value


HttpsUrl = Annotated[Line, AfterValidator(_https_url)]


class ProductIn(Strict):
    """A product as its producer describes it (GS1 Web Vocabulary names)."""

    productName: Line = Field(
        min_length=1, max_length=200, description="gs1:productName, as on the pack.",
        examples=["Paracetamol 500 mg tablets"],
    )  # fmt: skip
    brandName: Line | None = Field(default=None, min_length=1, max_length=100,
                                   description="gs1:brandName, as on the pack.")  # fmt: skip
    productDescription: Text | None = Field(default=None, max_length=1000,
                                            description="gs1:productDescription.")  # fmt: skip
    availableStrength: Line | None = Field(
        default=None, max_length=100, description="Strength as text (schema.org), e.g. 500 mg."
    )
    netContent: Line | None = Field(
        default=None, max_length=100, description="gs1:netContent as text: the pack size."
    )
    image: HttpsUrl | None = Field(
        default=None, max_length=500, description="gs1:image: an https URL of the pack's picture."
    )
    targetMarket: list[Country] = Field(
        default_factory=list, max_length=300, description="gs1:targetMarket countries."
    )


class ProductOut(ProductIn):
    gtin: str
    brand_id: str = Field(description="The brand owning the GTIN's prefix.")
    updated_at: datetime
    uploadedImage: str | None = Field(
        default=None, description="URL of the uploaded image (PUT /v1/products/{gtin}/image)."
    )


class ImportItemOut(BaseModel):
    gtin: str
    changed: bool = False
    error: ItemError | None = None


class ImportOut(BaseModel):
    changed: int
    unchanged: int
    failed: int
    results: list[ImportItemOut]


def out(row: Product, image: str | None = None) -> ProductOut:
    return ProductOut(
        gtin=row.gtin, brand_id=row.brand_id, updated_at=row.updated_at, uploadedImage=image,
        productName=row.product_name, brandName=row.brand_name,
        productDescription=row.description, availableStrength=row.strength,
        netContent=row.net_content, image=row.image_url,
        targetMarket=[m for m in row.target_market.split(",") if m],
    )  # fmt: skip


def _row(session: Session, gtin: str) -> Product | None:
    return session.exec(select(Product).where(Product.gtin == gtin)).first()


def _owner(caller: Caller, trust: TrustList, gtin: str) -> str:
    """The brand a product row belongs to: the caller's own, or (admins) the GTIN's owner."""
    require_writer(caller, trust, gtin)
    brand = trust.brand_owning(gtin)
    if brand is None:
        raise NotFound("no brand in the trust list owns this GTIN")
    return brand.id


def _store(
    session: Session, caller: Caller, trust: TrustList, gtin: str, body: ProductIn, now: datetime
) -> tuple[Product, bool]:
    """Write one product (no commit); False when it already said exactly this."""
    brand_id = _owner(caller, trust, gtin)
    values = {
        "brand_id": brand_id, "product_name": body.productName, "brand_name": body.brandName,
        "description": body.productDescription, "strength": body.availableStrength,
        "net_content": body.netContent, "image_url": body.image,
        "target_market": ",".join(sorted(set(body.targetMarket))),
    }  # fmt: skip
    row = _row(session, gtin)
    before = row.product_name if row is not None else None
    if row is not None and all(getattr(row, k) == v for k, v in values.items()):
        return row, False
    if row is None:
        row = Product(gtin=gtin, brand_id=brand_id, product_name=body.productName, updated_at=now)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at, row.updated_by = now, account_id_of(caller)
    session.add(row)
    session.add(
        AuditEvent(
            at=now, account_id=row.updated_by, action=PRODUCT_SET, gtin=gtin, before=before,
            after=body.productName,
        )
    )  # fmt: skip
    return row, True


def put_product(
    session: Session, caller: Caller, trust: TrustList, gtin: str, body: ProductIn, *,
    now: datetime,
) -> ProductOut:  # fmt: skip
    """Create or replace the product of ``gtin`` (owning brand, admin)."""
    row, _ = _store(session, caller, trust, gtin14(gtin), body, now)
    session.commit()
    session.refresh(row)
    return out(row, image_urls_for(session, [gtin]).get(gtin))


def get_product(session: Session, caller: Caller, trust: TrustList, gtin: str) -> ProductOut:
    """The product of ``gtin`` (owning brand, officers, admins; another brand: not found)."""
    gtin = gtin14(gtin)
    require_reader(caller, trust, gtin)
    row = _row(session, gtin)
    if row is None:
        raise NotFound("no product data for this GTIN")
    return out(row, image_urls_for(session, [gtin]).get(gtin))


def delete_product(
    session: Session, caller: Caller, trust: TrustList, gtin: str, *, now: datetime
) -> None:
    gtin = gtin14(gtin)
    require_writer(caller, trust, gtin)
    row = _row(session, gtin)
    if row is None:
        raise NotFound("no product data for this GTIN")
    session.add(
        AuditEvent(
            at=now, account_id=account_id_of(caller), action=PRODUCT_DELETE, gtin=gtin,
            before=row.product_name,
        )
    )  # fmt: skip
    session.delete(row)
    session.commit()


def list_products(
    session: Session, caller: Caller, trust: TrustList, *, limit: int = 1000
) -> list[ProductOut]:
    """Products by GTIN: a brand its own, officers and admins every brand's."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("this needs a bearer token")
    query = select(Product).order_by(col(Product.gtin)).limit(limit)
    if caller.role is Role.BRAND:
        query = query.where(Product.brand_id == caller.brand_id)
    elif caller.role not in (Role.OFFICER, Role.ADMIN):
        raise PermissionDenied("products are for officers, admins and the owning brand")
    rows = session.exec(query).all()
    images = image_urls_for(session, (r.gtin for r in rows))
    # A prefix moved to another brand since the row was written is no longer this brand's.
    return [
        out(r, images.get(r.gtin))
        for r in rows
        if caller.role is not Role.BRAND or caller_owns(caller, trust, r.gtin)
    ]


# Bulk import --------------------------------------------------------------------------------


def parse_import(data: bytes, content_type: str) -> list[dict[str, Any]]:
    """The items of an import file: a JSON list (or ``{"products": [...]}``) of objects with
    ``gtin`` and the product's fields, or a CSV with a header row of the same names
    (``targetMarket`` as countries separated by spaces, commas or semicolons)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the import file is not UTF-8") from exc
    if content_type.split(";")[0].strip().lower() == "text/csv":
        items: Any = [
            {k: v for k, v in row.items() if k and v not in (None, "")}
            for row in csv.DictReader(io.StringIO(text))
        ]
        for item in items:
            if "targetMarket" in item:
                item["targetMarket"] = item["targetMarket"].replace(",", " ").replace(";", " ")
                item["targetMarket"] = item["targetMarket"].split()
    else:
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"the import file is not JSON: {exc}") from exc
        if isinstance(items, dict):
            items = items.get("products")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput("give a list of products, each an object with a gtin")
    if not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidInput(f"give 1 to {MAX_ITEMS:,} products")
    return items


def import_products(
    session: Session, caller: Caller, trust: TrustList, items: Sequence[dict[str, Any]], *,
    now: datetime,
) -> ImportOut:  # fmt: skip
    """Store every item that is valid and the caller's; one result per item, one commit."""
    if caller.role is Role.ANONYMOUS:
        raise Unauthenticated("importing products needs a brand account's bearer token")
    results = [_import_one(session, caller, trust, item, now) for item in items]
    session.commit()
    changed = sum(r.changed for r in results)
    failed = sum(r.error is not None for r in results)
    return ImportOut(
        changed=changed, unchanged=len(results) - changed - failed, failed=failed,
        results=results,
    )  # fmt: skip


def _import_one(
    session: Session, caller: Caller, trust: TrustList, item: dict[str, Any], now: datetime
) -> ImportItemOut:
    fields = dict(item)
    gtin = str(fields.pop("gtin", ""))
    try:
        body = ProductIn.model_validate(fields)
        _, changed = _store(session, caller, trust, gtin14(gtin), body, now)
        session.flush()
        return ImportItemOut(gtin=gtin, changed=changed)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return ImportItemOut(gtin=gtin, error=ItemError(status=422, detail=detail))
    except SealtraceError as exc:
        return ImportItemOut(gtin=gtin, error=ItemError(status=error_status(exc), detail=str(exc)))


# For verification ---------------------------------------------------------------------------


_PRODUCT: Table = Product.__table__  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=4)
def _products_statement(dialect: str) -> Select[Any]:
    return sa_select(*_PRODUCT.c).where(any_of(_PRODUCT.c.gtin, "gtins", dialect))


def products_step(dialect: str, gtins: Iterable[str]) -> Step:
    """The read of :func:`products_for`, for a pipeline (:mod:`storage.pipeline`)."""
    return Step(_products_statement(dialect), {"gtins": sorted(set(gtins))})


def products_from(rows: Iterable[Mapping[str, Any]]) -> dict[str, Product]:
    return {row["gtin"]: Product(**row) for row in rows}


def products_for(session: Session, gtins: Iterable[str]) -> dict[str, Product]:
    """The stored products of ``gtins``, in one query."""
    wanted = sorted(set(gtins))
    if not wanted:
        return {}
    return {r.gtin: r for r in session.exec(select(Product).where(col(Product.gtin).in_(wanted)))}


def epcis_classes(
    session: Session, trust: TrustList, gtins: Iterable[str], *, brand_id: str | None,
    base_url: str,
) -> dict[str, tuple[tuple[str, str], ...]]:  # fmt: skip
    """EPCIS EPCClass master data of ``gtins``: a brand's own products only (``brand_id``),
    every brand's for officers and admins (None). An uploaded image is named by its
    absolute URL on ``base_url``, this service."""
    gtins = set(gtins)
    rows = list(products_for(session, gtins).values())
    uploaded = image_urls_for(session, gtins)
    if brand_id is not None:
        # The row's brand and the current trust list must both say it is this brand's.
        rows = [r for r in rows if r.brand_id == brand_id and _owned_by(trust, r.gtin, brand_id)]
    return {
        r.gtin: product_attributes(
            name=r.product_name, brand_name=r.brand_name, description=r.description,
            strength=r.strength, net_content=r.net_content,
            image=base_url.rstrip("/") + uploaded[r.gtin] if r.gtin in uploaded else r.image_url,
        )
        for r in rows
    }  # fmt: skip


def _owned_by(trust: TrustList, gtin: str, brand_id: str) -> bool:
    brand = trust.brand_owning(gtin)
    return brand is not None and brand.id == brand_id
