"""Every linter GS1's Barcode Syntax Dictionary names, as pure functions.

A linter checks one component of an AI value (after its character set and
length have been checked). Each takes the component text and raises
:class:`GS1SyntaxError` with the 0-based offset of the fault in the component;
:data:`LINTERS` maps the dictionary's names to them. The behaviour follows
GS1's reference linters (GS1 General Specifications; gs1-syntax-engine):

- dates: ``yymmdd`` (no DD=00), ``yymmd0`` (DD=00 allowed), ``yyyymmdd``; 29
  February only in leap years (for two-digit years, YY divisible by 4, as
  GS1's linter rules: the century is not known from the data);
- times: ``hh``, ``mi``, ``ss``, ``hhmi``;
- check characters: ``csum`` (mod 10), ``csumalpha`` (GS1 alphanumeric
  check character pair), ``iban`` (ISO 13616 mod 97);
- key structure: ``gcppos1``/``gcppos2`` (a GS1 Company Prefix, at least
  four digits, at position 1 or 2; without an online prefix registry this is
  the whole check, exactly as the reference does by default);
- code lists: ``iso3166``, ``iso3166999``, ``iso3166alpha2``, ``iso4217``,
  ``iso5218`` (generated from pycountry into :mod:`authn.gs1_dictionary`),
  ``mediatype``; ``packagetype`` checks the shape of a PackageTypeCode (one to
  three upper-case letters or digits), because no maintained package ships
  GS1's code list;
- small rules: ``zero``, ``nonzero``, ``nozeroprefix``, ``yesno``, ``winding``,
  ``hyphen``, ``hasnondigit``, ``pieceoftotal``, ``posinseqslash``,
  ``importeridx``, ``pcenc``, ``latitude``, ``longitude``;
- coupons: ``couponcode`` (AI 8110) and ``couponposoffer`` (AI 8112).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable

from authn.errors import GS1SyntaxError
from authn.gs1 import check_digit
from authn.gs1_dictionary import ISO3166_ALPHA2, ISO3166_NUMERIC, ISO4217_NUMERIC, ISO5218

Linter = Callable[[str], None]

CSET82_ORDERED = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
CSET32_ORDERED = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CSET64 = frozenset("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_HEX = frozenset("0123456789ABCDEFabcdef")
_PACKAGE_TYPE_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MEDIA_TYPES = frozenset(f"{n:02d}" for n in (*range(1, 11), *range(80, 100)))
# The prime weights of the alphanumeric check pair, from the right: the first
# 97 primes cover the longest AI value (99 characters) less its pair.
_PRIMES = tuple(n for n in range(2, 510) if all(n % d for d in range(2, int(n**0.5) + 1)))


def fail(message: str, position: int = 0) -> GS1SyntaxError:
    return GS1SyntaxError(message, position=position)


def _digits(part: str) -> None:
    for pos, char in enumerate(part):
        if not "0" <= char <= "9":
            raise fail(f"character {char!r} is not a digit", pos)


def csum(part: str) -> None:
    expected = check_digit(part[:-1]) if len(part) > 1 else "0"
    if part[-1] != expected:
        raise fail(f"wrong check digit {part[-1]} (expected {expected})", len(part) - 1)


def csumalpha(part: str) -> None:
    if len(part) < 2:
        raise fail("too short for a check character pair")
    for pos, char in enumerate(part[:-2]):
        if char not in CSET82_ORDERED:
            raise fail(f"character {char!r} is not allowed here (GS1 CSET 82)", pos)
    for pos, char in enumerate(part[-2:], start=len(part) - 2):
        if char not in CSET32_ORDERED:
            raise fail(f"check character {char!r} is not in GS1 CSET 32", pos)
    data = part[:-2]
    total = sum(
        CSET82_ORDERED.index(char) * _PRIMES[len(data) - 1 - i] for i, char in enumerate(data)
    )
    total %= 1021
    expected = CSET32_ORDERED[total >> 5] + CSET32_ORDERED[total & 31]
    if part[-2:] != expected:
        raise fail(f"wrong check character pair {part[-2:]} (expected {expected})", len(part) - 2)


def _gcp(part: str, start: int) -> None:
    prefix = part[start : start + 4]
    if len(part) - start < 4:
        raise fail("too short to hold a GS1 Company Prefix", start)
    for pos, char in enumerate(prefix, start=start):
        if not "0" <= char <= "9":
            raise fail("a GS1 Company Prefix is digits", pos)


def _month_day(part: str, year_is_leap: bool, *, zero_day: bool, offset: int) -> None:
    month, day = int(part[offset : offset + 2]), int(part[offset + 2 : offset + 4])
    if not 1 <= month <= 12:
        raise fail(f"month {part[offset : offset + 2]} is not 01-12", offset)
    if day == 0:
        if zero_day:
            return
        raise fail("day 00 is not allowed here", offset + 2)
    longest = 29 if month == 2 and year_is_leap else calendar.monthrange(2001, month)[1]
    if not 1 <= day <= longest:
        raise fail(
            f"day {part[offset + 2 : offset + 4]} does not exist in month {month:02d}", offset + 2
        )


def _yymmdd(part: str, *, zero_day: bool) -> None:
    if len(part) != 6:
        raise fail(f"date must be YYMMDD (6 digits), got {part!r}")
    _digits(part)
    _month_day(part, int(part[:2]) % 4 == 0, zero_day=zero_day, offset=2)


def yymmdd(part: str) -> None:
    _yymmdd(part, zero_day=False)


def yymmd0(part: str) -> None:
    _yymmdd(part, zero_day=True)


def yyyymmdd(part: str) -> None:
    if len(part) != 8:
        raise fail(f"date must be YYYYMMDD (8 digits), got {part!r}")
    _digits(part)
    _month_day(part, calendar.isleap(int(part[:4])), zero_day=False, offset=4)


def _upto(part: str, limit: int, what: str) -> None:
    _digits(part)
    if int(part) > limit:
        raise fail(f"{what} {part} is out of range")


def iban(part: str) -> None:
    if len(part) < 4:
        raise fail("too short for an IBAN")
    if part[:2] not in ISO3166_ALPHA2:
        raise fail(f"IBAN country {part[:2]!r} is not an ISO 3166 alpha-2 code")
    if len(part) > 34:
        raise fail("too long for an IBAN")
    if len(part) <= 10:
        raise fail("too short for an IBAN")
    total = 0
    rotated = part[4:] + part[:4]
    for pos, char in enumerate(rotated):
        if not ("0" <= char <= "9" or "A" <= char <= "Z"):
            raise fail(f"character {char!r} is not allowed in an IBAN", (pos + 4) % len(part))
        total = int(str(total) + str(int(char, 36))) % 97
    if total != 1:
        raise fail("wrong IBAN check digits", 2)


def pieceoftotal(part: str) -> None:
    half = len(part) // 2
    piece, total = int(part[:half]), int(part[half:])
    if piece == 0 or total == 0 or piece > total:
        raise fail(f"piece {part[:half]} of total {part[half:]} is not a valid piece number")


def posinseqslash(part: str) -> None:
    pos, slash, end = part.partition("/")
    if not (pos.isdigit() and slash and end.isdigit()) or not part.isascii():
        raise fail("must be <position>/<end>, both numbers")
    if pos[0] == "0":
        raise fail("position must not be zero or start with 0")
    if end[0] == "0":
        raise fail("end must not be zero or start with 0", len(pos) + 1)
    if int(pos) > int(end):
        raise fail(f"position {pos} is after the end {end}")


def pcenc(part: str) -> None:
    for pos, char in enumerate(part):
        if char == "%" and not (len(part) >= pos + 3 and set(part[pos + 1 : pos + 3]) <= _HEX):
            raise fail("'%' must be followed by two hex digits", pos)


def couponposoffer(part: str) -> None:
    _digits(part)
    reader = _CouponReader(part)
    if reader.next("format code") not in "01":
        raise fail("coupon format code must be 0 or 1", 0)
    reader.field(reader.vli("funder length", "0123456"), 6, "funder ID")
    reader.take(6, "offer code")
    reader.field(reader.vli("serial number length", "0123456789"), 6, "serial number")
    reader.end()


def couponcode(part: str) -> None:
    _digits(part)
    r = _CouponReader(part)
    gcp = r.vli("company prefix length", "0123456")
    _gcp(r.take(gcp + 6, "company prefix"), 0)
    r.take(6, "offer code")
    r.field(r.vli("save value length", "12345"), 0, "save value")
    r.purchase("1st")
    if r.peek("1"):
        if r.next("additional purchase rules code") not in "0123":
            raise fail("additional purchase rules code must be 0-3", r.pos - 1)
        r.purchase("2nd")
        r.purchase_gcp()
    if r.peek("2"):
        r.purchase("3rd")
        r.purchase_gcp()
    expiry = start = None
    if r.peek("3"):
        expiry = r.date("expiration date")
    if r.peek("4"):
        start = r.date("start date")
        if expiry is not None and start > expiry:
            raise fail("coupon expires before it starts", r.pos - 6)
    if r.peek("5"):
        r.field(r.vli("serial number length", "0123456789"), 6, "serial number")
    if r.peek("6"):
        _gcp(r.take(r.vli("retailer length", "1234567") + 6, "retailer GCP/GLN"), 0)
    if r.peek("9"):
        if r.next("save value code") not in "01256":
            raise fail("save value code must be 0, 1, 2, 5 or 6", r.pos - 1)
        if r.next("save value applies to item") not in "012":
            raise fail("save value applies-to-item must be 0-2", r.pos - 1)
        r.next("store coupon flag")
        if r.next("don't multiply flag") not in "01":
            raise fail("don't multiply flag must be 0 or 1", r.pos - 1)
    r.end()


class _CouponReader:
    """Reads the variable-length fields of a North American coupon code."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def next(self, what: str) -> str:
        if self.pos >= len(self.text):
            raise fail(f"coupon data ends before its {what}", self.pos)
        self.pos += 1
        return self.text[self.pos - 1]

    def peek(self, indicator: str) -> bool:
        if self.text[self.pos : self.pos + 1] == indicator:
            self.pos += 1
            return True
        return False

    def take(self, length: int, what: str) -> str:
        if len(self.text) - self.pos < length:
            raise fail(f"coupon {what} is truncated", self.pos)
        self.pos += length
        return self.text[self.pos - length : self.pos]

    def vli(self, what: str, allowed: str) -> int:
        char = self.next(what)
        if char not in allowed:
            raise fail(f"coupon {what} indicator {char} is not allowed", self.pos - 1)
        return int(char)

    def field(self, vli: int, plus: int, what: str) -> str:
        return self.take(vli + plus, what)

    def purchase(self, which: str) -> None:
        self.field(self.vli(f"{which} purchase requirement length", "12345"), 0, "requirement")
        if self.next(f"{which} purchase requirement code") not in "012349":
            raise fail(f"{which} purchase requirement code must be 0-4 or 9", self.pos - 1)
        self.take(3, f"{which} purchase family code")

    def purchase_gcp(self) -> None:
        vli = self.vli("purchase company prefix length", "01234569")
        if vli != 9:
            _gcp(self.take(vli + 6, "purchase company prefix"), 0)

    def date(self, what: str) -> str:
        value = self.take(6, what)
        try:
            yymmdd(value)
        except GS1SyntaxError:
            raise fail(f"coupon {what} {value} is not a valid date", self.pos - 6) from None
        return value

    def end(self) -> None:
        if self.pos != len(self.text):
            raise fail("coupon data has excess characters", self.pos)


