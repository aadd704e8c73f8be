"""Tables, whatever the format: a grid of cells as markdown rows `| a | b |` (the form `qa.tables` parses), or as
plain lines when no cell holds a figure (a menu laid out as a table)."""

from __future__ import annotations

import re

from qa.formats import CJK

FIGURE_CELL = re.compile(r"^[-+－—]?\s*[0-9０-９][0-9０-９,，.．]*\s*(?:[%％‰]|[\u4e00-\u9fff]{1,4})?$")
_LAYOUT_SPACE = re.compile(f"(?<=[{CJK}])\\s+(?=[{CJK}])|(?<=[（(])\\s+|\\s+(?=[)）])")


def cell_text(text: str) -> str:
    """A table cell on one line, as printed: layout spaces between Chinese characters dropped (地区生 产总值 →
    地区生产总值, &ensp; padding), other spaces kept ('434 人'); a '|' inside becomes '｜' so rows stay rows."""
    return _LAYOUT_SPACE.sub("", " ".join(text.split())).replace("|", "｜")


def table_markdown(grid: list[list[str]]) -> str:
    """Rows of cells as markdown rows `| a | b |`, padded to the widest row, empty rows dropped.

    A grid with no figure in any cell (a menu, a list of links laid out as a table) is not data: its
    cells come back as plain lines, one per non-empty cell."""
    rows = [[cell_text(cell) for cell in row] for row in grid]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    has_figure = any(FIGURE_CELL.match(cell) for row in rows for cell in row[1:])
    if width < 2 or len(rows) < 2 or not has_figure:
        return "\n".join(dict.fromkeys(cell for row in rows for cell in row if cell))
    return "\n".join("| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows)
