"""The units named in a file: a manifest CSV, a CSV with gtin/serial columns, or one code a line.

Accepted, one unit per row or line:

- a CSV with a header naming ``gtin`` and ``serial`` (an issue manifest is one),
  or a ``digital_link``/``element_string``/``code`` column, and optionally
  ``status`` and ``comment`` columns for a status per unit;
- lines of what a scanner reads (a Digital Link URI, a GS1 element string)
  or ``GTIN,SERIAL`` / ``GTIN SERIAL``.

Blank lines and lines starting with ``#`` are skipped. A line that names no
unit is an error that says which line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from authn.errors import InvalidInput, SealtraceError
from authn.gs1 import normalise_gtin
from authn.scan import parse_scan

CODE_COLUMNS = ("digital_link", "element_string", "code")


@dataclass(frozen=True)
class NamedUnit:
    gtin: str
    serial: str
    status: str | None = None
    comment: str | None = None


def read_units(text: str) -> list[NamedUnit]:
    # Not splitlines(): it also splits at GS (0x1D), the separator inside element strings.
    raw = (line.rstrip("\r") for line in text.split("\n"))
    lines = [line for line in raw if line.strip() and not line.startswith("#")]
    if not lines:
        raise InvalidInput("the file names no unit")
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    if ("gtin" in header and "serial" in header) or any(c in header for c in CODE_COLUMNS):
        return _from_csv("\n".join(lines))
    return [_from_line(line, number) for number, line in enumerate(lines, start=1)]


def _from_csv(text: str) -> list[NamedUnit]:
    units = []
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
    for number, row in enumerate(reader, start=2):
        status = (row.get("status") or "").strip() or None
        comment = (row.get("comment") or "").strip() or None
        if row.get("gtin") and row.get("serial"):
            gtin, serial = _gtin(row["gtin"], number), row["serial"].strip()
        else:
            code = next((row[c] for c in CODE_COLUMNS if row.get(c)), None)
            if code is None:
                raise InvalidInput(f"row {number}: no gtin/serial and no code")
            gtin, serial = _from_code(code, number)
        units.append(NamedUnit(gtin, serial, status, comment))
    return units


def _from_line(line: str, number: int) -> NamedUnit:
    text = line.strip()
    parts = text.replace(",", " ").split()
    if len(parts) == 2 and parts[0].isdigit() and not text.startswith(("http", "(")):
        return NamedUnit(_gtin(parts[0], number), parts[1])
    gtin, serial = _from_code(text, number)
    return NamedUnit(gtin, serial)


def _from_code(text: str, number: int) -> tuple[str, str]:
    try:
        ais = dict(parse_scan(text.strip()).ais)
    except SealtraceError as exc:
        raise InvalidInput(f"line {number}: {exc}") from None
    if "01" not in ais or "21" not in ais:
        raise InvalidInput(f"line {number}: the code has no GTIN (01) and serial (21)")
    return ais["01"], ais["21"]


def _gtin(text: str, number: int) -> str:
    try:
        return normalise_gtin(text.strip())
    except SealtraceError as exc:
        raise InvalidInput(f"line {number}: {exc}") from None
