"""GS1 Application Identifier rules (TEMPORARY STUB: replaced by the data-driven table).

Interface:
- validate_value(ai, value): raise GS1SyntaxError unless value is valid for ai.
- validate_associations(ais): raise GS1SyntaxError unless the AI set obeys req/ex rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from authn.errors import GS1SyntaxError
from authn.gs1 import check_yymmdd, normalise_gtin

_CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+")
_CSET64 = re.compile(r"[A-Za-z0-9_\-]+")


def validate_value(ai: str, value: str) -> None:
    if ai == "01":
        normalise_gtin(value)
    elif ai in ("10", "21"):
        if not 1 <= len(value) <= 20 or not _CSET82.fullmatch(value):
            raise GS1SyntaxError("value must be 1-20 characters of CSET 82", ai=ai)
    elif ai == "17":
        check_yymmdd(value, zero_day=True, ai=ai)
    elif ai == "8030":
        if not 1 <= len(value) <= 90 or not _CSET64.fullmatch(value):
            raise GS1SyntaxError("value must be 1-90 characters of CSET 64", ai=ai)


def validate_associations(ais: Sequence[tuple[str, str]]) -> None:
    present = {ai for ai, _ in ais}
    if "8030" in present and not {"01", "21"} <= present:
        raise GS1SyntaxError("AI 8030 requires 01 and 21", ai="8030")