def _in(codes: frozenset[str], what: str) -> Linter:
    def lint(part: str) -> None:
        if part not in codes:
            raise fail(f"{part!r} is not {what}")

    return lint


def _equal(wanted: str, what: str) -> Linter:
    def lint(part: str) -> None:
        if part != wanted:
            raise fail(f"{part!r} is not {what}")

    return lint


def _one_of(codes: str, what: str) -> Linter:
    def lint(part: str) -> None:
        if len(part) != 1 or part not in codes:
            raise fail(f"{part!r} is not {what}")

    return lint


def _nonzero(part: str) -> None:
    if part.strip("0") == "":
        raise fail("value must not be zero")


def _nozeroprefix(part: str) -> None:
    if len(part) > 1 and part[0] == "0":
        raise fail("value must not start with 0")


def _hasnondigit(part: str) -> None:
    if part.isdigit():
        raise fail("value must hold at least one character that is not a digit")


def _packagetype(part: str) -> None:
    if not 1 <= len(part) <= 3 or not set(part) <= _PACKAGE_TYPE_CHARS:
        raise fail(f"{part!r} is not a package type code")


def _importeridx(part: str) -> None:
    if len(part) != 1 or part not in _CSET64:
        raise fail(f"importer index {part!r} must be one base64url character")


