"""The product code: a serialised GTIN with its optional lot, expiry and signature.

A :class:`ProductCode` is the canonical, validated form of what a label
carries, independent of the carrier syntax (Digital Link URI, bracketed or
FNC1 element string). Parsing the syntaxes lives in :mod:`authn.element_string`,
:mod:`authn.digital_link` and :mod:`authn.scan`; this module only decides
what a valid product code is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from authn.ai import validate_associations, validate_value
from authn.errors import GS1SyntaxError
from authn.gs1 import normalise_gtin

AIPair = tuple[str, str]

AI_GTIN = "01"
AI_LOT = "10"
AI_EXPIRY = "17"
AI_SERIAL = "21"
AI_SIGNATURE = "8030"

_NAMED = frozenset({AI_GTIN, AI_LOT, AI_EXPIRY, AI_SERIAL, AI_SIGNATURE})


@dataclass(frozen=True)
class ProductCode:
    """One unit's identity and signature.

    ``extra`` holds every other AI on the label, sorted by AI, so that two
    labels with the same data compare equal whatever order they were written in.
    """

    gtin: str
    serial: str
    lot: str | None = None
    expiry: str | None = None
    extra: tuple[AIPair, ...] = field(default_factory=tuple)
    signature: str | None = None

    def __post_init__(self) -> None:
        # Construction is the one door: a ProductCode that exists is valid.
        object.__setattr__(self, "gtin", normalise_gtin(self.gtin))
        validate_value(AI_SERIAL, self.serial)
        if self.lot is not None:
            validate_value(AI_LOT, self.lot)
        if self.expiry is not None:
            validate_value(AI_EXPIRY, self.expiry)
        if self.signature is not None:
            validate_value(AI_SIGNATURE, self.signature)
        seen: set[str] = set()
        for ai, value in self.extra:
            if ai in _NAMED:
                raise GS1SyntaxError("this AI has its own field; do not pass it in extra", ai=ai)
            if ai in seen:
                raise GS1SyntaxError("AI appears twice", ai=ai)
            seen.add(ai)
            validate_value(ai, value)
        object.__setattr__(self, "extra", tuple(sorted(self.extra)))
        validate_associations(self.ais())

    @classmethod
    def from_ais(cls, ais: Iterable[AIPair]) -> ProductCode:
        """Build from (AI, value) pairs in any order.

        An AI given twice with the same value counts once (GS1 tolerates that);
        given twice with different values it is an error.
        """
        values: dict[str, str] = {}
        for ai, value in ais:
            if ai in values and values[ai] != value:
                raise GS1SyntaxError(
                    f"AI appears twice with different values ({values[ai]!r}, {value!r})", ai=ai
                )
            values[ai] = value
        if AI_GTIN not in values:
            raise GS1SyntaxError("a product code needs a GTIN (AI 01)")
        if AI_SERIAL not in values:
            raise GS1SyntaxError("a product code needs a serial number (AI 21)")
        return cls(
            gtin=values.pop(AI_GTIN),
            serial=values.pop(AI_SERIAL),
            lot=values.pop(AI_LOT, None),
            expiry=values.pop(AI_EXPIRY, None),
            signature=values.pop(AI_SIGNATURE, None),
            extra=tuple(values.items()),
        )

    def ais(self, *, with_signature: bool = True) -> list[AIPair]:
        """The code's AIs in canonical order (sorted by AI, which GS1 makes prefix-free)."""
        pairs: list[AIPair] = [(AI_GTIN, self.gtin), (AI_SERIAL, self.serial)]
        if self.lot is not None:
            pairs.append((AI_LOT, self.lot))
        if self.expiry is not None:
            pairs.append((AI_EXPIRY, self.expiry))
        if with_signature and self.signature is not None:
            pairs.append((AI_SIGNATURE, self.signature))
        pairs.extend(self.extra)
        return sorted(pairs)

    def unsigned(self) -> ProductCode:
        return replace(self, signature=None)

    def with_signature(self, signature: str) -> ProductCode:
        return replace(self, signature=signature)

    @property
    def key_id(self) -> str | None:
        """The key id written in the signature (its first four characters), if any."""
        return self.signature[:4] if self.signature else None

    def bracketed(self) -> str:
        """``(AI)value...`` of :meth:`ais`, as :func:`authn.element_string.format_bracketed`
        writes it, without checking the values again: construction checked them."""
        return "".join(f"({ai})" + value.replace("(", "\\(") for ai, value in self.ais())

    def identity(self) -> tuple[str, str]:
        """What makes a unit unique: (GTIN, serial)."""
        return (self.gtin, self.serial)
