"""Texts in which only a few fields vary from unit to unit, filled in quickly.

Within a batch, a unit's signed message, Digital Link URI, element string and
manifest row differ from the next unit's only in the serial, the signature
and the sequence number. :class:`Template` renders the text twice through the
real (validating) formatter with two different fillers; the characters that
differ are exactly the holes. Filling a hole afterwards is string joining.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from authn.errors import InvalidInput

Render = Callable[[Mapping[str, str]], str]


class Template:
    """A rendered text with named holes of fixed, pairwise different widths."""

    def __init__(self, render: Render, widths: Mapping[str, int], *, digits: bool = False) -> None:
        # Digits as fillers, for holes that a formatter writes as numbers.
        one, two = ("1", "2") if digits else ("A", "B")
        if len(set(widths.values())) != len(widths):
            raise InvalidInput("template holes must have different widths")
        first = render({name: one * width for name, width in widths.items()})
        second = render({name: two * width for name, width in widths.items()})
        if len(first) != len(second):
            raise InvalidInput("the formatter output depends on more than the holes")
        by_width = {width: name for name, width in widths.items()}
        self._parts: list[str] = []
        self._holes: list[str] = []
        position = start = 0
        while position < len(first):
            if first[position] == second[position]:
                position += 1
                continue
            end = position
            while end < len(first) and first[end] != second[end]:
                end += 1
            name = by_width.get(end - position)
            if name is None:
                raise InvalidInput("cannot tell the holes of a template apart")
            self._parts.append(first[start:position])
            self._holes.append(name)
            position = start = end
        self._parts.append(first[start:])
        # A printf-style pattern does the filling in C: faster than joining
        # the pieces in Python, and than str.format, which parses per call.
        escaped = [part.replace("%", "%%") for part in self._parts]
        self._pattern = escaped[0] + "".join("%s" + part for part in escaped[1:])

    def fill(self, **values: str) -> str:
        return self._pattern % tuple([values[name] for name in self._holes])
