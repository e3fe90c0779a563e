"""Module matrices to PNG and SVG bytes, without an imaging library.

A label is a few thousand modules; PIL's per-image overhead would cost more
than the encoding, so the PNG is written directly: the matrix is scaled with
``np.repeat``, packed to 1 bit per pixel and deflated with zlib. The SVG is
one path of row runs, sized in millimetres so that a print pipeline gets the
module size it asked for.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

from authn.errors import InvalidInput

BoolMatrix = npt.NDArray[np.bool_]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Labels are small and generated in bulk: level 6 shrinks them about as well as
# level 9 at a fraction of the time.
_ZLIB_LEVEL = 6


def _check_matrix(matrix: npt.NDArray[np.generic]) -> BoolMatrix:
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidInput(
            f"a module matrix must be a non-empty 2-D array, got shape {array.shape}"
        )
    return array.astype(np.bool_, copy=False)


def _check_quiet(quiet_modules: int) -> None:
    if isinstance(quiet_modules, bool) or not isinstance(quiet_modules, int) or quiet_modules < 0:
        raise InvalidInput(
            f"quiet zone must be a whole number of modules >= 0, got {quiet_modules!r}"
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


PRINT_MODULE_MM = 0.4  # the module size labels are meant to print at (as on PDF sheets)


def matrix_to_png(
    matrix: npt.NDArray[np.generic],
    module_px: int,
    quiet_modules: int,
    module_mm: float = PRINT_MODULE_MM,
) -> bytes:
    """A 1-bit grayscale PNG of ``matrix`` (True = dark), ``module_px`` pixels per module.

    The pHYs chunk says how large a pixel is (``module_mm / module_px``), so a
    printer prints each module at ``module_mm`` instead of guessing a DPI.
    """
    if not 0.05 <= module_mm <= 5:
        raise InvalidInput(f"module size must be between 0.05 and 5 mm, got {module_mm!r}")
    if isinstance(module_px, bool) or not isinstance(module_px, int) or module_px < 1:
        raise InvalidInput(f"module size must be a whole number of pixels >= 1, got {module_px!r}")
    _check_quiet(quiet_modules)
    modules = _check_matrix(matrix)
    # In 1-bit grayscale, 1 is white: light modules and the quiet zone are set bits.
    light = np.pad(~modules, quiet_modules, constant_values=True)
    pixels = np.repeat(np.repeat(light, module_px, axis=0), module_px, axis=1)
    height, width = pixels.shape
    rows = np.packbits(pixels, axis=1)
    # Each scanline starts with filter type 0 (None).
    scanlines = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels_per_metre = round(module_px / module_mm * 1000)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"pHYs", struct.pack(">IIB", pixels_per_metre, pixels_per_metre, 1)),
            _chunk(b"IDAT", zlib.compress(scanlines.tobytes(), _ZLIB_LEVEL)),
            _chunk(b"IEND", b""),
        )
    )


def _format_mm(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def matrix_to_svg(matrix: npt.NDArray[np.generic], module_mm: float, quiet_modules: int) -> bytes:
    """An SVG of ``matrix`` sized in millimetres: one path, one unit per module, crisp edges."""
    if isinstance(module_mm, bool) or not isinstance(module_mm, int | float) or not module_mm > 0:
        raise InvalidInput(
            f"module size must be a positive number of millimetres, got {module_mm!r}"
        )
    _check_quiet(quiet_modules)
    modules = _check_matrix(matrix)
    height, width = modules.shape
    # Runs of dark modules per row: +1 where a run starts, -1 just after it ends.
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = modules
    edges = np.diff(padded, axis=1)
    start_rows, start_cols = np.nonzero(edges == 1)
    _, end_cols = np.nonzero(edges == -1)
    parts = [
        f"M{x + quiet_modules},{y + quiet_modules}h{n}v1h-{n}z"
        for y, x, n in zip(
            start_rows.tolist(), start_cols.tolist(), (end_cols - start_cols).tolist(), strict=True
        )
    ]
    total_w = width + 2 * quiet_modules
    total_h = height + 2 * quiet_modules
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{_format_mm(total_w * module_mm)}mm" height="{_format_mm(total_h * module_mm)}mm" '
        f'viewBox="0 0 {total_w} {total_h}" shape-rendering="crispEdges">'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>\n'
    )
    return svg.encode("ascii")
