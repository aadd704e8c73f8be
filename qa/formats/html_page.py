"""HTML pages (.html, .htm): the visible text — headings, paragraphs, list items and table cells in order —
decoded by the page's declared charset or as plain text is. Layout tables become lines, data tables markdown rows."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from qa.errors import InputFileError
from qa.formats import CJK
from qa.formats.grid import FIGURE_CELL, cell_text, table_markdown
from qa.formats.text import decode_text

if TYPE_CHECKING:  # BeautifulSoup is imported only when a page is read
    from bs4 import Tag

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "title", "svg", "math", "iframe", "object", "embed", "canvas", "select"}
)
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h3", "h4", "h5", "h6", "header", "hr",
        "html", "li", "main", "nav", "ol", "p", "section", "summary", "ul", "table", "thead", "tbody", "tfoot",
        "tr", "td", "th",
    }
)
_LAYOUT_MARKERS = ("p", "div", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote")
_BREAK = "\u2028"  # stands for <br> while source whitespace is being collapsed
_SOURCE_WRAP = re.compile(f"(?<=[{CJK}])[ \\t\\r\\n\\f]*\\n[ \\t\\r\\n\\f]*(?=[{CJK}])")


def read_html(data: bytes, name: str) -> str:
    """Visible text of an HTML page: headings, paragraphs, list items and table cells in order."""
    from bs4 import BeautifulSoup

    match = _META_CHARSET.search(data[:4096])
    declared = match.group(1).decode("ascii", "replace") if match else None
    markup = decode_text(data, name, declared)
    try:
        soup = BeautifulSoup(markup, "lxml")
        blocks = _html_blocks(soup)
    except Exception:  # noqa: BLE001 - the parsers raise many types on hostile markup
        raise InputFileError(
            name, "the HTML page could not be parsed — save the page again, or save its text as .txt.",
            code="html_unparseable"
        ) from None
    text = "\n\n".join(blocks)
    if not text.strip():
        raise InputFileError(
            name,
            "the HTML page has no visible text (it may be filled in by JavaScript) — open it in a browser and save "
            "the text as .txt instead.", code="html_no_text"
        )
    return text


def _html_blocks(root: Tag) -> list[str]:
    """Walk the tree without recursion (deep pages must not crash us), one block per block element."""
    from bs4 import NavigableString, Tag

    blocks: list[str] = []
    inline: list[str] = []

    def flush() -> None:
        text = _collapse(inline)
        inline.clear()
        if text:
            blocks.append(text)

    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            flush()
            continue
        if type(node) is NavigableString:  # subclasses are comments, CDATA, doctypes, script text
            inline.append(str(node))
            continue
        if not isinstance(node, Tag):
            continue
        tag = (node.name or "").lower()
        if tag in _SKIP_TAGS:
            continue
        if tag == "br":
            inline.append(_BREAK)
            continue
        if tag in ("h1", "h2"):
            flush()
            heading = " ".join(_collapse(_html_strings(node)).split())
            if heading:
                blocks.append(("# " if tag == "h1" else "## ") + heading)
            continue
        if tag == "table" and not _is_layout_table(node):
            flush()
            table = _html_table(node)
            if table:
                blocks.append(table)
            continue
        if tag == "pre":
            flush()
            pre = "".join(_html_strings(node)).replace(_BREAK, "\n").strip("\n")
            if pre.strip():
                blocks.append(pre)
            continue
        if tag in _BLOCK_TAGS:
            flush()
            stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return blocks


def _html_strings(node: Tag) -> list[str]:
    """The visible text pieces under a node, in order, with block boundaries as breaks."""
    from bs4 import NavigableString, Tag

    pieces: list[str] = []
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if type(item) is NavigableString:
            pieces.append(str(item))
        elif isinstance(item, Tag):
            tag = (item.name or "").lower()
            if tag in _SKIP_TAGS:
                continue
            if tag == "br" or (tag in _BLOCK_TAGS and item is not node):
                pieces.append(_BREAK)
            stack.extend(reversed(item.contents))
    return pieces


def _collapse(pieces: list[str]) -> str:
    """Collapse source whitespace like a browser; a source line break between Chinese characters vanishes."""
    text = _SOURCE_WRAP.sub("", "".join(pieces))
    lines = (" ".join(part.split()) for part in text.split(_BREAK))
    return "\n".join(line for line in lines if line)


def _is_layout_table(table: Tag) -> bool:
    """True for a table used for page layout (cells holding articles or other tables), not for data."""
    if table.find("table") is not None:
        return True
    cells = table.find_all(("td", "th"))
    if any(len(cell.get_text()) > 300 for cell in cells):
        return True
    # Word's HTML wraps each data cell in one <p>, and a header cell may wrap over a few; cells holding
    # several blocks in a table without a single figure hold page text, not data.
    blocky = any(len(cell.find_all(_LAYOUT_MARKERS)) > 1 for cell in cells)
    return blocky and not any(FIGURE_CELL.match(cell_text(cell.get_text())) for cell in cells)


def _html_table(table: Tag) -> str:
    """A data table as markdown rows, caption first; row and column spans are repeated in the cells they
    cover (a header spanning two columns names both)."""
    lines = []
    caption = table.find("caption")
    if caption is not None:
        lines.append(" ".join(_collapse(_html_strings(caption)).split()))
    grid: list[list[str]] = []
    pending: dict[int, tuple[int, str]] = {}  # column → (rows still covered, text) from a rowspan above
    for row in table.find_all("tr"):
        cells: list[str] = []
        column = 0

        def fill_pending() -> None:
            nonlocal column
            while column in pending:
                left, text = pending[column]
                cells.append(text)
                if left <= 1:
                    del pending[column]
                else:
                    pending[column] = (left - 1, text)
                column += 1

        for cell in row.find_all(("td", "th"), recursive=False):
            fill_pending()
            text = _collapse(_html_strings(cell)).replace("\n", " ")
            span = _span(cell.get("colspan"))
            down = _span(cell.get("rowspan"))
            for _ in range(span):
                cells.append(text)
                if down > 1:
                    pending[column] = (down - 1, text)
                column += 1
        fill_pending()
        grid.append(cells)
    body = table_markdown(grid)
    return "\n".join(line for line in [*lines, body] if line)


def _span(value: object) -> int:
    """A colspan/rowspan attribute as a small positive int (hostile or broken values count as 1)."""
    try:
        return max(1, min(int(str(value).strip()), 50))
    except (TypeError, ValueError):
        return 1
