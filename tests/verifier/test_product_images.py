"""What an uploaded product image becomes: upright pixels in its own format, no metadata;
and each change audited, the same image twice once (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, PngImagePlugin
from sqlmodel import col, select

from authn.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from verifier.db.models import AuditEvent
from verifier.product_images import clean_image

CAPS = {"max_bytes": 1_000_000, "max_pixels": 1_000_000}


def encoded(image: Image.Image, fmt: str, **save: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def test_png_text_chunks_and_icc_profiles_are_dropped_and_transparency_kept() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Roe, 12 Secret Street")
    palette = Image.new("P", (10, 6), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    data = encoded(palette, "PNG", pnginfo=info, transparency=0, icc_profile=b"\0" * 64)
    assert b"Secret Street" in data
    clean = clean_image(data, **CAPS)
    assert (clean.kind, clean.width, clean.height) == ("png", 10, 6)
    assert b"Secret Street" not in clean.data
    assert b"iCCP" not in clean.data
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.mode == "P"
        assert image.info.get("transparency") == 0
        assert "Author" not in image.info


def test_a_photo_is_turned_upright_by_its_exif_orientation_and_loses_the_exif() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; show it rotated 90 degrees
    exif[0x8825] = {2: (48.0, 51.0, 0.0)}  # a GPS position
    data = encoded(Image.new("RGB", (40, 20), (10, 200, 10)), "JPEG", exif=exif.tobytes())
    clean = clean_image(data, **CAPS)
    assert (clean.width, clean.height) == (20, 40)
    with Image.open(io.BytesIO(clean.data)) as image:
        assert dict(image.getexif()) == {}
        assert image.format == "JPEG"


def test_other_modes_are_converted_for_their_format() -> None:
    cmyk = encoded(Image.new("CMYK", (8, 8)), "JPEG")
    assert Image.open(io.BytesIO(clean_image(cmyk, **CAPS).data)).mode == "RGB"
    sixteen = encoded(Image.new("I;16", (8, 8)), "PNG")
    assert Image.open(io.BytesIO(clean_image(sixteen, **CAPS).data)).mode == "RGBA"
    webp = clean_image(encoded(Image.new("RGB", (8, 8)), "WEBP"), **CAPS)
    assert webp.media_type == "image/webp"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"BM" + b"\0" * 60, UnsupportedMediaType),  # BMP
        (b"", UnsupportedMediaType),
        (b"\xff\xd8\xff" + b"\0" * 20, InvalidInput),
        (encoded(Image.new("RGB", (1001, 1000)), "PNG"), PayloadTooLarge),
    ],
    ids=["bmp", "empty", "jpeg-garbage", "pixels"],
)
def test_refusals(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        clean_image(data, **CAPS)


def test_each_change_is_audited(env: Any) -> None:
    path = f"/v1/products/{env.ACME_GTIN}/image"
    png = encoded(Image.new("RGB", (4, 4)), "PNG")
    first = env.client.put(path, content=png, headers=env.auth("acme"))
    assert first.status_code == 200, first.text
    assert env.client.put(path, content=png, headers=env.auth("acme")).json() == first.json()
    other = encoded(Image.new("RGB", (5, 5)), "PNG")
    second = env.client.put(path, content=other, headers=env.auth("admin"))
    assert second.status_code == 200
    assert env.client.delete(path, headers=env.auth("acme")).status_code == 204
    with env.session() as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.gtin == env.ACME_GTIN).order_by(col(AuditEvent.id))
        ).all()
    one, two = (a.json()["url"].rsplit("/", 1)[1].split(".")[0] for a in (first, second))
    # The same image sent again changed nothing and wrote no event.
    assert [(e.action, e.before, e.after) for e in events] == [
        ("product.image_set", None, one),
        ("product.image_set", one, two),
        ("product.image_delete", two, None),
    ]
