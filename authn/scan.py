"""Whatever a scanner or a camera hands over, turned into GS1 AIs.

Accepted, with or without surrounding whitespace and a trailing CR/LF:

- a Digital Link URI (``https://...`` or ``http://...``);
- a bracketed element string (``(01)...(21)...``);
- an element string in FNC1 form (GS-separated, optional leading GS);
- any of these after an AIM symbology identifier. GS1-mode identifiers
  promise an FNC1 element string: ``]C1`` GS1-128, ``]e0`` GS1 DataBar,
  ``]d2`` GS1 DataMatrix, ``]Q3`` GS1 QR Code. Plain-mode ``]Q1`` (QR Code)
  and ``]d1`` (Data Matrix) carry text, so their data is recognised as for
  input without an identifier: that is how a Digital Link QR code arrives.

Everything else is rejected with a :class:`GS1SyntaxError` (or
:class:`PayloadTooLarge` past :data:`MAX_SCAN_CHARS`), whose ``position``
counts in the text as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from authn.digital_link import DigitalLink, parse_digital_link
from authn.element_string import GS, parse_bracketed, parse_element_string
from authn.errors import GS1SyntaxError, PayloadTooLarge

AIPair = tuple[str, str]
Syntax = Literal["digital_link", "bracketed", "element_string"]

MAX_SCAN_CHARS = 4096

GS1_SYMBOLOGIES = {
    "]C1": "GS1-128",
    "]e0": "GS1 DataBar",
    "]d2": "GS1 DataMatrix",
    "]Q3": "GS1 QR Code",
}
TEXT_SYMBOLOGIES = {"]Q1": "QR Code", "]d1": "Data Matrix"}

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


def _check_characters(text: str, offset: int) -> None:
    for pos, char in enumerate(text):
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


def _parse_data(data: str, symbology: str | None, check_associations: bool) -> ScanInput:
    if symbology in GS1_SYMBOLOGIES:
        ais = parse_element_string(data, check_associations=check_associations)
        return ScanInput(ais, "element_string", symbology, None)
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
        if symbology not in GS1_SYMBOLOGIES and symbology not in TEXT_SYMBOLOGIES:
            known = ", ".join([*GS1_SYMBOLOGIES, *TEXT_SYMBOLOGIES])
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
