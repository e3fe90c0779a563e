"""Finding a QR code or GS1 DataMatrix in a photo (zxing-cpp), safely.

The image type is decided by its magic bytes, never by what the client
declared. Decoding is bounded by work, not only by pixels:

- the header is read first: more pixels than the cap, or more decoded bytes
  than the per-decode memory bound, is refused as too large (413) before a
  single pixel is decoded;
- JPEGs are decoded already scaled down (Pillow's ``draft``: the DCT does the
  reduction, so a 48 MP photo costs what a 12 MP one does);
- the pixels are decoded in a separate, lower-priority process with a memory
  cap, a bounded number at a time (:mod:`mobile_api.decode_pool`).

Every decoder failure becomes an :class:`ImageUnusable` (422). Pillow and
zxing-cpp are imported on the first photo, not when a worker starts.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authn.errors import InvalidInput, PayloadTooLarge, Unavailable

if TYPE_CHECKING:
    from PIL import Image

PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
MAX_SIDE = 2400  # larger photos are scaled down first: codes stay readable, decoding stays fast
DEFAULT_MAX_BYTES = 48 * 1024 * 1024  # a 12 MP RGB PNG; JPEGs are drafted down first


def _upright(orientation: object) -> Image.Transpose | None:
    """EXIF orientation -> the turn that makes the picture upright (as
    ImageOps.exif_transpose, applied to the small grey copy instead of the full-colour one)."""
    from PIL.Image import Transpose as T

    turns = {
        2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
        6: T.ROTATE_270, 7: T.TRANSVERSE, 8: T.ROTATE_90,
    }  # fmt: skip
    return turns.get(orientation) if isinstance(orientation, int) else None


class UnsupportedImage(InvalidInput):
    """Not a JPEG, PNG or WebP file (answered 415)."""


class ImageUnusable(InvalidInput):
    """An image that cannot be decoded or holds no code (422)."""


class ImageTooLarge(PayloadTooLarge):
    """More pixels, or more decoded bytes, than one decode may cost (413)."""


class DecoderBusy(Unavailable):
    """Every decode slot is taken (503 with Retry-After)."""


class DecoderFailed(Unavailable):
    """The decode process died or overran its time on this photo (503 with Retry-After);
    it is replaced, and the serving worker carries on."""


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


def _pixel_bytes(mode: str) -> int:
    """Bytes Pillow keeps per pixel: multi-band images are padded to 4 (RGB is RGBX)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the image is too large: {width}x{height} pixels, at most {max_pixels} are accepted"
        )


def _check_bytes(image: Image.Image, max_bytes: int) -> None:
    """What the decoded pixels will take in memory, from the header alone."""
    width, height = image.size
    cost = width * height * _pixel_bytes(image.mode)
    if cost > max_bytes:
        raise ImageTooLarge(
            f"the image is too large to decode: {width}x{height} {image.mode} needs {cost} bytes,"
            f" at most {max_bytes}; send a smaller photo"
        )


def _open(data: bytes, *, max_pixels: int, max_bytes: int) -> Image.Image:
    """The image with only its header read, drafted, and checked against both caps."""
    from PIL import Image

    kind = sniff(data)
    if kind is None:
        raise UnsupportedImage("send a JPEG, PNG or WebP photo")
    image = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[kind]])
    _check_pixels(image, max_pixels)
    if kind == "jpeg":
        # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT, in grey.
        image.draft("L", (MAX_SIDE, MAX_SIDE))
    _check_bytes(image, max_bytes)
    return image


@contextmanager
def _decoder_errors() -> Iterator[None]:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge("the image is too large in pixels") from None
    except InvalidInput:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageUnusable(f"the image cannot be read ({exc.__class__.__name__})") from None


def check_header(data: bytes, *, max_pixels: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse, from the header alone (microseconds, no pixels decoded), what is too large."""
    with _decoder_errors():
        _open(data, max_pixels=max_pixels, max_bytes=max_bytes).close()


def load_image(data: bytes, *, max_pixels: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Image.Image:
    from PIL import ExifTags

    with _decoder_errors():
        image = _open(data, max_pixels=max_pixels, max_bytes=max_bytes)
        orientation = image.getexif().get(ExifTags.Base.Orientation)  # phones rotate in EXIF
        image.load()
        gray = image.convert("L")
        del image  # the full-colour pixels go before the grey copy is turned and scaled
        turn = _upright(orientation)
        if turn is not None:
            gray = gray.transpose(turn)
    if max(gray.size) > MAX_SIDE:
        gray.thumbnail((MAX_SIDE, MAX_SIDE))  # reduce() by whole factors first, then resample
    return gray


def decode_codes(
    data: bytes, *, max_pixels: int, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Decoded]:
    """Every QR code and DataMatrix in the photo, in zxing's order; ImageUnusable if none."""
    import zxingcpp

    image = load_image(data, max_pixels=max_pixels, max_bytes=max_bytes)
    results = zxingcpp.read_barcodes(
        image,
        formats=zxingcpp.barcode_formats_from_str("QRCode,DataMatrix"),  # nothing else is a label
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
