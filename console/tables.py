"""The console's tables: a table at a desk, one card per row on a phone.

Every console table is drawn here, so that none can forget its card labels: each cell
carries its column's name (``data-label``), which the stylesheet writes before the value
when the screen is narrower than 48 rem. No script is involved; on paper and on a wide
screen it is a plain table with its header row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Row:
    """One row: its cells as HTML (already escaped) and the ``<tr>``'s own attributes."""

    cells: Sequence[str]
    attrs: str = ""


def card_table(ident: str, columns: Sequence[str], rows: Iterable[Row]) -> str:
    """A table with id ``ident`` in its wrapper; each cell's content is one block (``.v``),
    so that a cell holding text and links stays one value beside its label on a card."""
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)
    body = []
    for row in rows:
        if len(row.cells) != len(columns):
            raise ValueError(f"table {ident}: {len(row.cells)} cells for {len(columns)} columns")
        cells = "".join(
            f'<td data-label="{escape(c)}"><div class="v">{cell}</div></td>'
            for c, cell in zip(columns, row.cells, strict=True)
        )
        body.append(f"<tr{' ' + row.attrs if row.attrs else ''}>{cells}</tr>")
    return (
        f'<div class="table-wrap"><table id="{escape(ident)}" class="cards">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
