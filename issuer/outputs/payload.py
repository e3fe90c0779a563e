"""The two payloads of a signed unit: the Digital Link URI (QR) and the FNC1 element string.

:func:`payload_for` is the one place that decides what a carrier holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from authn.code import AI_EXPIRY, AI_GTIN, AI_LOT, AI_SERIAL, AI_SIGNATURE, ProductCode
from authn.digital_link import format_digital_link
from authn.element_string import format_fnc1
from authn.errors import InvalidInput
from authn.signing import DIGSIG_CHARS, DOMAIN_TAG, canonical_element_string, signed_message
from issuer.outputs.template import Template

AIPair = tuple[str, str]
CARRIERS = ("qr", "datamatrix")

# Predefined-length AIs first: then no GS separator is needed after them, and
# the symbol is a few modules smaller.
_FNC1_ORDER = (AI_GTIN, AI_EXPIRY, AI_LOT, AI_SERIAL, AI_SIGNATURE)


@dataclass(frozen=True)
class SignedUnit:
    """One issued unit as the writers need it."""

    seq: int
    gtin: str
    serial: str
    lot: str | None
    expiry: str | None
    signature: str
    digital_link: str
    element_string: str

    def payload(self, carrier: str) -> str:
        return self.digital_link if carrier == "qr" else self.element_string


def element_string(ais: Sequence[AIPair]) -> str:
    """The FNC1 element string (GS separators) that a GS1 DataMatrix carries."""
    order = {ai: index for index, ai in enumerate(_FNC1_ORDER)}
    ordered = sorted(ais, key=lambda pair: (order.get(pair[0], len(order)), pair[0]))
    # The code was validated as a ProductCode already; skip the second check.
    return format_fnc1(ordered, check_associations=False)


def digital_link(ais: Sequence[AIPair], resolver: str) -> str:
    """The GS1 Digital Link URI: ``<resolver>/01/<gtin>[/10/<lot>]/21/<serial>?17=..&8030=..``."""
    return format_digital_link(ais, base=resolver, check_associations=False)


def payload_for(ais: Sequence[AIPair], carrier: str, resolver: str) -> str:
    """What the carrier encodes: the Digital Link URI for QR, the element string for DataMatrix."""
    if carrier == "qr":
        return digital_link(ais, resolver)
    if carrier == "datamatrix":
        return element_string(ais)
    raise InvalidInput(f"unknown carrier {carrier!r}: use qr or datamatrix")


class UnitFormatter:
    """Signs and formats the units of one batch quickly.

    Everything but the serial and the signature is the same for every unit of
    a batch, so the per-batch text is produced once by the real formatters
    (``authn.signing``, :func:`digital_link`, :func:`element_string`, which
    validate every AI) and a unit only fills in its serial and signature. The
    constructor checks the shortcut against the full path once.
    """

    def __init__(self, template: ProductCode, resolver: str) -> None:
        self.template = template
        self.resolver = resolver
        chars = len(template.serial)

        def canonical(serial: str, signature: str) -> str:
            # The signed text has no signature; a dummy one at the end gives
            # the template its second hole, and signed_message leaves it out.
            return canonical_element_string(replace(template, serial=serial)) + signature

        def ais(serial: str, signature: str) -> list[AIPair]:
            return [
                *replace(template, serial=serial).ais(with_signature=False),
                (AI_SIGNATURE, signature),
            ]

        def holes(render: Callable[[str, str], str]) -> Template:
            widths = {"serial": chars, "signature": DIGSIG_CHARS}
            return Template(lambda v: render(v["serial"], v["signature"]), widths)

        self._canonical = holes(canonical)
        self._link = holes(lambda s, g: digital_link(ais(s, g), resolver))
        self._fnc1 = holes(lambda s, g: element_string(ais(s, g)))
        self._self_check(ais)

    def _self_check(self, ais: Callable[[str, str], list[AIPair]]) -> None:
        serial, signature = "7" * len(self.template.serial), "x" * DIGSIG_CHARS
        code = replace(self.template, serial=serial)
        expected = (
            signed_message(code, b"kid"),
            digital_link(ais(serial, signature), self.resolver),
            element_string(ais(serial, signature)),
        )
        got = (
            self.signed_message(serial, b"kid"),
            self.digital_link(serial, signature),
            self.element_string(serial, signature),
        )
        if got != expected:
            raise InvalidInput("the fast formatter disagrees with the reference formatter")

    def signed_message(self, serial: str, kid: bytes) -> bytes:
        """What authn.signing.signed_message gives for the template with ``serial``."""
        canonical = self._canonical.fill(serial=serial, signature="")
        return DOMAIN_TAG + kid + canonical.encode("ascii")

    def digital_link(self, serial: str, signature: str) -> str:
        return self._link.fill(serial=serial, signature=signature)

    def element_string(self, serial: str, signature: str) -> str:
        return self._fnc1.fill(serial=serial, signature=signature)
