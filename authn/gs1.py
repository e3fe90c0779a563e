"""GS1 primitives: check digits, GTIN normalisation, YYMMDD dates.

Pure functions over strings; every failure is a :class:`GS1SyntaxError` that
says what is wrong.
"""

from __future__ import annotations

import calendar
import datetime as dt

from authn.errors import GS1SyntaxError

GTIN_LENGTHS = (8, 12, 13, 14)


def check_digit(data_digits: str) -> str:
    """The GS1 mod-10 check digit for ``data_digits`` (everything but the check digit).

    Weights 3, 1, 3, ... from the rightmost data digit.
    """
    if not data_digits.isdigit() or not data_digits.isascii():
        raise GS1SyntaxError("check digit input must be digits")
    total = 0
    for i, ch in enumerate(reversed(data_digits)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def has_valid_check_digit(digits: str) -> bool:
    return (
        len(digits) >= 2
        and digits.isascii()
        and digits.isdigit()
        and check_digit(digits[:-1]) == digits[-1]
    )


def normalise_gtin(text: str) -> str:
    """A GTIN-8/12/13/14 as its 14-digit form, check digit verified."""
    if not text.isascii() or not text.isdigit():
        raise GS1SyntaxError(f"GTIN must be digits, got {text!r}", ai="01")
    if len(text) not in GTIN_LENGTHS:
        raise GS1SyntaxError(f"GTIN must have 8, 12, 13 or 14 digits, got {len(text)}", ai="01")
    if not has_valid_check_digit(text):
        raise GS1SyntaxError(
            f"GTIN {text} has a wrong check digit (expected {check_digit(text[:-1])})",
            ai="01",
            position=len(text) - 1,
        )
    return text.rjust(14, "0")


def yymmdd_year(yy: int, today: dt.date) -> int:
    """The four-digit year for a two-digit ``yy`` by the GS1 century rule.

    GS1 General Specifications 7.12: with the current year's last two digits
    ``now``, a difference ``yy - now`` of 51..99 means the previous century and
    -99..-50 the next; anything else is this century.
    """
    century, now = divmod(today.year, 100)
    diff = yy - now
    if 51 <= diff <= 99:
        century -= 1
    elif -99 <= diff <= -50:
        century += 1
    return century * 100 + yy


def check_yymmdd(value: str, *, zero_day: bool, ai: str | None = None) -> None:
    """Raise unless ``value`` is a syntactically valid GS1 YYMMDD date.

    ``zero_day`` allows DD=00 (meaning the last day of the month), as AI 17 does.
    The year is not resolved here: 29 February is accepted for any YY, because
    the century of a date depends on the day it is read (see :func:`yymmdd_to_date`).
    This lenient check is for dates already stored; data being parsed or issued
    goes through GS1's linter (:mod:`authn.linters`), which refuses 29 February
    unless YY is divisible by 4.
    """
    if len(value) != 6 or not value.isascii() or not value.isdigit():
        raise GS1SyntaxError(f"date must be YYMMDD (6 digits), got {value!r}", ai=ai)
    month, day = int(value[2:4]), int(value[4:6])
    if not 1 <= month <= 12:
        raise GS1SyntaxError(f"month {value[2:4]} is not 01-12", ai=ai, position=2)
    if day == 0:
        if not zero_day:
            raise GS1SyntaxError("day 00 is not allowed here", ai=ai, position=4)
        return
    longest = 29 if month == 2 else calendar.monthrange(2001, month)[1]
    if day > longest:
        raise GS1SyntaxError(
            f"day {value[4:6]} does not exist in month {month:02d}", ai=ai, position=4
        )


def yymmdd_to_date(value: str, today: dt.date) -> dt.date:
    """The calendar date of a YYMMDD value as read on ``today``.

    DD=00 stands for the last day of the month (GS1 rule for expiry dates).
    """
    check_yymmdd(value, zero_day=True)
    year = yymmdd_year(int(value[:2]), today)
    month, day = int(value[2:4]), int(value[4:6])
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        day = last
    if day > last:
        raise GS1SyntaxError(f"{value}: 29 February does not exist in {year}")
    return dt.date(year, month, day)
