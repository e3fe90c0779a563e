"""EPCIS identifiers: EPC URIs and GS1 Digital Link URIs reduced to one canonical key.

Partners write the same unit as ``urn:epc:id:sgtin:4012345.011111.9876`` or as
``https://brand.example/01/04012345111118/21/9876?8030=...``; the store and
every comparison use one canonical key per thing, the constrained Digital Link
URI on ``id.gs1.org`` (GS1's canonical domain), e.g.
``https://id.gs1.org/01/04012345111118/21/9876``:

- SGTIN / Digital Link 01+21  -> ``/01/<gtin14>/21/<serial>`` (the lot is dropped:
  a serial alone identifies the unit)
- LGTIN / 01+10               -> ``/01/<gtin14>/10/<lot>``
- sgtin ID pattern / 01 alone -> ``/01/<gtin14>``
- SSCC                        -> ``/00/<sscc18>``
- SGLN                        -> ``/414/<gln>`` (``/254/<ext>`` unless the extension is 0)
- PGLN                        -> ``/417/<gln>``

Any other URI (GIAI, GRAI, a partner's own URN) is its own key, as written.
Pure functions; every failure is a :class:`GS1SyntaxError` that says what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

from authn.digital_link import parse_digital_link
from authn.element_string import parse_bracketed
from authn.errors import GS1SyntaxError
from authn.gs1 import check_digit, normalise_gtin

CANONICAL_BASE = "https://id.gs1.org"

Kind = Literal["unit", "lot", "class", "sscc", "location", "party", "other"]

_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_LOOKS_GS1 = re.compile(r"https?://[^/?#]+(?:/[^?#]*)?/(00|01|414|417)/\d{8,18}(?:[/?#]|$)")
_EPC_URN = re.compile(r"urn:epc:(id|class|idpat):([a-z]+):(.*)", re.IGNORECASE)


@dataclass(frozen=True)
class Identifier:
    """A canonical identifier: ``key`` to store and compare, ``gtin`` when it names a product."""

    key: str
    kind: Kind
    gtin: str | None = None


def is_uri(text: object) -> bool:
    return isinstance(text, str) and _URI.fullmatch(text) is not None


def _digits(part: str, what: str) -> str:
    if not part.isascii() or not part.isdigit():
        raise GS1SyntaxError(f"{what} must be digits, got {part!r}")
    return part


def _split(body: str, parts: int, uri: str) -> list[str]:
    pieces = body.split(".", parts - 1)
    if len(pieces) != parts:
        raise GS1SyntaxError(f"{uri!r}: expected {parts} dot-separated fields after the scheme")
    return pieces


def _gtin_from(prefix: str, item_ref: str, uri: str) -> str:
    _digits(prefix, "the company prefix")
    _digits(item_ref, "the item reference")
    if len(prefix) + len(item_ref) != 13 or not 6 <= len(prefix) <= 12:
        raise GS1SyntaxError(f"{uri!r}: company prefix and item reference must total 13 digits")
    body = item_ref[0] + prefix + item_ref[1:]
    return body + check_digit(body)


def _gln_from(prefix: str, location_ref: str, uri: str) -> str:
    _digits(prefix, "the company prefix")
    if location_ref:
        _digits(location_ref, "the location reference")
    if len(prefix) + len(location_ref) != 12 or not 6 <= len(prefix) <= 12:
        raise GS1SyntaxError(f"{uri!r}: company prefix and location reference must total 12 digits")
    body = prefix + location_ref
    return body + check_digit(body)


def _unit(gtin: str, serial: str) -> Identifier:
    return Identifier(f"{CANONICAL_BASE}/01/{gtin}/21/{quote(serial, safe='')}", "unit", gtin)


def _from_epc_urn(uri: str, match: re.Match[str]) -> Identifier:
    family, scheme, body = match[1].lower(), match[2].lower(), match[3]
    if family == "id" and scheme == "sgtin":
        prefix, item, serial = _split(body, 3, uri)
        if not serial:
            raise GS1SyntaxError(f"{uri!r}: the serial number is empty")
        return _unit(_gtin_from(prefix, item, uri), unquote(serial))
    if family == "class" and scheme == "lgtin":
        prefix, item, lot = _split(body, 3, uri)
        gtin = _gtin_from(prefix, item, uri)
        return Identifier(
            f"{CANONICAL_BASE}/01/{gtin}/10/{quote(unquote(lot), safe='')}", "lot", gtin
        )
    if family == "idpat" and scheme == "sgtin":
        prefix, item, star = _split(body, 3, uri)
        if star != "*":
            raise GS1SyntaxError(f"{uri!r}: an sgtin pattern ends with '.*'")
        gtin = _gtin_from(prefix, item, uri)
        return Identifier(f"{CANONICAL_BASE}/01/{gtin}", "class", gtin)
    if family == "id" and scheme == "sscc":
        prefix, serial_ref = _split(body, 2, uri)
        _digits(prefix, "the company prefix")
        _digits(serial_ref, "the serial reference")
        if len(prefix) + len(serial_ref) != 17:
            raise GS1SyntaxError(
                f"{uri!r}: company prefix and serial reference must total 17 digits"
            )
        sscc = serial_ref[0] + prefix + serial_ref[1:]
        return Identifier(f"{CANONICAL_BASE}/00/{sscc}{check_digit(sscc)}", "sscc")
    if family == "id" and scheme == "sgln":
        prefix, location, extension = _split(body, 3, uri)
        key = f"{CANONICAL_BASE}/414/{_gln_from(prefix, location, uri)}"
        if extension != "0":
            key += f"/254/{quote(unquote(extension), safe='')}"
        return Identifier(key, "location")
    if family == "id" and scheme == "pgln":
        prefix, party = _split(body, 2, uri)
        return Identifier(f"{CANONICAL_BASE}/417/{_gln_from(prefix, party, uri)}", "party")
    if family == "id" and scheme == "giai":
        prefix, asset = _split(body, 2, uri)
        _digits(prefix, "the company prefix")
        return Identifier(f"{CANONICAL_BASE}/8004/{prefix}{asset}", "other")
    if family == "id" and scheme == "gsrn":
        prefix, service = _split(body, 2, uri)
        number = _digits(prefix + service, "a GSRN")
        return Identifier(f"{CANONICAL_BASE}/8018/{number}{check_digit(number)}", "other")
    if family == "id" and scheme == "gdti":
        prefix, document_type, serial = _split(body, 3, uri)
        gdti = _gln_from(prefix, document_type, uri)
        return Identifier(f"{CANONICAL_BASE}/253/{gdti}{serial}", "other")
    return Identifier(uri, "other")


def _from_ais(ais: list[tuple[str, str]]) -> Identifier:
    values = dict(ais)
    if "01" in values:
        gtin = normalise_gtin(values["01"])
        if "21" in values:
            return _unit(gtin, values["21"])
        if "10" in values:
            return Identifier(
                f"{CANONICAL_BASE}/01/{gtin}/10/{quote(values['10'], safe='')}", "lot", gtin
            )
        return Identifier(f"{CANONICAL_BASE}/01/{gtin}", "class", gtin)
    if "00" in values:
        return Identifier(f"{CANONICAL_BASE}/00/{values['00']}", "sscc")
    if "414" in values:
        key = f"{CANONICAL_BASE}/414/{values['414']}"
        if values.get("254"):
            key += f"/254/{quote(values['254'], safe='')}"
        return Identifier(key, "location")
    if "417" in values:
        return Identifier(f"{CANONICAL_BASE}/417/{values['417']}", "party")
    key_ai, key_value = ais[0]
    return Identifier(f"{CANONICAL_BASE}/{key_ai}/{quote(key_value, safe='')}", "other")


def identify(uri: str) -> Identifier:
    """The canonical identifier of an EPC URI or GS1 Digital Link URI in an event."""
    if not is_uri(uri):
        raise GS1SyntaxError(f"{uri!r} is not a URI (an EPC URN or a Digital Link URI)")
    match = _EPC_URN.fullmatch(uri)
    if match is not None:
        return _from_epc_urn(uri, match)
    if uri.lower().startswith(("https://", "http://")):
        try:
            # EPCIS documents from other systems may carry a zero-suppressed
            # GTIN in a Digital Link path; the identifier is still unambiguous.
            link = parse_digital_link(
                uri, check_associations=False, permit_zero_suppressed_gtin=True
            )
        except GS1SyntaxError:
            if _LOOKS_GS1.search(uri):
                raise  # a broken Digital Link must not pass as some other URI
            # A web URI that is no Digital Link (a partner's own location URL) is fine.
            return Identifier(uri, "other")
        return _from_ais(link.ais)
    return Identifier(uri, "other")


def identify_code(text: str) -> Identifier:
    """A code as a caller types it: an EPC URI, a Digital Link URI or ``(01)...(21)...``."""
    text = text.strip()
    if text.startswith("("):
        return _from_ais(parse_bracketed(text, check_associations=False))
    return identify(text)


def unit_uri(gtin: str, serial: str) -> str:
    """The Digital Link URI sealtrace writes into its own events for one unit."""
    return _unit(normalise_gtin(gtin), serial).key
