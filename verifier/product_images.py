"""Uploaded product images: a brand's picture of a GTIN's pack, checked and stored by sealtrace.

An upload is decided by its bytes, never by the Content-Type it claims: PNG, JPEG or WebP
only, under a byte cap and a pixel cap (checked from the header, before any pixel is
decoded). It is decoded in full (a truncated file is refused), turned upright by its EXIF
orientation and re-encoded in its own format with no metadata at all (EXIF, GPS, ICC,
comments, text chunks), so what is served is pixels Pillow wrote and nothing a phone or an
editor left in the file.

The stored image is served anonymously at ``/v1/product-images/<sha256>.<ext>``: the URL
names the content, so it can be cached for good and changes when the image does. The URL
is not derived from the GTIN: the verify answer hands it out only for codes the trust list
vouches for, as it does the product's name, so nobody learns a brand's products by
inventing GTINs. Access to write follows the product data's rules (owning brand, admins;
another brand is told "not found").
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Select, Table
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from authn.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    SealtraceError,
    UnsupportedMediaType,
)
from keys.trust import TrustList
from storage.pipeline import Step, any_of
from verifier.accounts import Caller
from verifier.db.models import AuditEvent, ProductImage
from verifier.registry import account_id_of, gtin14, require_reader, require_writer

IMAGE_SET, IMAGE_DELETE = "product.image_set", "product.image_delete"
PUBLIC_PREFIX = "/v1/product-images/"
# kind -> (Pillow format, media type, file extension)
KINDS = {
    "png": ("PNG", "image/png", "png"),
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "webp": ("WEBP", "image/webp", "webp"),
}
PUBLIC_NAME = re.compile(r"(?P<digest>[0-9a-f]{64})\.(?P<ext>png|jpg|webp)")
# Modes each format writes as they are; any other mode is converted first.
_KEEPS = {
    "png": {"1", "L", "LA", "P", "RGB", "RGBA"},
    "jpeg": {"L", "RGB"},
    "webp": {"RGB", "RGBA"},
}
_CONVERT_TO = {"png": "RGBA", "jpeg": "RGB", "webp": "RGBA"}


@dataclass(frozen=True)
class CleanImage:
    """An upload as it will be stored and served."""

    data: bytes
    kind: str
    width: int
    height: int

    @property
    def media_type(self) -> str:
        return KINDS[self.kind][1]


class ImageOut(BaseModel):
    gtin: str
    url: str = Field(description="Where anyone may fetch it: /v1/product-images/<sha256>.<ext>")
    mediaType: str
    width: int
    height: int
    bytes: int
    updated_at: datetime


def sniff(data: bytes) -> str | None:
    """The image type by its magic bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def clean_image(data: bytes, *, max_bytes: int, max_pixels: int) -> CleanImage:
    """The upload checked, decoded and re-encoded without metadata; raises for anything else.

    413 over ``max_bytes`` or ``max_pixels``, 415 for a type other than PNG/JPEG/WebP, 400
    for a file that is truncated or damaged.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the image is {len(data)} bytes; at most {max_bytes} are accepted")
    kind = sniff(data)
    if kind is None:
        raise UnsupportedMediaType("send a PNG, JPEG or WebP image (decided by its bytes)")
    from PIL import Image, ImageOps  # Pillow only where images are handled (CLI start)

    fmt = KINDS[kind][0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise PayloadTooLarge(
                        f"the image is {width}x{height} pixels; at most {max_pixels} are accepted"
                    )
                opened.load()  # the whole file: a truncated one fails here
                image: Any = ImageOps.exif_transpose(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(f"the image has more than {max_pixels} pixels") from None
    except SealtraceError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(
            f"the {kind.upper()} file is truncated or damaged ({exc.__class__.__name__})"
        ) from None
    if image.mode not in _KEEPS[kind]:
        image = image.convert(_CONVERT_TO[kind])
    # Only the palette's transparency survives; everything else in info is metadata.
    image.info = {k: v for k, v in image.info.items() if k == "transparency"}
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": 90} if kind in ("jpeg", "webp") else {}
    image.save(out, format=fmt, **options)
    return CleanImage(out.getvalue(), kind, image.width, image.height)


def public_url(row: ProductImage) -> str:
    return f"{PUBLIC_PREFIX}{row.digest}.{KINDS[_kind_of(row.media_type)][2]}"


def _kind_of(media_type: str) -> str:
    return next(k for k, (_, media, _) in KINDS.items() if media == media_type)


def out(row: ProductImage) -> ImageOut:
    return ImageOut(
        gtin=row.gtin, url=public_url(row), mediaType=row.media_type, width=row.width,
        height=row.height, bytes=len(row.data), updated_at=row.updated_at,
    )  # fmt: skip


def _row(session: Session, gtin: str) -> ProductImage | None:
    return session.exec(select(ProductImage).where(ProductImage.gtin == gtin)).first()


def put_image(
    session: Session, caller: Caller, trust: TrustList, gtin: str, data: bytes, *,
    now: datetime, max_bytes: int, max_pixels: int,
) -> ImageOut:  # fmt: skip
    """Store (or replace) the image of ``gtin``: owning brand and admins. Idempotent."""
    gtin = gtin14(gtin)
    require_writer(caller, trust, gtin)
    brand = trust.brand_owning(gtin)
    if brand is None:
        raise NotFound("no brand in the trust list owns this GTIN")
    clean = clean_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    digest = hashlib.sha256(clean.data).hexdigest()
    row = _row(session, gtin)
    if row is not None and row.digest == digest and row.brand_id == brand.id:
        return out(row)  # the same image again: nothing changes, nothing to audit
    before = row.digest if row is not None else None
    if row is None:
        row = ProductImage(
            gtin=gtin, brand_id=brand.id, digest=digest, media_type=clean.media_type,
            width=clean.width, height=clean.height, data=clean.data, updated_at=now,
        )  # fmt: skip
    row.brand_id, row.digest, row.media_type = brand.id, digest, clean.media_type
    row.width, row.height, row.data = clean.width, clean.height, clean.data
    row.updated_at, row.updated_by = now, account_id_of(caller)
    session.add(row)
    session.add(
        AuditEvent(
            at=now, account_id=row.updated_by, action=IMAGE_SET, gtin=gtin, before=before,
            after=digest,
        )
    )  # fmt: skip
    session.commit()
    session.refresh(row)
    return out(row)


def get_image_info(session: Session, caller: Caller, trust: TrustList, gtin: str) -> ImageOut:
    """The image's URL and size (owning brand, officers, admins; another brand: not found)."""
    gtin = gtin14(gtin)
    require_reader(caller, trust, gtin)
    row = _row(session, gtin)
    if row is None:
        raise NotFound("no uploaded image for this GTIN")
    return out(row)


