"""Printer manifests: one row per unit, CSV or JSON Lines.

Printers that render codes themselves (thermal transfer, inkjet on the line)
take the payloads from here. Columns::

    seq, gtin, serial, lot, expiry, digital_link, element_string[, file]

``element_string`` is the FNC1 form with GS (0x1D) separators, exactly what a
GS1 DataMatrix or GS1 QR must hold; ``digital_link`` is what a plain QR code
holds. ``file`` names the label image (or PDF sheet) when the batch has images.
Rows are formatted a chunk at a time into one string, so the batch writer does
one write per chunk.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence

from authn.signing import DIGSIG_CHARS
from issuer.outputs.payload import SignedUnit, UnitFormatter
from issuer.outputs.template import Template

MANIFEST_FORMATS = ("csv", "jsonl")
COLUMNS = ("seq", "gtin", "serial", "lot", "expiry", "digital_link", "element_string")


def manifest_name(fmt: str) -> str:
    return f"manifest.{fmt}"


def header(fmt: str, *, with_file: bool) -> str:
    """The text that starts a manifest (a CSV header line; nothing for JSON Lines)."""
    if fmt != "csv":
        return ""
    columns = (*COLUMNS, "file") if with_file else COLUMNS
    return ",".join(columns) + "\r\n"


def format_rows(fmt: str, units: Sequence[SignedUnit], files: Sequence[str] | None = None) -> str:
    """The manifest rows for ``units`` as one string."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for index, unit in enumerate(units):
            row: list[object] = [
                unit.seq,
                unit.gtin,
                unit.serial,
                unit.lot or "",
                unit.expiry or "",
                unit.digital_link,
                unit.element_string,
            ]
            if files is not None:
                row.append(files[index])
            writer.writerow(row)
        return buffer.getvalue()
    lines = []
    for index, unit in enumerate(units):
        record: dict[str, object] = {
            "seq": unit.seq,
            "gtin": unit.gtin,
            "serial": unit.serial,
            "lot": unit.lot,
            "expiry": unit.expiry,
            "digital_link": unit.digital_link,
            "element_string": unit.element_string,
        }
        if files is not None:
            record["file"] = files[index]
        lines.append(json.dumps(record, separators=(",", ":")))
    return "\n".join(lines) + "\n" if lines else ""


class RowFormatter:
    """Manifest rows of one batch, with the per-batch parts formatted once.

    A row is rendered twice through :func:`format_rows` to find where the
    sequence number, serial and signature go (see :mod:`issuer.outputs.template`);
    a unit's row is then a join of strings, several times faster than building
    it from a :class:`SignedUnit`.
    """

    _SEQ_WIDTH = 10

    def __init__(
        self, fmt: str, formatter: UnitFormatter, lot: str | None, expiry: str | None
    ) -> None:
        self._formatter = formatter
        gtin = formatter.template.gtin

        def render(values: Mapping[str, str]) -> str:
            serial, signature = values["serial"], values["signature"]
            unit = SignedUnit(
                seq=int(values["seq"]),
                gtin=gtin,
                serial=serial,
                lot=lot,
                expiry=expiry,
                signature=signature,
                digital_link=formatter.digital_link(serial, signature),
                element_string=formatter.element_string(serial, signature),
            )
            return format_rows(fmt, [unit])

        widths = {
            "seq": self._SEQ_WIDTH,
            "serial": len(formatter.template.serial),
            "signature": DIGSIG_CHARS,
        }
        # Digits fill every hole: valid in a serial, a signature and a number.
        self._template = Template(render, widths, digits=True)

    def row(self, seq: int, serial: str, signature: str) -> str:
        return self._template.fill(seq=str(seq), serial=serial, signature=signature)
