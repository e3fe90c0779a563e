"""The GS1 Application Identifiers sealtrace understands, as data.

The table below is written in sealtrace's own compact form, from the GS1
General Specifications (section 3, "GS1 Application Identifier definitions")
and the GS1 Digital Link URI syntax. One line per AI (or AI range)::

    AI[-AI]  [?]  COMPONENT...  [RULE...]  # TITLE

- ``?`` marks an AI that may appear as a Digital Link query attribute.
- A component is ``N``/``X``/``Y``/``Z`` (digits, CSET 82, CSET 39, CSET 64
  i.e. base64url) with a fixed length (``N14``) or a maximum (``X..20``),
  optionally wrapped in ``[...]`` (may be left out at the end of the value) and
  followed by ``:linter`` checks (``N6:yymmd0``, ``N13:csum``).
- ``req=A,B+C`` means "needs A, or B together with C"; several ``req=`` must
  all hold. ``ex=A,31nn`` means "never together with A or any 31xx" (``n`` is
  any digit; an AI never excludes itself).
- ``dl`` marks a Digital Link primary key without qualifiers, ``dl=22,10,21|235``
  one whose path may carry the listed qualifiers, in that order, from one of
  the ``|``-separated alternatives.

Whether an AI needs an FNC1 separator after it is not written per line: it
follows from the GS1 table of predefined-length AI prefixes
(:data:`PREDEFINED_LENGTH_PREFIXES`), as the General Specifications define it.

Linters enforced here: ``csum`` (GS1 mod-10 check digit), ``yymmdd``,
``yymmd0`` (YYMMDD, DD=00 allowed), ``hhmi``, ``zero``, ``pieceoftotal``,
``nozeroprefix``, ``importeridx``. Not enforced (they need registries outside
this table): GS1 company prefix position, ISO 3166 country and ISO 4217
currency code lists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

from authn.errors import GS1SyntaxError

Charset = Literal["N", "X", "Y", "Z"]

LINTERS = frozenset(
    {"csum", "yymmdd", "yymmd0", "hhmi", "zero", "pieceoftotal", "nozeroprefix", "importeridx"}
)

# GS1 General Specifications, "element strings with predefined length": the
# first two digits of the AI -> length of AI plus data. Only these AIs may be
# followed by the next AI without an FNC1/GS separator. 04 and 18-19 are
# reserved there for future use, which is why they appear although no AI uses
# them yet.
# fmt: off
PREDEFINED_LENGTH_PREFIXES: Mapping[str, int] = {
    "00": 20, "01": 16, "02": 16, "03": 16, "04": 18,
    "11": 8, "12": 8, "13": 8, "14": 8, "15": 8, "16": 8, "17": 8, "18": 8, "19": 8,
    "20": 4,
    "31": 10, "32": 10, "33": 10, "34": 10, "35": 10, "36": 10,
    "41": 16,
}
# fmt: on

_TRADE = "req=01,02"
_LOGISTIC = "req=00,01"

_TABLE = f"""
00        ?  N18:csum                      dl                                 # SSCC
01        ?  N14:csum                      ex=255,37 dl=22,10,21|235          # GTIN
02        ?  N14:csum                      ex=01,03 req=37                    # CONTENT
03           N14:csum                      ex=01,02,37                        # MTO GTIN
10        ?  X..20                         req=01,02,03,8006,8026             # BATCH/LOT
11        ?  N6:yymmd0                     req=01,02,03,8006,8026             # PROD DATE
12        ?  N6:yymmd0                     req=8020                           # DUE DATE
13        ?  N6:yymmd0                     req=01,02,03,8006,8026             # PACK DATE
15        ?  N6:yymmd0                     req=01,02,03,8006,8026             # BEST BEFORE
16        ?  N6:yymmd0                     req=01,02,03,8006,8026             # SELL BY
17        ?  N6:yymmd0                     req=01,02,03,255,8006,8026         # USE BY / EXPIRY
20        ?  N2                            req=01,02,8006,8026                # VARIANT
21           X..20                         req=01,03,8006 ex=235              # SERIAL
22           X..20                         req=01                             # CPV
235          X..28                         req=01                             # TPX
240       ?  X..30                         req=01,02,8006,8026                # ADDITIONAL ID
241       ?  X..30                         req=01,02,8006,8026                # CUST. PART No.
242       ?  N..6                          req=01,02,8006,8026                # MTO VARIANT
250       ?  X..30                         req=01,8006 req=21                 # SECONDARY SERIAL
251       ?  X..30                         req=01,8006                        # REF. TO SOURCE
253       ?  N13:csum [X..17]              dl                                 # GDTI
254          X..20                         req=414                            # GLN EXTENSION
255       ?  N13:csum [N..12]              dl ex=01,02,415,8006,8020,8026     # GCN
30        ?  N..8                          req=01,02                          # VAR. COUNT
3100-3105 ?  N6   {_TRADE} ex=310n      # NET WEIGHT (kg)
3110-3115 ?  N6   {_TRADE} ex=311n      # LENGTH (m)
3120-3125 ?  N6   {_TRADE} ex=312n      # WIDTH (m)
3130-3135 ?  N6   {_TRADE} ex=313n      # HEIGHT (m)
3140-3145 ?  N6   {_TRADE} ex=314n      # AREA (m2)
3150-3155 ?  N6   {_TRADE} ex=315n      # NET VOLUME (l)
3160-3165 ?  N6   {_TRADE} ex=316n      # NET VOLUME (m3)
3200-3205 ?  N6   {_TRADE} ex=320n      # NET WEIGHT (lb)
3210-3215 ?  N6   {_TRADE} ex=321n      # LENGTH (in)
3220-3225 ?  N6   {_TRADE} ex=322n      # LENGTH (ft)
3230-3235 ?  N6   {_TRADE} ex=323n      # LENGTH (yd)
3240-3245 ?  N6   {_TRADE} ex=324n      # WIDTH (in)
3250-3255 ?  N6   {_TRADE} ex=325n      # WIDTH (ft)
3260-3265 ?  N6   {_TRADE} ex=326n      # WIDTH (yd)
3270-3275 ?  N6   {_TRADE} ex=327n      # HEIGHT (in)
3280-3285 ?  N6   {_TRADE} ex=328n      # HEIGHT (ft)
3290-3295 ?  N6   {_TRADE} ex=329n      # HEIGHT (yd)
3300-3305 ?  N6   {_LOGISTIC} ex=330n   # GROSS WEIGHT (kg)
3310-3315 ?  N6   {_LOGISTIC} ex=331n   # LENGTH (m), logistics
3320-3325 ?  N6   {_LOGISTIC} ex=332n   # WIDTH (m), logistics
3330-3335 ?  N6   {_LOGISTIC} ex=333n   # HEIGHT (m), logistics
3340-3345 ?  N6   {_LOGISTIC} ex=334n   # AREA (m2), logistics
3350-3355 ?  N6   {_LOGISTIC} ex=335n   # VOLUME (l), logistics
3360-3365 ?  N6   {_LOGISTIC} ex=336n   # VOLUME (m3), logistics
3370-3375 ?  N6   req=01 ex=337n        # KG PER m2
3400-3405 ?  N6   {_LOGISTIC} ex=340n   # GROSS WEIGHT (lb)
3410-3415 ?  N6   {_LOGISTIC} ex=341n   # LENGTH (in), logistics
3420-3425 ?  N6   {_LOGISTIC} ex=342n   # LENGTH (ft), logistics
3430-3435 ?  N6   {_LOGISTIC} ex=343n   # LENGTH (yd), logistics
3440-3445 ?  N6   {_LOGISTIC} ex=344n   # WIDTH (in), logistics
3450-3455 ?  N6   {_LOGISTIC} ex=345n   # WIDTH (ft), logistics
3460-3465 ?  N6   {_LOGISTIC} ex=346n   # WIDTH (yd), logistics
3470-3475 ?  N6   {_LOGISTIC} ex=347n   # HEIGHT (in), logistics
3480-3485 ?  N6   {_LOGISTIC} ex=348n   # HEIGHT (ft), logistics
3490-3495 ?  N6   {_LOGISTIC} ex=349n   # HEIGHT (yd), logistics
3500-3505 ?  N6   {_TRADE} ex=350n      # AREA (in2)
3510-3515 ?  N6   {_TRADE} ex=351n      # AREA (ft2)
3520-3525 ?  N6   {_TRADE} ex=352n      # AREA (yd2)
3530-3535 ?  N6   {_LOGISTIC} ex=353n   # AREA (in2), logistics
3540-3545 ?  N6   {_LOGISTIC} ex=354n   # AREA (ft2), logistics
3550-3555 ?  N6   {_LOGISTIC} ex=355n   # AREA (yd2), logistics
3560-3565 ?  N6   {_TRADE} ex=356n      # NET WEIGHT (troy oz)
3570-3575 ?  N6   {_TRADE} ex=357n      # NET VOLUME (oz)
3600-3605 ?  N6   {_TRADE} ex=360n      # NET VOLUME (qt)
3610-3615 ?  N6   {_TRADE} ex=361n      # NET VOLUME (gal)
3620-3625 ?  N6   {_LOGISTIC} ex=362n   # VOLUME (qt), logistics
3630-3635 ?  N6   {_LOGISTIC} ex=363n   # VOLUME (gal), logistics
3640-3645 ?  N6   {_TRADE} ex=364n      # NET VOLUME (in3)
3650-3655 ?  N6   {_TRADE} ex=365n      # NET VOLUME (ft3)
3660-3665 ?  N6   {_TRADE} ex=366n      # NET VOLUME (yd3)
3670-3675 ?  N6   {_LOGISTIC} ex=367n   # VOLUME (in3), logistics
3680-3685 ?  N6   {_LOGISTIC} ex=368n   # VOLUME (ft3), logistics
3690-3695 ?  N6   {_LOGISTIC} ex=369n   # VOLUME (yd3), logistics
3900-3909 ?  N..15  req=255,8020 ex=390n,391n,394n,8111                        # AMOUNT
3910-3919 ?  N3 N..15  req=8020 ex=391n                                         # AMOUNT (ISO)
3920-3929 ?  N..15  req=01 req=30,31nn,32nn,35nn,36nn ex=392n,393n            # PRICE
3930-3939 ?  N3 N..15  req=30,31nn,32nn,35nn,36nn ex=393n                       # PRICE (ISO)
3940-3943 ?  N4     req=255 ex=394n,8111                                      # PRCNT OFF
3950-3955 ?  N6     req=30,31nn,32nn,35nn,36nn ex=392n,393n,395n,8005         # PRICE/UoM
37        ?  N..8                          req=00 req=02,8026                 # COUNT
400       ?  X..30                                                            # ORDER NUMBER
401       ?  X..30                         dl                                 # GINC
402       ?  N17:csum                      dl                                 # GSIN
403       ?  X..30                         req=00                             # ROUTE
410       ?  N13:csum                                                         # SHIP TO LOC
411       ?  N13:csum                                                         # BILL TO
412       ?  N13:csum                                                         # PURCHASE FROM
413       ?  N13:csum                                                         # SHIP FOR LOC
414       ?  N13:csum                      dl=254|7040                        # LOC No.
415       ?  N13:csum                      req=8020 dl=8020                   # PAY TO
416       ?  N13:csum                                                         # PROD/SERV LOC
417       ?  N13:csum                      dl=7040                            # PARTY
420       ?  X..20                         ex=421                             # SHIP TO POST
421       ?  N3 X..9                       ex=4307                            # SHIP TO POST
422       ?  N3                            req=01,02,8006,8026 ex=426         # ORIGIN
7003      ?  N6:yymmdd N4:hhmi             req=01,02                          # EXPIRY TIME
7040         N1 X1 X1 X1:importeridx                                          # UIC+EXT
7240      ?  X..20                         req=01,8006                        # PROTOCOL
8003      ?  N1:zero N13:csum [X..16]      dl                                 # GRAI
8004      ?  X..30                         dl=7040                            # GIAI
8006      ?  N14:csum N4:pieceoftotal      ex=01,37 dl=22,10,21               # ITIP
8010      ?  Y..30                         dl=8011                            # CPID
8011         N..12:nozeroprefix            req=8010                           # CPID SERIAL
8017      ?  N18:csum                      ex=8018 dl=8019                    # GSRN - PROVIDER
8018      ?  N18:csum                      ex=8017 dl=8019                    # GSRN - RECIPIENT
8019         N..10                         req=8017,8018                      # SRIN
8020         X..25                         req=415                            # REF No.
8026      ?  N14:csum N4:pieceoftotal      req=37 ex=02,8006                  # ITIP CONTENT
8030      ?  Z..90  req=00,01+21,253,255,8003,8004,8006+21,8010+8011,8017,8018 # DIGSIG
90        ?  X..30                                                            # INTERNAL
91-99     ?  X..90                                                            # INTERNAL
"""


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

    @property
    def min_length(self) -> int:
        return sum(c.min_length for c in self.components if not c.optional)

    @property
    def max_length(self) -> int:
        return sum(c.max_length for c in self.components)

    @property
    def fixed_length(self) -> bool:
        return self.min_length == self.max_length

    @property
    def dl_primary_key(self) -> bool:
        return self.dl_qualifiers is not None


_COMPONENT = re.compile(r"(\[)?([NXYZ])(\.\.)?(\d+)(\])?((?::[a-z0-9]+)*)")
_AI_RANGE = re.compile(r"(\d{2,4})(?:-(\d{2,4}))?")


def _parse_component(text: str) -> Component:
    match = _COMPONENT.fullmatch(text)
    if match is None or bool(match[1]) != bool(match[5]):
        raise ValueError(f"bad component {text!r} in the AI table")
    linters = tuple(name for name in match[6].split(":") if name)
    unknown = set(linters) - LINTERS
    if unknown:
        raise ValueError(f"unknown linter {sorted(unknown)} in the AI table")
    length = int(match[4])
    return Component(
        charset=cast(Charset, match[2]),
        min_length=1 if match[3] else length,
        max_length=length,
        optional=bool(match[1]),
        linters=linters,
    )


def _parse_line(line: str) -> list[AISpec]:
    body, _, title = line.partition("#")
    words = body.split()
    range_match = _AI_RANGE.fullmatch(words[0])
    if range_match is None:
        raise ValueError(f"bad AI {words[0]!r} in the AI table")
    first, last = range_match[1], range_match[2] or range_match[1]
    dl_attribute = len(words) > 1 and words[1] == "?"
    components: list[Component] = []
    requires: list[tuple[tuple[str, ...], ...]] = []
    excludes: list[str] = []
    dl_qualifiers: tuple[tuple[str, ...], ...] | None = None
    for word in words[2 if dl_attribute else 1 :]:
        if word.startswith("req="):
            requires.append(tuple(tuple(alt.split("+")) for alt in word[4:].split(",")))
        elif word.startswith("ex="):
            excludes.extend(word[3:].split(","))
        elif word == "dl":
            dl_qualifiers = ((),)
        elif word.startswith("dl="):
            dl_qualifiers = tuple(tuple(seq.split(",")) for seq in word[3:].split("|"))
        else:
            components.append(_parse_component(word))
    if not components:
        raise ValueError(f"AI {words[0]} has no format in the AI table")
    width = len(first)
    return [
        AISpec(
            ai=str(number).zfill(width),
            title=title.strip(),
            components=tuple(components),
            predefined_length=str(number).zfill(width)[:2] in PREDEFINED_LENGTH_PREFIXES,
            dl_attribute=dl_attribute,
            dl_qualifiers=dl_qualifiers,
            requires=tuple(requires),
            excludes=tuple(excludes),
        )
        for number in range(int(first), int(last) + 1)
    ]


def _parse_table(text: str) -> dict[str, AISpec]:
    table: dict[str, AISpec] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        for spec in _parse_line(line):
            if spec.ai in table:
                raise ValueError(f"AI {spec.ai} is twice in the AI table")
            table[spec.ai] = spec
    return table


AI_TABLE: Mapping[str, AISpec] = _parse_table(_TABLE)
"""Every known AI (ranges expanded) -> its spec."""


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

    GS1 allocates AIs so that no AI is a prefix of another, so at most one of
    the 2-, 3- and 4-digit candidates can be known.
    """
    for length in (2, 3, 4):
        spec = AI_TABLE.get(data[pos : pos + length])
        if spec is not None:
            return spec
    return None


def matches(pattern: str, ai: str) -> bool:
    """Whether ``ai`` matches a rule pattern such as ``310n`` or ``31nn`` (n: any digit)."""
    return len(pattern) == len(ai) and all(p in ("n", a) for p, a in zip(pattern, ai, strict=True))