def delete_image(
    session: Session, caller: Caller, trust: TrustList, gtin: str, *, now: datetime
) -> None:
    gtin = gtin14(gtin)
    require_writer(caller, trust, gtin)
    row = _row(session, gtin)
    if row is None:
        raise NotFound("no uploaded image for this GTIN")
    session.add(
        AuditEvent(
            at=now, account_id=account_id_of(caller), action=IMAGE_DELETE, gtin=gtin,
            before=row.digest,
        )
    )  # fmt: skip
    session.delete(row)
    session.commit()


def public_image(session: Session, name: str) -> tuple[bytes, str, str]:
    """(bytes, media type, digest) of the image named ``<sha256>.<ext>``; anyone may ask."""
    match = PUBLIC_NAME.fullmatch(name)
    if match is None:
        raise NotFound("no such image")
    row = session.exec(
        select(ProductImage).where(ProductImage.digest == match["digest"]).limit(1)
    ).first()
    if row is None or KINDS[_kind_of(row.media_type)][2] != match["ext"]:
        raise NotFound("no such image")
    return row.data, row.media_type, row.digest


_IMAGE: Table = ProductImage.__table__  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=4)
def _urls_statement(dialect: str) -> Select[Any]:
    columns = (_IMAGE.c.gtin, _IMAGE.c.digest, _IMAGE.c.media_type)
    return sa_select(*columns).where(any_of(_IMAGE.c.gtin, "gtins", dialect))


def image_urls_step(dialect: str, gtins: Iterable[str]) -> Step:
    """The read of :func:`image_urls_for`, for a pipeline (:mod:`storage.pipeline`)."""
    return Step(_urls_statement(dialect), {"gtins": sorted(set(gtins))})


def image_urls_from(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {
        row["gtin"]: f"{PUBLIC_PREFIX}{row['digest']}.{KINDS[_kind_of(row['media_type'])][2]}"
        for row in rows
    }


def image_urls_for(session: Session, gtins: Iterable[str]) -> dict[str, str]:
    """The public URL of each of ``gtins`` that has an uploaded image (no bytes read)."""
    wanted = sorted(set(gtins))
    if not wanted:
        return {}
    query = select(ProductImage.gtin, ProductImage.digest, ProductImage.media_type).where(
        col(ProductImage.gtin).in_(wanted)
    )
    return {
        gtin: f"{PUBLIC_PREFIX}{digest}.{KINDS[_kind_of(media)][2]}"
        for gtin, digest, media in session.exec(query)
    }
