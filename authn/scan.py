"""Whatever a scanner or a camera hands over, turned into GS1 AIs.

Accepted, with or without surrounding whitespace and a trailing CR/LF:

- a Digital Link URI (``https://...`` or ``http://...``);
- a bracketed element string (``(01)...(21)...``);
- an element string in FNC1 form (GS-separated, optional leading GS);
- any of these after an AIM symbology identifier (ISO/IEC 15424), as GS1
  lists them for its carriers:

  - GS1 mode, an FNC1 element string follows: ``]C1`` GS1-128, ``]e0`` GS1
    DataBar and GS1 Composite, ``]d2`` GS1 DataMatrix, ``]Q3`` GS1 QR Code,
    ``]J1`` GS1 DotCode;
  - a GTIN follows as digits: ``]E0`` EAN-13, UPC-A and UPC-E (13 digits),
    ``]E4`` EAN-8 (8 digits), ``]I1`` ITF-14 (14 digits); EAN/UPC with a
    composite component is ``]E0<13 digits>|]e0<element string>``;
  - plain mode, text follows: ``]Q1`` QR Code, ``]d1`` Data Matrix, ``]J0``
    DotCode; it is recognised as for input without an identifier, which is how
    a Digital Link QR code arrives.

  ``]E3`` (EAN/UPC with a 2- or 5-digit add-on) and every other identifier
  are refused: an add-on is not GS1 AI data.

Everything else is rejected with a :class:`GS1SyntaxError` (or
:class:`PayloadTooLarge` past :data:`MAX_SCAN_CHARS`), whose ``position``
counts in the text as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from authn.ai import validate_associations
from authn.digital_link import DigitalLink, parse_digital_link
from authn.element_string import GS, parse_bracketed, parse_element_string
from authn.errors import GS1SyntaxError, PayloadTooLarge
from authn.gs1 import normalise_gtin

AIPair = tuple[str, str]
Syntax = Literal["digital_link", "bracketed", "element_string"]

MAX_SCAN_CHARS = 4096

GS1_SYMBOLOGIES = {
    "]C1": "GS1-128",
    "]e0": "GS1 DataBar / GS1 Composite",
    "]d2": "GS1 DataMatrix",
    "]Q3": "GS1 QR Code",
    "]J1": "GS1 DotCode",
}
GTIN_SYMBOLOGIES = {
    "]E0": ("EAN-13 / UPC-A / UPC-E", 13),
    "]E4": ("EAN-8", 8),
    "]I1": ("ITF-14", 14),
}
TEXT_SYMBOLOGIES = {"]Q1": "QR Code", "]d1": "Data Matrix", "]J0": "DotCode"}
_COMPOSITE = "|]e0"

_KNOWN = (GS1_SYMBOLOGIES, GTIN_SYMBOLOGIES, TEXT_SYMBOLOGIES)
_SURROUNDING = " \t\r\n"  # not str.strip(): Python counts GS as whitespace


@dataclass(frozen=True)
class ScanInput:
    """What a scan held: the AIs, in which syntax, from which symbology."""

    ais: list[AIPair]
    syntax: Syntax
    symbology: str | None
    """The AIM symbology identifier the scanner sent (``"]Q1"``), if any."""
    digital_link: DigitalLink | None
    """The parsed URI when ``syntax == "digital_link"``."""


_BAD_CHARACTER = re.compile("[^\x20-\x7e\x1d]")


def _check_characters(text: str, offset: int) -> None:
    bad = _BAD_CHARACTER.search(text)
    if bad is None:
        return
    for pos, char in enumerate(text[bad.start() :], start=bad.start()):
        if not (" " <= char <= "~" or char == GS):
            raise GS1SyntaxError(
                f"character U+{ord(char):04X} is not allowed in scanner data",
                position=offset + pos,
            )


def _detect(data: str, symbology: str | None, check_associations: bool) -> ScanInput:
    if data[:8].lower().startswith(("https://", "http://")):
        link = parse_digital_link(data, check_associations=check_associations)
        return ScanInput(link.ais, "digital_link", symbology, link)
    if data.startswith("("):
        ais = parse_bracketed(data, check_associations=check_associations)
        return ScanInput(ais, "bracketed", symbology, None)
    if data[0].isdigit() or data[0] == GS:
        ais = parse_element_string(data, check_associations=check_associations)
        return ScanInput(ais, "element_string", symbology, None)
    raise GS1SyntaxError(
        "not GS1 data: expected a Digital Link URI (https://...), "
        "a bracketed element string ((01)...) or an element string",
        position=0,
    )


def _parse_gtin(data: str, symbology: str, check_associations: bool) -> ScanInput:
    name, length = GTIN_SYMBOLOGIES[symbology]
    digits, composite = data[:length], data[length:]
    if len(digits) < length or not (digits.isascii() and digits.isdigit()):
        raise GS1SyntaxError(f"{name} data is {length} digits", position=0)
    if composite and (symbology == "]I1" or not composite.startswith(_COMPOSITE)):
        raise GS1SyntaxError(f"{name} data is {length} digits, then nothing", position=length)
    gtin = normalise_gtin(digits)
    if not composite:
        ais = [("01", gtin)]
        if check_associations:
            validate_associations(ais)
        return ScanInput(ais, "element_string", symbology, None)
    start = length + len(_COMPOSITE)
    try:
        rest = parse_element_string(data[start:], check_associations=False)
    except GS1SyntaxError as error:
        if error.position is None:
            raise
        raise GS1SyntaxError(error.reason, position=error.position + start, ai=error.ai) from None
    ais = [("01", gtin), *rest]
    if check_associations:
        validate_associations(ais)
    return ScanInput(ais, "element_string", symbology, None)


def _parse_data(data: str, symbology: str | None, check_associations: bool) -> ScanInput:
    if symbology in GS1_SYMBOLOGIES:
        ais = parse_element_string(data, check_associations=check_associations)
        return ScanInput(ais, "element_string", symbology, None)
    if symbology in GTIN_SYMBOLOGIES:
        return _parse_gtin(data, symbology, check_associations)
    return _detect(data, symbology, check_associations)


def parse_scan(text: str, *, check_associations: bool = True) -> ScanInput:
    """Parse raw scanner data; see the module notes for what is accepted."""
    if len(text) > MAX_SCAN_CHARS:
        raise PayloadTooLarge(
            f"scan is {len(text)} characters long; at most {MAX_SCAN_CHARS} are accepted"
        )
    body = text.strip(_SURROUNDING)
    offset = len(text) - len(text.lstrip(_SURROUNDING))
    if not body:
        raise GS1SyntaxError("the scan is empty")
    _check_characters(body, offset)
    symbology: str | None = None
    if body.startswith("]"):
        symbology = body[:3]
        if not any(symbology in known for known in _KNOWN):
            known = ", ".join(name for table in _KNOWN for name in table)
            raise GS1SyntaxError(
                f"symbology identifier {symbology!r} does not carry GS1 data (accepted: {known})",
                position=offset,
            )
        body = body[3:]
        offset += 3
        if not body:
            raise GS1SyntaxError(f"no data after the symbology identifier {symbology}")
    try:
        return _parse_data(body, symbology, check_associations)
    except GS1SyntaxError as error:
        if error.position is None:
            raise
        raise GS1SyntaxError(error.reason, position=error.position + offset, ai=error.ai) from None
