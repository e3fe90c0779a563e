"""Print-ready PDF sheets: a grid of labels per page, vector modules, no raster images.

Each label is its code drawn as filled rectangles (one per run of dark modules
in a row, far fewer than one per module) inside its quiet zone, with the
human-readable GTIN, serial, lot and expiry under it. Pages keep a margin that
printers do not crop, and cells a gutter, so a guillotine cut between labels
never eats into a quiet zone.

A batch writes its sheets as several PDF files ("parts") of a fixed number of
pages, so memory stays flat however large the batch is and the parts can be
written in parallel.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from fpdf import FPDF

from detection.rules_state import expiry_date
from issuer.outputs.payload import SignedUnit
from issuer.render import (
    DATAMATRIX_QUIET_MODULES,
    QR_QUIET_MODULES,
    Carrier,
    datamatrix_matrix,
    qr_matrix,
)

PAPERS_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
PAGES_PER_PART = 10
MODULE_MM = 0.4
MARGIN_MM = 10.0
GUTTER_MM = 2.0
FONT_PT = 6.0
LINE_MM = 2.6
TEXT_LINES = 4
TEXT_WIDTH_MM = 30.0  # "(01)09506000134352" at 6 pt, with room to spare
# Room for a symbol a little larger than the sample one (QR segment choices,
# and so the version, vary slightly with the serial's characters).
SLACK_MODULES = 4
# Rows are drawn a hair taller than a module so that anti-aliasing rasterisers
# leave no light seam between adjacent rows of a finder pattern.
ROW_BLEED = 1.02


@dataclass(frozen=True)
class SheetLayout:
    """Where labels go on a page; all lengths in millimetres."""

    page_w: float
    page_h: float
    box: float  # side of the square the code is drawn in
    quiet: float
    cell_w: float
    cell_h: float
    columns: int
    rows: int

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def per_part(self) -> int:
        return self.per_page * PAGES_PER_PART


def module_matrix(payload: str, carrier: Carrier, ec: str) -> npt.NDArray[np.bool_]:
    return qr_matrix(payload, ec) if carrier == "qr" else datamatrix_matrix(payload)


def sheet_layout(paper: str, sample_payload: str, carrier: Carrier, ec: str) -> SheetLayout:
    """The grid for ``paper``, sized for symbols like the one for ``sample_payload``."""
    page_w, page_h = PAPERS_MM[paper]
    modules = max(module_matrix(sample_payload, carrier, ec).shape) + SLACK_MODULES
    quiet_modules = QR_QUIET_MODULES if carrier == "qr" else DATAMATRIX_QUIET_MODULES
    box = modules * MODULE_MM
    quiet = quiet_modules * MODULE_MM
    cell_w = max(box + 2 * quiet, TEXT_WIDTH_MM) + GUTTER_MM
    cell_h = box + 2 * quiet + TEXT_LINES * LINE_MM + GUTTER_MM
    columns = int((page_w - 2 * MARGIN_MM + GUTTER_MM) // cell_w)
    rows = int((page_h - 2 * MARGIN_MM + GUTTER_MM) // cell_h)
    return SheetLayout(page_w, page_h, box, quiet, cell_w, cell_h, max(columns, 1), max(rows, 1))


def human_readable(unit: SignedUnit, today: dt.date | None = None) -> list[str]:
    """The GS1 human-readable interpretation, (01)(21) then (10)(17), and the expiry as a date.

    The AI values are printed as encoded, in brackets (GS1 General Specifications
    4.14); a person reads the expiry better as a date, so it follows in ISO form.
    """
    lines = [f"(01){unit.gtin}", f"(21){unit.serial}"]
    extra = []
    if unit.lot is not None:
        extra.append(f"(10){unit.lot}")
    if unit.expiry is not None:
        extra.append(f"(17){unit.expiry}")
    lines.append(" ".join(extra))
    if unit.expiry is not None:
        when = expiry_date(unit.expiry, today or dt.datetime.now(dt.UTC).date())
        lines.append(f"EXP {when.isoformat()}")
    return lines


def _draw_matrix(pdf: FPDF, matrix: npt.NDArray[np.bool_], x: float, y: float, box: float) -> None:
    size = max(matrix.shape)
    module = min(MODULE_MM, box / size)
    # Centre the symbol in its box, so a slightly smaller one keeps its quiet zone.
    x += (box - matrix.shape[1] * module) / 2
    y += (box - matrix.shape[0] * module) / 2
    padded = np.pad(matrix.astype(np.int8), ((0, 0), (1, 1)))
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # row-major order pairs each start with its end
    # PDF user space is in points with y upwards; fpdf2 keeps page height in
    # mm (``h``) and the mm-to-point factor (``k``).
    k, page_h = pdf.k, pdf.h
    lefts = (x + starts * module) * k
    tops = (page_h - y - rows * module) * k
    widths = (ends - starts) * module * k
    height = -module * ROW_BLEED * k
    path = [
        f"{left:.3f} {top:.3f} {width:.3f} {height:.3f} re"
        for left, top, width in zip(lefts.tolist(), tops.tolist(), widths.tolist(), strict=True)
    ]
    # One path of all runs, filled once. fpdf2's rect() would emit the same
    # operators one call each, at about 60 µs per call (~700 calls a label);
    # it has no public call for raw path operators, hence _out.
    pdf._out("\n".join([*path, "f"]))


def write_sheets(
    path: Path,
    units: Sequence[SignedUnit],
    layout: SheetLayout,
    carrier: Carrier,
    ec: str,
    *,
    batch_id: str = "",
    first_page: int = 1,
    total_pages: int | None = None,
) -> None:
    """Write ``units`` as one PDF file of label sheets (atomically: temp name, then rename).

    Each page's foot names the batch and the page's number in the whole batch
    (``first_page`` is this part's first), so a loose sheet finds its place.
    """
    pdf = FPDF(unit="mm", format=(layout.page_w, layout.page_h))
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.set_creator("sealtrace")
    pdf.set_font("Helvetica", size=FONT_PT)
    pdf.set_fill_color(0, 0, 0)
    for index, unit in enumerate(units):
        slot = index % layout.per_page
        if slot == 0:
            pdf.add_page()
            page = first_page + index // layout.per_page
            of = f" of {total_pages}" if total_pages else ""
            pdf.text(MARGIN_MM, layout.page_h - MARGIN_MM / 2, f"batch {batch_id}  page {page}{of}")
        column, row = slot % layout.columns, slot // layout.columns
        left = MARGIN_MM + column * layout.cell_w
        top = MARGIN_MM + row * layout.cell_h
        matrix = module_matrix(unit.payload(carrier), carrier, ec)
        _draw_matrix(pdf, matrix, left + layout.quiet, top + layout.quiet, layout.box)
        text_top = top + layout.box + 2 * layout.quiet
        for line_no, line in enumerate(human_readable(unit)):
            pdf.text(left + layout.quiet, text_top + (line_no + 0.8) * LINE_MM, line)
    temporary = path.with_name(path.name + ".tmp")
    pdf.output(str(temporary))
    os.replace(temporary, path)
