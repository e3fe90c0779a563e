"""Finding a QR code or GS1 DataMatrix in a photo (zxing-cpp), safely.

The image type is decided by its magic bytes, never by what the client
declared. Pixel counts are checked before decoding the pixels (decompression
bombs); every decoder failure becomes an :class:`ImageUnusable`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import zxingcpp
from PIL import Image, ImageOps

from authn.errors import InvalidInput

FORMATS = zxingcpp.barcode_formats_from_str("QRCode,DataMatrix")  # nothing else is a label
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
MAX_SIDE = 2400  # larger photos are scaled down first: codes stay readable, decoding stays fast


class UnsupportedImage(InvalidInput):
    """Not a JPEG, PNG or WebP file (answered 415)."""


class ImageUnusable(InvalidInput):
    """An image that cannot be decoded, is too large in pixels, or holds no code (422)."""


@dataclass(frozen=True)
class Decoded:
    text: str  # what the symbol holds
    scan: str  # the same with its AIM symbology identifier, as a scanner would send it
    format: str


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def load_image(data: bytes, *, max_pixels: int) -> Image.Image:
    kind = sniff(data)
    if kind is None:
        raise UnsupportedImage("send a JPEG, PNG or WebP photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[kind]])
            width, height = image.size
            if width * height > max_pixels:
                raise ImageUnusable(
                    f"the image has {width}x{height} pixels; at most {max_pixels} are accepted"
                )
            image.load()
            upright = ImageOps.exif_transpose(image) or image  # phones store rotation in EXIF
            gray = upright.convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageUnusable("the image is too large in pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageUnusable(f"the image cannot be read ({exc.__class__.__name__})") from None
    if max(gray.size) > MAX_SIDE:
        gray.thumbnail((MAX_SIDE, MAX_SIDE))
    return gray


def decode_codes(data: bytes, *, max_pixels: int) -> list[Decoded]:
    """Every QR code and DataMatrix in the photo, in zxing's order; ImageUnusable if none."""
    image = load_image(data, max_pixels=max_pixels)
    results = zxingcpp.read_barcodes(
        image,
        formats=FORMATS,
        try_rotate=True,
        try_downscale=True,
        text_mode=zxingcpp.TextMode.Plain,
    )
    found = []
    for barcode in results:
        text = str(barcode.text)
        symbology = str(barcode.symbology_identifier or "")
        found.append(Decoded(text=text, scan=symbology + text, format=barcode.format.name))
    if not found:
        raise ImageUnusable("no QR code or DataMatrix was found in the image")
    return found