def _hhmi(part: str) -> None:
    _digits(part)
    if int(part[:2]) > 23 or int(part[2:]) > 59:
        raise fail(f"time {part} is not HHMI (00-23 hours, 00-59 minutes)")


LINTERS: dict[str, Linter] = {
    "csum": csum,
    "csumalpha": csumalpha,
    "gcppos1": lambda part: _gcp(part, 0),
    "gcppos2": lambda part: _gcp(part, 1),
    "yymmdd": yymmdd,
    "yymmd0": yymmd0,
    "yyyymmdd": yyyymmdd,
    "hh": lambda part: _upto(part, 23, "hour"),
    "mi": lambda part: _upto(part, 59, "minute"),
    "ss": lambda part: _upto(part, 59, "second"),
    "hhmi": _hhmi,
    "iban": iban,
    "iso3166": _in(ISO3166_NUMERIC, "an ISO 3166 numeric country code"),
    "iso3166999": _in(ISO3166_NUMERIC | {"999"}, "an ISO 3166 numeric country code or 999"),
    "iso3166alpha2": _in(ISO3166_ALPHA2, "an ISO 3166 alpha-2 country code"),
    "iso4217": _in(ISO4217_NUMERIC, "an ISO 4217 numeric currency code"),
    "iso5218": _in(ISO5218, "an ISO/IEC 5218 sex code (0, 1, 2 or 9)"),
    "mediatype": _in(_MEDIA_TYPES, "an AIDC media type (01-10, 80-99)"),
    "packagetype": _packagetype,
    "zero": _equal("0", "0 (digit must be 0)"),
    "nonzero": _nonzero,
    "nozeroprefix": _nozeroprefix,
    "yesno": _one_of("01", "0 or 1"),
    "winding": _one_of("019", "a winding direction (0, 1 or 9)"),
    "hyphen": _equal("-", "a hyphen"),
    "hasnondigit": _hasnondigit,
    "pieceoftotal": pieceoftotal,
    "posinseqslash": posinseqslash,
    "importeridx": _importeridx,
    "pcenc": pcenc,
    "latitude": lambda part: _upto(part, 1_800_000_000, "latitude"),
    "longitude": lambda part: _upto(part, 3_600_000_000, "longitude"),
    "couponcode": couponcode,
    "couponposoffer": couponposoffer,
}
