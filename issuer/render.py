"""Label rendering: a payload string to a QR code or GS1 DataMatrix image.

The QR code carries the GS1 Digital Link URI; the GS1 DataMatrix carries the
FNC1 element string (pharma lines). ``qr_matrix`` and ``datamatrix_matrix``
return the bare module matrix (True = dark, no quiet zone) for callers that
draw modules themselves, such as the PDF sheet writer; ``render_png`` and
``render_svg`` return finished images with the quiet zone each symbology asks
for (4 modules for QR, 2 for DataMatrix, whose minimum is 1).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import zxingcpp

from authn.element_string import GS, parse_element_string
from authn.errors import GS1SyntaxError, InvalidInput
from issuer.qr import encode_qr
from issuer.qr.images import matrix_to_png, matrix_to_svg

__all__ = [
    "DATAMATRIX_QUIET_MODULES",
    "QR_QUIET_MODULES",
    "Carrier",
    "datamatrix_matrix",
    "matrix_to_png",
    "matrix_to_svg",
    "qr_matrix",
    "render_png",
    "render_svg",
]

Carrier = Literal["qr", "datamatrix"]

QR_QUIET_MODULES = 4
DATAMATRIX_QUIET_MODULES = 2


def qr_matrix(payload: str, ec: str = "M") -> npt.NDArray[np.bool_]:
    """The QR code module matrix for ``payload`` at error correction ``ec`` (L, M, Q or H).

    The smallest version that fits is used, with the data split into numeric,
    alphanumeric and byte (UTF-8) segments where that saves bits.
    """
    return encode_qr(payload, ec).matrix


def _element_string_to_bracketed(element_string: str) -> str:
    """``0104006381333931\x1d10LOT`` -> ``[01]04006381333931[10]LOT`` for the writer.

    The element string is parsed and validated by authn (the same rules as a
    scan), so a label can only carry data a verifier will accept.
    """
    if not isinstance(element_string, str):
        raise InvalidInput("the GS1 element string must be text")
    text = element_string.removeprefix("]d2").removeprefix(GS)
    skipped = len(element_string) - len(text)
    try:
        ais = parse_element_string(text, check_associations=False)
    except GS1SyntaxError as error:  # positions refer to the caller's input, prefix included
        position = None if error.position is None else error.position + skipped
        raise GS1SyntaxError(error.reason, position=position, ai=error.ai) from None
    return "".join(f"[{ai}]{value}" for ai, value in ais)


def datamatrix_matrix(element_string: str) -> npt.NDArray[np.bool_]:
    """The GS1 DataMatrix module matrix carrying ``element_string``.

    The input is the element string with GS (``\\x1d``) after each variable-length
    value that is not last. The symbol is a square ECC 200 symbol that starts
    with FNC1, so scanners report ``]d2`` and the same element string. The AI
    values are checked by the writer's GS1 syntax engine (lengths, character
    sets, dates), not their check digits: those are the product code's business.
    """
    bracketed = _element_string_to_bracketed(element_string)
    try:
        # Square symbols only: left to itself the writer may pick a DMRE rectangle
        # (ISO/IEC 21471), which many installed scanners cannot read.
        barcode = zxingcpp.create_barcode(
            bracketed, zxingcpp.BarcodeFormat.DataMatrix, gs1=True, forceSquare=True
        )
    except Exception as exc:  # zxing-cpp raises its own untyped errors for bad GS1 data
        raise GS1SyntaxError(f"cannot encode this element string as DataMatrix: {exc}") from exc
    image = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=False))
    return image < 128


def _matrix_for(payload: str, carrier: Carrier, ec: str) -> tuple[npt.NDArray[np.bool_], int]:
    if carrier == "qr":
        return qr_matrix(payload, ec), QR_QUIET_MODULES
    if carrier == "datamatrix":
        return datamatrix_matrix(payload), DATAMATRIX_QUIET_MODULES
    raise InvalidInput(f"unknown carrier {carrier!r}: use 'qr' or 'datamatrix'")


def render_png(
    payload: str,
    *,
    carrier: Carrier = "qr",
    ec: str = "M",
    module_px: int = 4,
    quiet_modules: int | None = None,
) -> bytes:
    """A 1-bit PNG label. ``ec`` applies to QR only (DataMatrix has fixed ECC 200)."""
    matrix, default_quiet = _matrix_for(payload, carrier, ec)
    quiet = default_quiet if quiet_modules is None else quiet_modules
    return matrix_to_png(matrix, module_px, quiet)


def render_svg(
    payload: str,
    *,
    carrier: Carrier = "qr",
    ec: str = "M",
    module_mm: float = 0.4,
    quiet_modules: int | None = None,
) -> bytes:
    """An SVG label sized in millimetres. ``ec`` applies to QR only."""
    matrix, default_quiet = _matrix_for(payload, carrier, ec)
    quiet = default_quiet if quiet_modules is None else quiet_modules
    return matrix_to_svg(matrix, module_mm, quiet)
