"""The GS1 Application Identifiers sealtrace understands, as data.

Every AI, its components, character sets, linters, pairing rules and Digital
Link roles come from GS1's Barcode Syntax Dictionary, generated into
:mod:`authn.gs1_dictionary` by ``tools/make_ai_table.py`` (the release is
:data:`DICTIONARY_RELEASE`). Nothing here is written by hand except the
shapes the data takes:

- a component is ``N``/``X``/``Y``/``Z`` (digits, CSET 82, CSET 39, CSET 64
  i.e. base64url) with a fixed length or a maximum, possibly optional at the
  end of the value, with the dictionary's linters (:mod:`authn.linters`);
- ``requires``: every entry must hold, by one of its alternatives, each a set
  of AI patterns that must all be present (``req=01+21,8006``);
- ``excludes``: AI patterns that must not be present (``ex=310n``; an AI
  never excludes itself);
- ``dl_qualifiers``: for a Digital Link primary key, the qualifier sequences
  its path may carry, in order (``dlpkey=22,10,21|235``).

``predefined_length`` is the dictionary's ``*`` flag: only those AIs may be
followed by the next AI without an FNC1 separator. It agrees with the GS1
General Specifications' table of predefined-length prefixes
(:data:`PREDEFINED_LENGTH_PREFIXES`), which a test checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from authn.errors import GS1SyntaxError
from authn.gs1_dictionary import ENTRIES_JSON, RELEASE

Charset = Literal["N", "X", "Y", "Z"]

DICTIONARY_RELEASE = RELEASE

# GS1 General Specifications, "element strings with predefined length": the
# first two digits of the AI -> length of AI plus data. 04 and 18-19 are
# reserved there for future use, which is why they appear although no AI uses
# them yet. Kept as a cross-check of the dictionary's "*" flags.
# fmt: off
PREDEFINED_LENGTH_PREFIXES: Mapping[str, int] = {
    "00": 20, "01": 16, "02": 16, "03": 16, "04": 18,
    "11": 8, "12": 8, "13": 8, "14": 8, "15": 8, "16": 8, "17": 8, "18": 8, "19": 8,
    "20": 4,
    "31": 10, "32": 10, "33": 10, "34": 10, "35": 10, "36": 10,
    "41": 16,
}
# fmt: on


@dataclass(frozen=True, slots=True)
class Component:
    """One part of an AI's value, e.g. the N13 of a GLN or the X..17 after it."""

    charset: Charset
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]

    @property
    def fixed(self) -> bool:
        return self.min_length == self.max_length


@dataclass(frozen=True, slots=True)
class AISpec:
    """What GS1 says about one Application Identifier."""

    ai: str
    title: str
    components: tuple[Component, ...]
    predefined_length: bool
    """True when no FNC1/GS separator is needed after this AI's value."""
    dl_attribute: bool
    """True when the AI may appear in a Digital Link query string."""
    dl_qualifiers: tuple[tuple[str, ...], ...] | None
    """``None`` unless a Digital Link primary key; then the allowed qualifier sequences."""
    requires: tuple[tuple[tuple[str, ...], ...], ...]
    """Every entry must hold: one of its alternatives, each a set of AI patterns, is present."""
    excludes: tuple[str, ...]
    """AI patterns that must not be present together with this AI."""
    min_length: int
    """Shortest value: the mandatory components at their minimum."""
    max_length: int

    @property
    def fixed_length(self) -> bool:
        return self.min_length == self.max_length

    @property
    def dl_primary_key(self) -> bool:
        return self.dl_qualifiers is not None


def _spec(entry: list[Any]) -> AISpec:
    """One entry of the generated JSON (lists) as an :class:`AISpec` (tuples throughout)."""
    ai, predefined, dl_attribute, parts, requires, excludes, dl, title = entry
    components = tuple(
        Component(cast(Charset, c), low, high, optional, tuple(linters))
        for c, low, high, optional, linters in parts
    )
    return AISpec(
        ai=ai,
        title=title,
        components=components,
        predefined_length=predefined,
        dl_attribute=dl_attribute,
        dl_qualifiers=None if dl is None else tuple(tuple(q) for q in dl),
        requires=tuple(tuple(tuple(a) for a in rule) for rule in requires),
        excludes=tuple(excludes),
        min_length=sum(c.min_length for c in components if not c.optional),
        max_length=sum(c.max_length for c in components),
    )


AI_TABLE: Mapping[str, AISpec] = {spec.ai: spec for spec in map(_spec, json.loads(ENTRIES_JSON))}
"""Every AI of the dictionary (ranges expanded) -> its spec."""

LINTERS = frozenset(
    name for spec in AI_TABLE.values() for c in spec.components for name in c.linters
)
"""Every linter the dictionary names; :mod:`authn.linters` implements each."""

# AI length by its first two digits: GS1 allocates AIs so that all AIs
# starting with the same two digits have the same length.
AI_LENGTH_BY_PREFIX: Mapping[str, int] = {spec.ai[:2]: len(spec.ai) for spec in AI_TABLE.values()}


def ai_spec(ai: str) -> AISpec:
    """The spec of ``ai``; a :class:`GS1SyntaxError` when sealtrace does not know it."""
    spec = AI_TABLE.get(ai)
    if spec is None:
        if not (ai.isascii() and ai.isdigit() and 2 <= len(ai) <= 4):
            raise GS1SyntaxError(f"{ai!r} is not an Application Identifier (2-4 digits)")
        raise GS1SyntaxError("unknown Application Identifier", ai=ai)
    return spec


def ai_at(data: str, pos: int) -> AISpec | None:
    """The AI that ``data`` starts with at ``pos``, if any.

    GS1 allocates AIs so that no AI is a prefix of another and all AIs with
    the same first two digits have the same length, so one lookup decides.
    """
    length = AI_LENGTH_BY_PREFIX.get(data[pos : pos + 2])
    if length is None:
        return None
    return AI_TABLE.get(data[pos : pos + length])


def matches(pattern: str, ai: str) -> bool:
    """Whether ``ai`` matches a rule pattern such as ``310n`` or ``31nn`` (n: any digit)."""
    return len(pattern) == len(ai) and all(p in ("n", a) for p, a in zip(pattern, ai, strict=True))
