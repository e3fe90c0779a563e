"""From scanned text to a :class:`ProductCode`; malformed text is a ``GS1SyntaxError``."""

from __future__ import annotations

from authn.code import ProductCode
from authn.errors import GS1SyntaxError
from authn.scan import parse_scan

MAX_CODE_CHARS = 2048


def parse_code(text: str) -> ProductCode:
    """Any carrier syntax a scanner hands over: Digital Link, element string, AIM-prefixed."""
    if len(text) > MAX_CODE_CHARS:
        raise GS1SyntaxError(f"a scanned code is at most {MAX_CODE_CHARS} characters")
    return ProductCode.from_ais(parse_scan(text).ais)
