"""What text the service accepts from callers: Unicode that a database can store.

PostgreSQL refuses NUL in text and every UTF-8 encoder refuses lone surrogates; other
control characters have no business in a device id, a comment or a query. One rule, checked
at the edge (the API's ``Text`` type, the console's forms, the URL of every request), so that
such input is a 4xx answer and never a database error.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 controls and DEL; tab, line feed and carriage return are allowed in free text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def text_problem(value: str, *, multiline: bool = True) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is."""
    if (_CONTROL if multiline else _LINE_CONTROL).search(value):
        return "must not contain NUL or other control characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogates)"
    return None


def check_text(value: str, *, multiline: bool = True) -> str:
    """``value`` itself, or ValueError saying what is wrong with it."""
    problem = text_problem(value, multiline=multiline)
    if problem is not None:
        raise ValueError(problem)
    return value


def _line(value: str) -> str:
    return check_text(value, multiline=False)


# Every text field of every request body is one of these two (re-exported by
# verifier.schemas), so bad text is a 422, never a 500.
Text = Annotated[str, AfterValidator(check_text)]  # free text: comments, notes
Line = Annotated[str, AfterValidator(_line)]  # identifiers and one-line values
